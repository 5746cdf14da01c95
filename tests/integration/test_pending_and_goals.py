"""Pending points (a rule's return window) and goal rules, through the public API, the partner queue and the
scheduled job: held, released once on schedule, removed by a return during the window, paid once per period."""
import os
import uuid
from datetime import timedelta

from test_partner_events import FUNCTION, send

from chalicelib.core import clock, db
from chalicelib.members import expiry

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
PER_EURO = {"property": "amount", "every": 100, "points": 1}


def make_program(api, rules, **settings):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Gym {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    status, program = api.call("POST", "/v1/programs", admin, {"name": "Gym", "earn_rules": rules, **settings})
    assert status == 201, program
    return {"org_id": org["id"], "id": program["id"], "admin": admin, "path": f"/v1/programs/{program['id']}"}


def event(api, program, event_id, kind, member="ann", occurred_at=None, **properties):
    body = {"id": event_id, "type": kind, "member": member, "properties": properties}
    if occurred_at:
        body["occurred_at"] = occurred_at
    return api.call("POST", f"{program['path']}/events", program["admin"], body)


def balance(api, program, member="ann"):
    return api.call("GET", f"{program['path']}/members/{member}/balance", program["admin"])[1]


def books_balance(api, program, member="ann"):
    """The sum of the member's transactions equals available + pending (the contract's invariant)."""
    items = api.call("GET", f"{program['path']}/members/{member}/transactions?limit=100",
                     program["admin"])[1]["items"]
    now = balance(api, program, member)
    assert sum(t["points"] for t in items) == now["available"] + now["pending"]
    return now, items


def run_due_job(at):
    """The hourly job at `at`, as if its last run was the day before (other tests run it in the far future)."""
    db.JobStateItem(*db.JobStateItem.key("points_expiry"), last_day=clock.day(at - timedelta(days=1))).save()
    return expiry.expire_points(at)


def test_pending_points_are_held_then_released_once_on_schedule(stack, api):
    # Given purchases held for a 14-day return window, expiring 30 days after they become available
    program = make_program(api, [{"event_type": "purchase", "points_per": PER_EURO, "pending_days": 14}],
                           points_expiry_days=30, tiers=[{"name": "Silver", "min_points": 100}])
    # When a purchase of 120.00 is recorded
    status, earned = event(api, program, "order-1", "purchase", amount=12000)
    # Then its 120 points are pending, with the day they become available, and count toward nothing yet
    earn = earned["transactions"][0]
    assert status == 201 and earned["points"] == 120
    now = clock.now()
    assert earn["available_at"] == clock.expiry(now, 14)
    assert earn["expires_at"] == clock.expiry(now, 44)
    held, _ = books_balance(api, program)
    assert (held["available"], held["pending"], held["lifetime_earned"], held["tier"]) == (0, 120, 0, None)
    assert held["pending_releases"] == [{"points": 120, "available_at": earn["available_at"]}]
    member = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ann"))
    assert member.gsi2pk.startswith(f"DUE#{earn['available_at'][:10]}#")  # the job will find it that day
    # When the scheduled job runs the day before, then twice once the window has closed
    release = clock.parse(earn["available_at"])
    assert expiry.expire_member(db.MemberItem.key(program["id"], "ann"), release - timedelta(days=1)) == 0
    assert balance(api, program)["pending"] == 120
    run_due_job(release + timedelta(minutes=1))
    run_due_job(release + timedelta(minutes=2))
    # Then the points are available once, count toward the tier, and carry their expiry
    after, items = books_balance(api, program)
    assert (after["available"], after["pending"], after["lifetime_earned"]) == (120, 0, 120)
    assert "pending_releases" not in after
    assert after["expiring"] == [{"points": 120, "expires_at": earn["expires_at"]}]
    assert [t["kind"] for t in items] == ["earn"]  # a release moves points, it adds no transaction
    member = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ann"))
    assert member.gsi2pk.startswith(f"DUE#{earn['expires_at'][:10]}#")  # next: the expiry


def test_a_return_during_the_window_removes_the_pending_points_and_after_it_takes_them_back(stack, api):
    # Given two held purchases in a program with clawback
    program = make_program(api, [{"event_type": "purchase", "points_per": PER_EURO, "pending_days": 30}],
                           clawback={"event_types": ["return"]})
    event(api, program, "order-1", "purchase", amount=10000)
    event(api, program, "order-2", "purchase", amount=5000)
    # When a quarter of the first is returned within the window (delivered twice)
    first = event(api, program, "return-1", "return", reverses="order-1", amount=2500)
    again = event(api, program, "return-1", "return", reverses="order-1", amount=2500)
    # Then 25 pending points are gone, linked to the purchase; nothing available was touched
    assert first[1]["points"] == -25 and again == (200, first[1])
    assert first[1]["transactions"][0]["reverses"] == "order-1"
    now, _ = books_balance(api, program)
    assert (now["available"], now["pending"], now["debt"]) == (0, 125, 0)
    # When the window closes, and the second order is then returned in full
    run_due_job(clock.parse(clock.expiry(clock.now(), 30)) + timedelta(minutes=1))
    late = event(api, program, "return-2", "return", reverses="order-2")
    # Then 75 + 50 were released, and the late return took its 50 from the available points
    assert late[1]["points"] == -50
    after, items = books_balance(api, program)
    assert (after["available"], after["pending"], after["lifetime_earned"]) == (75, 0, 75)
    assert [t["kind"] for t in items] == ["reverse", "reverse", "earn", "earn"]


def test_released_points_pay_debt_first(stack, api):
    # Given a member in debt (a program that allows it) with a held purchase
    program = make_program(api, [{"event_type": "purchase", "points_per": PER_EURO},
                                 {"event_type": "big", "points": 100, "pending_days": 7}],
                           clawback={"event_types": ["refund"], "allow_debt": True})
    event(api, program, "order-1", "purchase", amount=4000)
    api.call("POST", f"{program['path']}/members/ann/adjustments", program["admin"], {"points": -40, "reason": "x"},
             {"Idempotency-Key": "spend"})
    event(api, program, "refund-1", "refund", reverses="order-1")
    status, held = event(api, program, "big-1", "big")
    assert balance(api, program)["debt"] == 40 and balance(api, program)["pending"] == 100
    # When the hold is released by the job
    run_due_job(clock.parse(held["transactions"][0]["available_at"]) + timedelta(minutes=1))
    # Then the debt was settled from it with its own entry, and the books still add up
    after, items = books_balance(api, program)
    assert (after["available"], after["pending"], after["debt"]) == (60, 0, 0)
    assert items[0]["kind"] == "reverse" and items[0]["points"] == -40


def test_a_goal_pays_once_per_week_through_the_api_and_the_queue(stack, api):
    # Given "5 workouts in a week" worth 200, and a partner key for the gym's devices
    program = make_program(api, [{"id": "five", "event_type": "workout", "points": 200,
                                  "goal": {"period": "week", "count": 5}},
                                 {"event_type": "workout", "points": 1}])
    status, key = api.call("POST", "/v1/api-keys", program["admin"], {"name": "gym", "role": "partner"})
    partner = {**program, "key_id": key["id"], "secret": key["secret"]}
    monday = (clock.now() - timedelta(days=clock.now().weekday() + 7)).replace(hour=9)  # last week's Monday
    times = [clock.iso(monday + timedelta(days=day)) for day in range(7)]
    # When last week's workouts arrive: three over HTTP, four through the queue (one of them twice)
    answers = [event(api, program, f"w{n}", "workout", occurred_at=times[n])[1]["points"] for n in range(3)]
    for n in (3, 4, 5, 6, 6):
        send(stack, partner, {"id": f"w{n}", "type": "workout", "member": "ann", "occurred_at": times[n]})
    stack.pump(FUNCTION)
    # Then the fifth workout paid the goal once, the duplicate counted nothing, every workout its 1 point
    assert answers == [1, 1, 1]
    now, items = books_balance(api, program)
    assert now["available"] == 7 + 200
    assert sorted(t["points"] for t in items) == [1] * 6 + [201]
    # And a workout this week starts the count afresh
    assert event(api, program, "w7", "workout")[1]["points"] == 1
