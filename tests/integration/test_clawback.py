"""Refunds and cancellations take back what their purchase earned: once, in proportion, available first."""
import os
import uuid

import pytest

from chalicelib.core import clock, db
from chalicelib.members import tier_review

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def make_program(api, allow_debt=False):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Shop {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    status, program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "earn_rules": [{"event_type": "purchase",
                                        "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "tiers": [{"name": "Silver", "min_points": 100, "multiplier": 1.0}],
        "clawback": {"event_types": ["refund", "cancel"], "allow_debt": allow_debt}})
    assert status == 201 and program["clawback"]["event_types"] == ["refund", "cancel"]
    return {"admin": admin, "path": f"/v1/programs/{program['id']}"}


def event(api, program, event_id, kind, member="ann", **properties):
    return api.call("POST", f"{program['path']}/events", program["admin"],
                    {"id": event_id, "type": kind, "member": member, "properties": properties})


def balance(api, program, member="ann"):
    return api.call("GET", f"{program['path']}/members/{member}/balance", program["admin"])[1]


def ledger_sum(api, program, member="ann"):
    items = api.call("GET", f"{program['path']}/members/{member}/transactions?limit=100", program["admin"])[1]["items"]
    return sum(t["points"] for t in items), items


def test_a_partial_refund_takes_back_its_share_and_never_more_than_was_earned(stack, api):
    # Given a purchase of 100.00 that earned 100 points (and Silver)
    program = make_program(api)
    assert event(api, program, "order-1", "purchase", amount=10000)[1]["points"] == 100
    assert balance(api, program)["tier"] == "Silver"
    # When a quarter is refunded, the refund is delivered twice, then the rest is cancelled twice over
    quarter = event(api, program, "refund-1", "refund", reverses="order-1", amount=2500)
    again = event(api, program, "refund-1", "refund", reverses="order-1", amount=2500)
    rest = event(api, program, "cancel-1", "cancel", reverses="order-1")
    nothing_left = event(api, program, "cancel-2", "cancel", reverses="order-1")
    # Then 25, then the remaining 75 came back, each linked to the purchase, and nothing more
    assert quarter[1]["points"] == -25 and again == (200, quarter[1])
    assert quarter[1]["transactions"][0]["reverses"] == "order-1"
    assert rest[1]["points"] == -75 and nothing_left[1]["points"] == 0
    after = balance(api, program)
    assert (after["available"], after["lifetime_earned"]) == (0, 0)
    # And the tier it no longer earns goes on the scheduled recalculation (no grace in this program)
    assert after["tier"] == "Silver" and after["tier_progress"]["downgrade_from"] == clock.day(clock.now())
    tier_review.recalculate_member(db.MemberItem.key(program["path"].rsplit("/", 1)[1], "ann"), clock.now())
    assert balance(api, program)["tier"] is None
    total, items = ledger_sum(api, program)
    assert total == after["available"] + after["pending"]
    assert [t["kind"] for t in items] == ["reverse", "reverse", "earn"]


def test_without_debt_a_reversal_is_capped_at_what_is_available(stack, api):
    # Given 100 points earned, of which 80 were spent by an adjustment
    program = make_program(api)
    event(api, program, "order-1", "purchase", amount=10000)
    api.call("POST", f"{program['path']}/members/ann/adjustments", program["admin"], {"points": -80, "reason": "x"},
             {"Idempotency-Key": "spend"})
    # When the purchase is refunded in full
    refund = event(api, program, "refund-1", "refund", reverses="order-1")
    # Then only the 20 available come back; the rest is forgiven, no balance goes negative
    assert refund[1]["points"] == -20
    after = balance(api, program)
    assert (after["available"], after["debt"]) == (0, 0)


def test_with_debt_the_uncovered_part_is_paid_from_the_next_points(stack, api):
    # Given a program that allows debt, and a member who spent 80 of the 100 points a purchase earned
    program = make_program(api, allow_debt=True)
    event(api, program, "order-1", "purchase", amount=10000)
    api.call("POST", f"{program['path']}/members/ann/adjustments", program["admin"], {"points": -80, "reason": "x"},
             {"Idempotency-Key": "spend"})
    # When the purchase is refunded, then the member earns 50 more
    refund = event(api, program, "refund-1", "refund", reverses="order-1")
    next_purchase = event(api, program, "order-2", "purchase", amount=5000)
    # Then 20 were taken at once and 80 became debt; the next 50 points went to the debt first
    assert refund[1]["points"] == -20 and refund[1]["balance"]["debt"] == 80
    kinds = [(t["kind"], t["points"]) for t in next_purchase[1]["transactions"]]
    assert kinds == [("earn", 50), ("reverse", -50)]
    after = balance(api, program)
    assert (after["available"], after["debt"]) == (0, 30)
    total, _ = ledger_sum(api, program)
    assert total == after["available"] + after["pending"] == 0


@pytest.mark.parametrize("properties, status", [({}, 400), ({"reverses": "no-such-order"}, 404)])
def test_a_refund_must_name_an_earn_of_the_same_member(stack, api, properties, status):
    program = make_program(api)
    event(api, program, "order-1", "purchase", member="bob", amount=10000)
    reply = event(api, program, "refund-x", "refund", member="ann", **properties)
    assert reply[0] == status
    assert event(api, program, "refund-y", "refund", member="ann", reverses="order-1")[0] == 404  # bob's order


def test_a_refund_sent_under_its_purchases_own_id_is_a_conflict(stack, api):
    # Given a recorded purchase
    program = make_program(api)
    assert event(api, program, "order-1", "purchase", amount=10000)[0] == 201
    # When its refund arrives under the purchase's own id (the event id is the idempotency key)
    status, answer = event(api, program, "order-1", "refund", reverses="order-1")
    # Then it is refused at once as a reuse of the key, and takes nothing back
    assert (status, answer["error"]["code"]) == (409, "idempotency_conflict"), answer
    assert balance(api, program)["available"] == 100


@pytest.mark.parametrize("field, refunded, taken", [("amount", 1e308, 100), ("refunded_total", 1e308, 100),
                                                    ("amount", -1e308, 0)])
def test_a_refund_of_an_amount_past_any_float_share_is_all_or_nothing(stack, api, field, refunded, taken):
    # Given a purchase of 100.00 that earned 100 points
    program = make_program(api)
    event(api, program, "order-1", "purchase", amount=10000)
    # When a refund names an amount whose share of the points is beyond any float
    status, refund = event(api, program, "refund-1", "refund", reverses="order-1", **{field: refunded})
    # Then it takes back all that is left (or nothing, for a negative amount), not a 500
    assert (status, refund["points"]) == (201, -taken), refund


@pytest.mark.parametrize("amount", [1e200, 1234567890123456789012345678901234567890])
def test_a_purchase_amount_the_database_cannot_hold_earns_and_its_refund_takes_all_that_is_left(stack, api, amount):
    # Given a purchase whose amount DynamoDB cannot store (past 1e126, or more than 38 significant digits), so it
    # cannot be kept to measure refunds by
    program = make_program(api)
    status, purchase = event(api, program, "order-1", "purchase", amount=amount)
    # Then it earns at once, not after seconds of retrying a write the database refuses (503)
    assert status == 201 and purchase["points"] > 0, purchase
    # And a partial refund of it, having no amount to measure by, takes back all that is left
    assert event(api, program, "refund-1", "refund", reverses="order-1", amount=1)[1]["points"] == -purchase["points"]
