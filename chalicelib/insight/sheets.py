"""The insight reports as sheets (`?format=csv`): a row per period or month, then the totals."""
from chalicelib.core import spreadsheets


def analytics_csv(answer: dict) -> str:
    """A row per period with every count the answer gives, then the range's totals."""
    names = [name for name in answer["series"][0] if name != "period"] if answer["series"] else []
    rows = [["period", *names]]
    rows += [[row["period"], *(_flat(row[name]) for name in names)] for row in answer["series"]]
    rows.append(["total", *(_flat(answer["totals"].get(name)) for name in names)])
    return spreadsheets.table(rows)


def _flat(value):
    """A nested count (by reward, by tier...) as name=value pairs in one cell."""
    if isinstance(value, dict):
        return "; ".join(f"{key}={_flat(inner)}" for key, inner in value.items())
    if isinstance(value, list):
        return "; ".join(str(_flat(inner)) for inner in value)
    return value


def liability_csv(answer: dict) -> str:
    """The month ends with their cohorts, then the totals, as one sheet."""
    rows = [["month", "issued", "redeemed", "expired", "outstanding_points", "gross_liability", "cohort_redeemed",
             "cohort_expired", "cohort_outstanding", "cohort_ultimate_redemption_rate"]]
    rows += [[row["month"], row["issued"], row["redeemed"], row["expired"], row["outstanding_points"],
              row["gross_liability"], row["cohort"]["redeemed"], row["cohort"]["expired"], row["cohort"]["outstanding"],
              row["cohort"]["ultimate_redemption_rate"]] for row in answer["months"]]
    rows += [[]] + [[name, answer[name]] for name in (
        "as_of", "outstanding_points", "expected_to_redeem", "breakage_rate", "ultimate_redemption_rate",
        "point_value", "currency", "point_value_source", "liability", "gross_liability")]
    return spreadsheets.table(rows)
