"""Finance reports through the stream: the liability in points and money (from the catalog's value or the
caller's), the breakage method shown, CSV of each report, a member's statement and its predictions."""
import csv
import io

import pytest
from given import enrol
from test_analytics import catch_up

from chalicelib.core import clock

pytestmark = pytest.mark.usefixtures("fresh_stream")  # each test reads its own records of the stream


def _sheet(response_body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response_body)))


def _get(api, path: str, key: str):
    response = api.client.http.get(path, headers={"Authorization": f"Bearer {key}"})
    return response.status_code, response.headers, response.body.decode()


def _shop(api, program) -> str:
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "cashback", "name": "5 back", "cost": 1_000,
                               "value": {"amount": 500, "currency": "EUR"}})
    assert status == 201, reward
    return reward["id"]


def test_the_liability_is_what_members_hold_valued_at_the_catalogs_point(stack, api, program):
    # Given three members holding points, one of whom redeemed 1,000 of them
    reward_id = _shop(api, program)
    for member, points in (("ann", 3_000), ("bob", 1_500), ("cy", 700)):
        enrol(api, program, member, points=points, key=f"welcome-{member}")
    status, _ = api.call("POST", f"{program['path']}/members/ann/redemptions", program["admin"],
                         {"reward_id": reward_id, "quantity": 1}, {"Idempotency-Key": "r-1"})
    assert status in (201, 202)
    catch_up(stack)
    # When finance asks what the program owes
    status, owed = api.call("GET", f"{program['path']}/liability", program["admin"])
    assert status == 200, owed
    held = sum(api.call("GET", f"{program['path']}/members/{m}/balance", program["admin"])[1]["available"]
               for m in ("ann", "bob", "cy"))
    # Then it owes what members hold, valued at the catalog's 0.5 cent a point; with no point ever expired the
    # history expects every point to be redeemed, so no breakage is recognised yet
    assert owed["outstanding_points"] == held == 4_200
    assert (owed["point_value"], owed["currency"]) == ("0.5", "EUR") and "catalog" in owed["point_value_source"]
    assert owed["breakage_rate"] == 0.0 and owed["expected_to_redeem"] == 4_200
    assert owed["liability"] == owed["gross_liability"] == 2_100
    month = clock.day(clock.now())[:7]
    assert owed["months"][-1]["month"] == month and owed["months"][-1]["outstanding_points"] == 4_200
    assert owed["months"][-1]["issued"] == 5_200 and owed["months"][-1]["redeemed"] == 1_000
    assert "IFRS 15" in owed["method"]["description"]

    # And a value the caller sets prices it instead; a value that is not one is refused with how to send it
    status, priced = api.call("GET", f"{program['path']}/liability?point_value=1.25&currency=USD", program["admin"])
    assert status == 200 and (priced["liability"], priced["currency"]) == (5_250, "USD")
    for query, field in (("point_value=abc&currency=USD", "point_value"), ("point_value=1", "currency"),
                         ("point_value=NaN&currency=USD", "point_value"), ("format=xlsx", "format")):
        status, error = api.call("GET", f"{program['path']}/liability?{query}", program["admin"])
        assert status == 400 and error["error"]["details"]["field"] == field, (query, error)

    # And the same report is a sheet
    status, headers, body = _get(api, f"{program['path']}/liability?format=csv", program["admin"])
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = _sheet(body)
    assert rows[0][:5] == ["month", "issued", "redeemed", "expired", "outstanding_points"]
    assert rows[1][:5] == [month, "5200", "1000", "0", "4200"]
    assert ["liability", "2100"] in rows


def test_analytics_as_a_sheet_has_a_row_per_day_and_the_totals(stack, api, program):
    enrol(api, program, "ann", points=300)
    catch_up(stack)
    day = clock.day(clock.now())
    status, headers, body = _get(api, f"{program['path']}/analytics?from={day}&to={day}&format=csv", program["admin"])
    assert status == 200 and 'filename="analytics.csv"' in headers["Content-Disposition"]
    rows = _sheet(body)
    assert rows[0][0] == "period" and "issued" in rows[0] and [r[0] for r in rows[1:]] == [day, "total"]
    assert rows[1][rows[0].index("issued")] == rows[2][rows[0].index("issued")] == "300"


def test_a_members_statement_lists_every_entry_oldest_first_and_only_to_whom_it_belongs(stack, api, program):
    enrol(api, program, "ann", points=300)
    for n, reason in enumerate(("bonus", "=HYPERLINK(\"http://x\")", "+1 for effort")):
        status, _ = api.call("POST", f"{program['path']}/members/ann/adjustments", program["admin"],
                             {"points": 10 + n, "reason": reason}, {"Idempotency-Key": f"b-{n}"})
        assert status == 201
    status, headers, body = _get(api, f"{program['path']}/members/ann/statement", program["admin"])
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = _sheet(body)
    assert rows[0][:5] == ["created_at", "id", "kind", "points", "balance_after"]
    assert [row[3] for row in rows[1:]] == ["300", "10", "11", "12"] and rows[-1][4] == "333"
    # a reason a spreadsheet would run as a formula is written as text
    assert [row[5] for row in rows[2:]] == ["bonus", "'=HYPERLINK(\"http://x\")", "'+1 for effort"]
    today = clock.day(clock.now())
    status, _, body = _get(api, f"{program['path']}/members/ann/statement?from=2000-01-01&to=2000-12-31",
                           program["admin"])
    assert status == 200 and len(_sheet(body)) == 1
    status, _, body = _get(api, f"{program['path']}/members/ann/statement?from={today}", program["admin"])
    assert len(_sheet(body)) == 5
    status, _, _ = _get(api, f"{program['path']}/members/ann/statement?from=yesterday", program["admin"])
    assert status == 400
    status, _, _ = _get(api, f"{program['path']}/members/nobody/statement", program["admin"])
    assert status == 404


def test_a_members_predictions_show_its_activity_until_the_program_has_a_model(stack, api, program):
    status, _ = api.call("POST", f"{program['path']}/events", program["admin"],
                         {"id": "p-1", "type": "purchase", "member": "ann", "properties": {"amount": 1000}})
    assert status == 201
    catch_up(stack)
    status, seen = api.call("GET", f"{program['path']}/members/ann/predictions", program["admin"])
    assert status == 200, seen
    today = clock.day(clock.now())
    assert seen["activity"] == {"first_active_day": today, "last_active_day": today, "repeat_active_days": 0}
    assert seen["model"] is None and seen["churn_risk"] is None
    assert api.call("GET", f"{program['path']}/members/nobody/predictions", program["admin"])[0] == 404
