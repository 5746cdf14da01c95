"""Live analytics over the local stack: an earn reaches GET .../analytics through the table's stream once the
stack has drained (POST /drain waits for the stream consumer too)."""
from datetime import datetime, timezone

from laurel_http import new_tenant


def test_an_earn_shows_up_in_analytics_after_drain(http, stack):
    # Given a program and a purchase worth 420 points by a new member
    tenant = new_tenant(http, stack.root_key)
    path, admin = tenant["path"], tenant["admin"]
    earned = http.call("POST", f"{path}/events", admin,
                       {"id": "an-1", "type": "purchase", "member": "ana", "properties": {"amount": 42000}})
    assert earned.status == 201, earned
    # When the stack has drained its queues and streams
    assert stack.drain()
    # Then one call answers how many points were issued today, to how many members
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    answer = http.call("GET", f"{path}/analytics?from={today}&to={today}", admin)
    assert answer.status == 200, answer
    totals = answer.body["totals"]
    assert (totals["issued"], totals["issued_rules"], totals["enrolled"], totals["active_members"]) == (420, 420, 1, 1)
    assert answer.body["series"] == [{"period": today, **totals}]
