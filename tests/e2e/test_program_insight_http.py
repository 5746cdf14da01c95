"""The questions a program manager could not answer (issue 14's first paragraph), each one call over the local
stack: who is in a team, who has the most points, what was issued and redeemed this month, who has this email,
what the program owes. Members come from PUTs and from an event that enrolled a mistyped id."""
from datetime import datetime, timezone

from laurel_http import new_tenant

TEAMS = {"eng": ["ana", "ben", "cai"], "ops": ["dee", "eli"]}


def test_a_program_managers_questions_are_each_answered_by_one_call(http, stack):
    tenant = new_tenant(http, stack.root_key)
    path, admin = tenant["path"], tenant["admin"]
    # Given a recognition program's people, their teams and points, and one enrolled by a mistyped id
    points = {}
    for team, people in TEAMS.items():
        for n, person in enumerate(people):
            assert http.call("PUT", f"{path}/members/{person}", admin, {
                "name": person.title(), "email": f"{person.title()}@Example.com",
                "attributes": {"team": team}}).status == 201
            points[person] = 100 * (n + 1) + (50 if team == "ops" else 0)
            assert http.call("POST", f"{path}/members/{person}/adjustments", admin,
                             {"points": points[person], "reason": "kudos"},
                             headers={"Idempotency-Key": f"kudos-{person}"}).status == 201
    assert http.call("POST", f"{path}/events", admin, {"id": "typo-1", "type": "purchase", "member": "ana_",
                                                       "properties": {"amount": 2500}}).status == 201
    points["ana_"] = 25
    reward = http.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Lunch", "cost": 100,
                                                          "value": {"amount": 1000, "currency": "EUR"}})
    assert reward.status == 201, reward
    assert http.call("POST", f"{path}/members/cai/redemptions", admin, {"reward_id": reward.body["id"]},
                     headers={"Idempotency-Key": "lunch-cai"}).status in (201, 202)
    points["cai"] -= 100
    assert stack.drain()

    # Who is in the eng team?
    eng = http.call("GET", f"{path}/members?attribute=team:eng", admin)
    assert eng.status == 200, eng
    assert sorted(item["external_id"] for item in eng.body["items"]) == TEAMS["eng"]
    # Every member is listed, the one an event enrolled by a mistyped id too
    everyone = http.call("GET", f"{path}/members?limit=100", admin)
    assert {item["external_id"] for item in everyone.body["items"]} == set(points)

    # Who has the most points?
    top = http.call("GET", f"{path}/leaderboard?by=balance&limit=1", admin)
    assert top.status == 200, top
    assert [(p["external_id"], p["points"]) for p in top.body["items"]] == [max(points.items(), key=lambda i: i[1])]

    # How many points did we issue and redeem this month?
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    month = http.call("GET", f"{path}/analytics?from={today[:8]}01&to={today}", admin)
    assert month.status == 200, month
    issued = sum(points.values()) + 100
    assert (month.body["totals"]["issued"], month.body["totals"]["redeemed"]) == (issued, 100)

    # Find the member with this email (any case)
    found = http.call("GET", f"{path}/members?email=dee@EXAMPLE.com", admin)
    assert [item["external_id"] for item in found.body["items"]] == ["dee"]

    # What do we owe?
    owed = http.call("GET", f"{path}/liability?point_value=10&currency=EUR", admin)
    assert owed.status == 200, owed
    assert owed.body["outstanding_points"] == sum(points.values())
    assert owed.body["gross_liability"] == 10 * sum(points.values())
