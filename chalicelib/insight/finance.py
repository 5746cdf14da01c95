"""The finance report: what a program owes in points and money, now and at each month end, and its breakage.

It reads the program, its daily aggregates since it began (one Query: a day's item per day, whatever the
members or events) and, unless the caller sets a point's value, the catalog's active rewards. The method
and every input it used are in the answer (insight/liability.py says how breakage is estimated), and the
same report is a CSV for a spreadsheet (insight/sheets.py).
"""
from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.errors import ValidationFailed
from chalicelib.insight import aggregates
from chalicelib.insight.liability import MonthFlow, Report, report
from chalicelib.members import programs

METHOD = ("Cohorts by month of issue, redemptions and expiries taking the oldest points first; the share of "
          "settled cohorts' outstanding points that ended redeemed, by age, projects each open cohort to its "
          "ultimate redemption rate; breakage = 1 - the issue-weighted ultimate rate; the liability is the points "
          "expected to be redeemed at the value of a point (IFRS 15 / ASC 606).")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_POINT_VALUE = Decimal("1000000")  # minor units per point


def liability(org_id: str, program_id: str, query: dict) -> dict:
    program = programs.load(org_id, program_id)
    value, currency, source = _point_value(program, query)
    flows = monthly_flows(program_id, program.created_at[:10], clock.day(clock.now()))
    result = report(flows, value or Decimal(0))
    return _answer(program_id, result, value, currency, source, flows)


def monthly_flows(program_id: str, first_day: str, last_day: str) -> list[MonthFlow]:
    """The program's points by month, from its daily aggregates: issued net of reversals and manual
    deductions, redeemed net of refunds, expired."""
    months: dict[str, Counter] = defaultdict(Counter)
    for item in aggregates.read(program_id, first_day, last_day):
        month = item.sk[2:9]
        for name in ("issued", "reversed", "adjusted_down", "redeemed", "refunded", "expired"):
            months[month][name] += int(getattr(item, name) or 0)
    return [MonthFlow(month, c["issued"] - c["reversed"] - c["adjusted_down"], c["redeemed"] - c["refunded"],
                      c["expired"]) for month, c in sorted(months.items())]


def _point_value(program: db.ProgramItem, query: dict) -> tuple[Optional[Decimal], Optional[str], str]:
    """A point's value in minor units (cents): the caller's (`point_value`, `currency`), else the catalog's, else unknown."""
    if "point_value" in query or "currency" in query:
        currency = query.get("currency", "")
        if not _CURRENCY.fullmatch(currency):
            raise ValidationFailed("currency is an ISO 4217 code such as USD, and goes with point_value.",
                                   {"field": "currency"})
        try:
            value = Decimal(query.get("point_value", ""))
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or not 0 <= value <= MAX_POINT_VALUE:
            raise ValidationFailed("point_value is a point's value in minor units of the currency (cents), e.g. 0.5.",
                                   {"field": "point_value"})
        return value, currency, "set by the caller"
    return _catalog_value(program.program_id)


def _catalog_value(program_id: str) -> tuple[Optional[Decimal], Optional[str], str]:
    """The median value per point of the active rewards that carry a money value, in their commonest currency."""
    per_currency: dict[str, list[Decimal]] = defaultdict(list)
    for reward in db.RewardItem.query(f"PRG#{program_id}", db.RewardItem.sk.startswith("RWD#")):
        worth = reward.value or {}
        if reward.active and reward.cost and worth.get("amount") and worth.get("currency"):
            per_currency[worth["currency"]].append(Decimal(int(worth["amount"])) / Decimal(int(reward.cost)))
    if not per_currency:
        return None, None, "unknown: no active reward has a money value; set point_value and currency"
    currency = max(per_currency, key=lambda code: len(per_currency[code]))
    value = statistics.median(per_currency[currency]).quantize(Decimal("0.000001"))
    return value, currency, f"the catalog: median value per point of {len(per_currency[currency])} active reward(s) in {currency}"


def _answer(program_id: str, result: Report, value: Optional[Decimal], currency: Optional[str], source: str,
            flows: list[MonthFlow]) -> dict:
    by_month = {flow.month: flow for flow in flows}
    cohorts = {cohort.month: cohort for cohort in result.cohorts}

    def money(amount: int) -> Optional[int]:
        return amount if value is not None else None

    months = []
    for month, outstanding in result.outstanding_by_month_end.items():
        flow, cohort = by_month.get(month, MonthFlow(month, 0, 0, 0)), cohorts[month]
        months.append({
            "month": month, "issued": flow.issued, "redeemed": flow.redeemed, "expired": flow.expired,
            "outstanding_points": outstanding,
            "gross_liability": money(int((outstanding * (value or Decimal(0))).to_integral_value())),
            "cohort": {"issued": cohort.issued, "redeemed": cohort.redeemed, "expired": cohort.expired,
                       "outstanding": cohort.outstanding,
                       "ultimate_redemption_rate": round(result.ultimate_by_cohort[month], 4)},
        })
    return {
        "program_id": program_id, "as_of": clock.day(clock.now()),
        "outstanding_points": result.outstanding, "expected_to_redeem": result.expected_to_redeem,
        "ultimate_redemption_rate": round(result.ultimate_redemption_rate, 4),
        "breakage_rate": round(result.breakage_rate, 4),
        "point_value": format(value.normalize(), "f") if value is not None else None, "currency": currency, "point_value_source": source,
        "liability": money(result.liability), "gross_liability": money(result.gross_liability),
        "method": {"description": METHOD,
                   "redeemed_share_by_age": [None if share is None else round(share, 4)
                                             for share in result.redeemed_share_by_age]},
        "months": months,
    }
