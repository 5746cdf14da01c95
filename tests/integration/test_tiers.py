"""Tiers through the API and the scheduled recalculation: up at once with a bonus, down after the grace by
policy, benefits applied to earning, history, progress, other measures, and two runs at once changing once."""
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from unittest import mock

import boto3
from test_webhooks import register

from chalicelib.core import clock, db
from chalicelib.members import tier_review
from chalicelib.rewards import recovery
from chalicelib.webhooks import events

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
ADDRESS = {"name": "Gold", "line1": "1 Main St", "city": "Turin", "postal_code": "10100", "country": "IT"}
PER_EURO = {"property": "amount", "every": 100, "points": 1}
LADDER = [{"name": "Silver", "min_points": 1000, "multiplier": 1.5, "bonus_points": 50},
          {"name": "Gold", "min_points": 5000, "multiplier": 2.0, "bonus_points": 200}]


def make_program(api, policy=None, tiers=LADDER, rules=None):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Club {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    body = {"name": "Club", "earn_rules": rules or [{"event_type": "purchase", "points_per": PER_EURO}],
            "tiers": tiers, "clawback": {"event_types": ["refund"]}}
    if policy:
        body["tier_policy"] = policy
    status, program = api.call("POST", "/v1/programs", admin, body)
    assert status == 201, program
    return {"id": program["id"], "admin": admin, "path": f"/v1/programs/{program['id']}"}


def buy(api, program, event_id, amount, member="ann", kind="purchase"):
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"],
                              {"id": event_id, "type": kind, "member": member, "properties": {"amount": amount}})
    assert status == 201, answer
    return answer


def refund(api, program, event_id, reverses, member="ann", **properties):
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"], {
        "id": event_id, "type": "refund", "member": member, "properties": {"reverses": reverses, **properties}})
    assert status == 201, answer
    return answer


def balance(api, program, member="ann"):
    return api.call("GET", f"{program['path']}/members/{member}/balance", program["admin"])[1]


def history(api, program, member="ann"):
    status, page = api.call("GET", f"{program['path']}/members/{member}/tier-history", program["admin"])
    assert status == 200
    return [(item["change"], item["from"], item["to"]) for item in page["items"]]


def recalculate(program, days, member="ann"):
    return tier_review.recalculate_member(db.MemberItem.key(program["id"], member), clock.now() + timedelta(days=days))


def test_an_upgrade_is_at_once_with_each_tier_bonus_once_and_history(stack, api):
    # Given a ladder with bonuses
    program = make_program(api)
    # When one purchase crosses Silver and Gold at once, and another follows
    first = buy(api, program, "o1", 600000)
    second = buy(api, program, "o2", 10000)
    # Then the member is Gold on that event, with both bonuses once; the next purchase earns Gold's double
    assert first["balance"]["tier"] == "Gold" and first["points"] == 6000
    assert second["points"] == 200
    items = api.call("GET", f"{program['path']}/members/ann/transactions", program["admin"])[1]["items"]
    bonuses = sorted((t["reason"], t["points"]) for t in items if (t.get("reason") or "").startswith("tier bonus"))
    assert bonuses == [("tier bonus: Gold", 200), ("tier bonus: Silver", 50)]
    now = balance(api, program)
    assert now["available"] == 6000 + 250 + 200 == sum(t["points"] for t in items)
    assert history(api, program) == [("up", None, "Gold")]
    assert now["tier_progress"]["next_tier"] is None and now["tier_progress"]["qualifying"] == 6200


def test_a_member_below_its_tier_keeps_it_and_its_benefits_through_the_grace(stack, api):
    # Given 30 days of grace, and a Gold member whose purchase is refunded (the measure falls to nothing)
    program = make_program(api, {"grace_days": 30})
    buy(api, program, "o1", 500000)
    refund(api, program, "r1", "o1")
    # When it buys again during the grace, and the scheduled run comes before and after the grace
    during = buy(api, program, "o2", 10000)
    assert recalculate(program, 29) is False
    progress = balance(api, program)["tier_progress"]
    # Then it kept Gold and its double points; the run after 30 days moves it to the level earned (none)
    assert during["points"] == 200 and balance(api, program)["tier"] == "Gold"
    assert progress["downgrade_from"] == clock.day(clock.now() + timedelta(days=30))
    assert recalculate(program, 30) is True
    assert balance(api, program)["tier"] is None
    assert history(api, program) == [("down", "Gold", None), ("up", None, "Gold")]


def test_one_step_downgrades_a_tier_per_grace_period(stack, api):
    # Given the one-step policy with 10 days of grace, and a Gold member who falls to nothing
    program = make_program(api, {"grace_days": 10, "downgrade": "one_step"})
    buy(api, program, "o1", 500000)
    refund(api, program, "r1", "o1")
    # When the scheduled run comes after 10 days, then after 20
    assert recalculate(program, 10) is True
    assert balance(api, program)["tier"] == "Silver"
    assert recalculate(program, 15) is False  # Silver's own grace started on day 10
    assert recalculate(program, 20) is True
    # Then Gold → Silver → none, each recorded
    assert history(api, program) == [("down", "Silver", None), ("down", "Gold", "Silver"), ("up", None, "Gold")]


def test_spend_and_event_count_measures(stack, api):
    # Given a program whose tiers count money spent on purchases, and one that counts visits
    tiers = [{"name": "Regular", "min_points": 3}, {"name": "VIP", "min_points": 100000}]
    spend = make_program(api, {"measure": "spend", "event_types": ["purchase"]}, tiers=tiers)
    visits = make_program(api, {"measure": "events", "event_types": ["visit"]}, tiers=tiers,
                          rules=[{"event_type": "visit", "points": 1}])
    # When the spender spends 1,000.00 in two purchases (refunding half of the second), the visitor visits 3 times
    buy(api, spend, "o1", 60000)
    buy(api, spend, "o2", 40000)
    assert balance(api, spend)["tier"] == "VIP"
    refund(api, spend, "r2", "o2", amount=20000)
    for n in range(3):
        buy(api, visits, f"v{n}", 0, kind="visit")
    # Then VIP is reached by spend (and the refund lowers the measure by the refunded share), Regular by visits
    progress = balance(api, spend)["tier_progress"]
    assert (progress["measure"], progress["qualifying"]) == ("spend", 80000)
    assert (balance(api, visits)["tier"], balance(api, visits)["tier_progress"]["qualifying"]) == ("Regular", 3)


def test_two_recalculations_at_once_change_the_member_once(stack, api):
    # Given a Gold member who fell below it with no grace
    program = make_program(api)
    buy(api, program, "o1", 500000)
    refund(api, program, "r1", "o1")
    # When two runs recalculate it at the same moment
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: recalculate(program, 1), range(2)))
    # Then exactly one changed it, and the history has one downgrade
    assert sorted(results) == [False, True]
    assert history(api, program) == [("down", "Gold", None), ("up", None, "Gold")]


def test_the_daily_job_finds_only_members_due_for_review(stack, api):
    # Given a member below Gold since today with 5 days of grace, and one comfortably in Silver
    program = make_program(api, {"grace_days": 5})
    buy(api, program, "o1", 500000)
    refund(api, program, "r1", "o1")
    buy(api, program, "o2", 200000, member="bob")
    member = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ann"))
    bob = db.get(db.MemberItem, db.MemberItem.key(program["id"], "bob"))
    # Then ann is indexed for review on the day its grace ends, bob on the day its points leave the window
    assert member.gsi3pk.startswith(f"TIER#{clock.day(clock.now() + timedelta(days=5))}#")
    assert bob.gsi3pk.startswith(f"TIER#{clock.day(clock.now() + timedelta(days=365))}#")


def test_new_tiers_sweep_every_member_through_parallel_segments_that_continue(stack, api):
    # Given members earning 300, 1,200 and 6,000 under the ladder
    program = make_program(api)
    for member, amount in (("ann", 30000), ("bob", 120000), ("cy", 600000)):
        buy(api, program, f"o-{member}", amount, member=member)
    # When the program's tiers change so 250 reach Bronze and Silver needs 2,000, and the sweep runs with
    # so little time per invocation that every page hands the rest on
    status, _ = api.call("PATCH", program["path"], program["admin"], {"tiers": [
        {"name": "Bronze", "min_points": 250}, {"name": "Silver", "min_points": 2000},
        {"name": "Gold", "min_points": 5000}]})
    items = boto3.client("dynamodb").scan(TableName=stack.env["LAUREL_TABLE"], Select="COUNT")["Count"]
    scan_page = max(2, items // 40)  # a few pages per segment, however full the shared table is
    with mock.patch.object(tier_review, "STOP_MARGIN_MS", 10**9), mock.patch.object(tier_review, "SCAN_PAGE", scan_page):
        handled = stack.pump("TierReviewFunction", rounds=5000)
    # Then ann went up to Bronze; bob, now below Silver in a program without grace, down to Bronze; cy stays Gold
    assert status == 200 and handled > tier_review.SWEEP_SEGMENTS  # continuations were sent and consumed
    tiers_now = {m: balance(api, program, m)["tier"] for m in ("ann", "bob", "cy")}
    assert tiers_now == {"ann": "Bronze", "bob": "Bronze", "cy": "Gold"}
    assert history(api, program, "ann") == [("up", None, "Bronze")]


def test_a_tier_change_is_told_once_as_a_signed_webhook_even_after_a_crash(stack, api, receiver):
    # Given an endpoint for tier changes, and a moment where telling fails after the change was written
    program = make_program(api)
    register(api, program, receiver, kinds=("tier.changed",))
    with mock.patch.object(events, "emit", side_effect=ConnectionError("queue unreachable")):
        buy(api, program, "o1", 120000)  # Silver: the change is committed, its notice left in the outbox
    buy(api, program, "o2", 500000)  # Gold: told at once
    stack.pump("WebhookDeliveryFunction")
    told = [json.loads(r["body"])["data"]["member"] for r in receiver.requests]
    assert told == [{"external_id": "ann", "tier": "Gold", "previous_tier": "Silver"}]
    # When the recovery job runs after its grace period, twice
    first = recovery.recover_outboxes(clock.now() + timedelta(minutes=3))
    second = recovery.recover_outboxes(clock.now() + timedelta(minutes=4))
    stack.pump("WebhookDeliveryFunction")
    # Then the Silver change is told once more, signed, and nothing is told twice
    assert (first["tier_notices"], second["tier_notices"]) == (1, 0)
    told = sorted((r["event_id"], json.loads(r["body"])["data"]["member"]["tier"]) for r in receiver.requests)
    assert sorted(tier for _, tier in told) == ["Gold", "Silver"] and len({e for e, _ in told}) == 2
    assert all(r["verified_with"] for r in receiver.requests)


def test_a_tier_exclusive_reward_is_redeemed_only_by_members_of_that_tier(stack, api):
    # Given a reward for Gold members only, a Gold member and a Silver member with points enough
    program = make_program(api)
    status, reward = api.call("POST", f"{program['path']}/rewards", program["admin"],
                              {"type": "merchandise", "name": "Lounge pass", "cost": 100, "tiers": ["Gold"]})
    assert status == 201 and reward["tiers"] == ["Gold"]
    buy(api, program, "o-gold", 500000, member="gold")
    buy(api, program, "o-silver", 200000, member="silver")
    # When both redeem it
    gold = api.call("POST", f"{program['path']}/members/gold/redemptions", program["admin"],
                    {"reward_id": reward["id"], "delivery": {"address": ADDRESS}}, {"Idempotency-Key": "g"})
    silver = api.call("POST", f"{program['path']}/members/silver/redemptions", program["admin"],
                      {"reward_id": reward["id"], "delivery": {"address": ADDRESS}}, {"Idempotency-Key": "s"})
    # Then Gold's is taken, Silver's is refused with the reason and takes nothing
    assert gold[0] == 202
    assert silver[0] == 409 and silver[1]["error"]["code"] == "not_eligible"
    assert balance(api, program, "silver")["available"] == 2000 + 50
