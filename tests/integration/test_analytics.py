"""Live analytics through the local stack's stream consumer: the table's change stream, AnalyticsFunction with
Lambda's partial batch semantics, and GET .../analytics; the totals reconcile exactly with the ledger."""
import json
import os
import random
import uuid
from collections import Counter
from datetime import timedelta

import boto3
import pytest

from chalicelib.core import clock, db
from chalicelib.insight import aggregates
from chalicelib.members import expiry
from local import lambda_runtime

pytestmark = pytest.mark.usefixtures("fresh_stream")  # each test reads its own records of the stream

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
ADDRESS = {"name": "Bo", "line1": "1 High St", "city": "London", "postal_code": "N1 1AA", "country": "GB"}


def analytics_stream(stack) -> lambda_runtime.StreamPoller:
    return next(s for s in stack.runtime.streams if s.trigger.function.logical_id == "AnalyticsFunction")


def catch_up(stack) -> int:
    """Let AnalyticsFunction read the stream to its end, as Lambda would."""
    poller, handled = analytics_stream(stack), 0
    while count := poller.poll_once():
        handled += count
    return handled


def analytics(api, program, first, last=None, granularity="day"):
    status, answer = api.call("GET", f"{program['path']}/analytics?from={first}&to={last or first}"
                                      f"&granularity={granularity}", program["admin"])
    assert status == 200, answer
    return answer


def today() -> str:
    return clock.day(clock.now())


def test_an_earn_shows_up_in_the_hour_and_day_it_happened(stack, api, program):
    # Given a member enrolled by a purchase worth 1,250 points
    status, _ = api.call("POST", f"{program['path']}/events", program["admin"],
                         {"id": "p-1", "type": "purchase", "member": "ann", "properties": {"amount": 125000}})
    assert status == 201
    # When the stream is read
    catch_up(stack)
    # Then the day and its hour show the points, the enrolment and one active member
    day = analytics(api, program, today())
    assert {k: day["totals"][k] for k in ("issued", "issued_rules", "enrolled", "active_members")} == {
        "issued": 1250, "issued_rules": 1250, "enrolled": 1, "active_members": 1}
    hours = analytics(api, program, today(), granularity="hour")
    assert len(hours["series"]) == 24 and hours["totals"]["issued"] == 1250
    assert [row["period"] for row in hours["series"] if row["issued"]] == [clock.now().strftime("%Y-%m-%dT%H")]


def test_a_failed_record_is_retried_from_its_sequence_number_and_counted_once(stack, api, program, monkeypatch):
    # Given three earns, and a record that fails the first time it is counted
    catch_up(stack)
    for n in range(3):
        api.call("POST", f"{program['path']}/events", program["admin"],
                 {"id": f"e-{n}", "type": "signup", "member": f"m-{n}"})
    tries, count = Counter(), aggregates.count

    def flaky(change):
        tries[change.marker] += 1
        if change.marker.endswith("#evt#e-1") and tries[change.marker] == 1:
            raise RuntimeError("throttled")
        return count(change)

    monkeypatch.setattr(aggregates, "count", flaky)
    # When the stream is read (the batch reports e-1's record failed; Lambda retries from it)
    catch_up(stack)
    # Then every record counted once: e-1's twice tried, the others once, nothing counted twice
    marker = next(m for m in tries if m.endswith("#evt#e-1"))
    assert tries[marker] == 2
    assert analytics(api, program, today())["totals"]["issued"] == 300


def test_a_redelivered_batch_counts_nothing_again(stack, api, program):
    # Given an earn counted from the stream
    catch_up(stack)
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "s-1", "type": "signup", "member": "bo"})
    records = unread_records(stack)
    catch_up(stack)
    before = analytics(api, program, today())["totals"]
    # When Lambda delivers the same batch again (a retry after a timeout, a replayed shard)
    answer = invoke(stack, records)
    # Then it succeeds and adds nothing
    assert answer == {"batchItemFailures": []}
    assert analytics(api, program, today())["totals"] == before == {**before, "issued": 100, "enrolled": 1}


def test_after_its_retries_a_failing_batch_goes_to_the_dlq_with_where_it_is(stack, api, program, monkeypatch):
    # Given a record that always fails
    catch_up(stack)
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "bad", "type": "signup", "member": "cy"})

    def broken(change):
        raise RuntimeError("always")

    monkeypatch.setattr(aggregates, "count", broken)
    # When the stream is read
    catch_up(stack)
    # Then after its retries the batch's record info is in the on-failure destination, and the shard moved on
    trigger = analytics_stream(stack).trigger
    infos = [json.loads(m["Body"]) for m in stack.queue_messages(trigger.on_failure_queue_url)]
    assert any(i["requestContext"]["condition"] == "RetryAttemptsExhausted"
               and i["requestContext"]["approximateInvokeCount"] == trigger.max_retries + 1
               and i["DDBStreamBatchInfo"]["streamArn"] == trigger.stream_arn for i in infos)
    assert analytics_stream(stack).caught_up()


def unread_records(stack) -> list[dict]:
    poller = analytics_stream(stack)
    return [record for shard in poller._shards() for record in poller._unread(shard["ShardId"], limit=1000)]


def invoke(stack, records) -> dict:
    poller = analytics_stream(stack)
    return poller._invoke(lambda_runtime.stream_event(records, poller.trigger.stream_arn, "us-east-1"))


# --- reconciliation ---------------------------------------------------------------------------------


def shop(api):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Shop {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    status, program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "points_expiry_days": 2,
        "earn_rules": [{"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}},
                       {"event_type": "order", "points": 30, "pending_days": 1}],
        "clawback": {"event_types": ["refund"], "allow_debt": True},
        "referral": {"qualifying_event": "order", "referrer_points": 20, "referee_points": 5},
        "tiers": [{"name": "Silver", "min_points": 150, "multiplier": 1.0},
                  {"name": "Gold", "min_points": 600, "multiplier": 1.0}]})
    assert status == 201
    path = f"/v1/programs/{program['id']}"
    rewards = [api.call("POST", f"{path}/rewards", admin, body)[1] for body in (
        {"type": "merchandise", "name": "Mug", "cost": 50, "stock": 1000, "value": {"amount": 350, "currency": "GBP"}},
        {"type": "cashback", "name": "5 back", "cost": 30, "value": {"amount": 500, "currency": "EUR"}})]
    now = clock.now()
    status, campaign = api.call("POST", f"{path}/campaigns", admin, {
        "name": "Double", "starts_at": clock.iso(now - timedelta(hours=1)), "ends_at": clock.iso(now + timedelta(days=1)),
        "budget_points": 400, "earn_rules": [{"event_type": "purchase", "points": 15}]})
    assert status == 201, campaign
    return {"id": program["id"], "admin": admin, "path": path, "reward_id": rewards[0]["id"],
            "rewards": {reward["id"]: reward for reward in rewards}, "campaign_id": campaign["id"]}


def random_workload(api, program, rng: random.Random, steps: int) -> list[str]:
    """Earns (some held pending), refunds of purchases, manual credits and debits, redemptions and their
    cancellations, each sometimes replayed under its own idempotency key; returns the members."""
    members = [f"m{n}" for n in range(8)]
    path, admin = program["path"], program["admin"]
    sent: list[tuple] = []  # (method, path, body, headers): what a replay sends again
    purchases: list[tuple[str, str]] = []
    redeemed: list[str] = []
    for step in range(steps):
        member = rng.choice(members)
        roll = rng.random()
        if sent and roll < 0.1:
            call = rng.choice(sent)  # a replay: the same request under the same key
        elif roll < 0.4 or not purchases:
            event_id = f"buy-{step}"
            purchases.append((event_id, member))
            call = ("POST", f"{path}/events", {"id": event_id, "type": "purchase", "member": member,
                                               "properties": {"amount": rng.randrange(100, 30000)}}, None)
        elif roll < 0.5:
            call = ("POST", f"{path}/events", {"id": f"order-{step}", "type": "order", "member": member}, None)
        elif roll < 0.6:
            bought, owner = rng.choice(purchases)
            call = ("POST", f"{path}/events", {"id": f"refund-{step}", "type": "refund", "member": owner,
                                               "properties": {"reverses": bought,
                                                              "amount": rng.randrange(100, 20000)}}, None)
        elif roll < 0.75:
            points = rng.choice([-40, -5, 10, 75, 200])
            owner = rng.choice(purchases)[1]  # a member with an account
            call = ("POST", f"{path}/members/{owner}/adjustments", {"points": points, "reason": "by hand"},
                    {"Idempotency-Key": f"adj-{step}"})
        elif roll < 0.88 or not redeemed:
            call = ("POST", f"{path}/members/{rng.choice(purchases)[1]}/redemptions",
                    {"reward_id": rng.choice(sorted(program["rewards"])), "delivery": {"address": ADDRESS}},
                    {"Idempotency-Key": f"rdm-{step}"})
        else:
            call = ("POST", f"{path}/redemptions/{rng.choice(redeemed)}/cancel", {}, None)
        method, url, body, headers = call
        status, answer = api.call(method, url, admin, body, headers)
        assert status < 500, answer
        if status in (200, 201, 202):
            sent.append(call)
            if url.endswith("/redemptions") and answer.get("id"):
                redeemed.append(answer["id"])
    return members


def referral_workload(api, program, rng: random.Random, members: list[str]) -> None:
    """Codes asked (some twice), referees attached to them (some refused: self, cycles, again), and the
    qualifying event for some referees."""
    path, admin = program["path"], program["admin"]
    enrolled = sorted(accounts(program))
    codes = {}
    for member in rng.sample(enrolled, k=min(4, len(enrolled))) * 2:
        status, body = api.call("GET", f"{path}/members/{member}/referral-code", admin)
        assert status == 200, body
        codes[member] = body["code"]
    for member in enrolled:
        status, _ = api.call("PUT", f"{path}/members/{member}/referral", admin, {"code": codes[rng.choice(sorted(codes))]})
        assert status < 500
    for n, member in enumerate(rng.sample(members, k=5)):
        api.call("POST", f"{path}/events", admin, {"id": f"qualify-{n}", "type": "order", "member": member})


def ledger_entries(program_id: str) -> list[dict]:
    """Every ledger entry of the program, read from the table itself (a test may Scan)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    items, start = [], None
    while True:
        page = client.scan(TableName=db.Item.Meta.table_name, FilterExpression="#t = :entry AND program_id = :p",
                           ExpressionAttributeNames={"#t": "_t"},
                           ExpressionAttributeValues={":entry": {"S": "entry"}, ":p": {"S": program_id}},
                           **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return [{"kind": i["kind"]["S"], "points": int(i["points"]["N"]), "member": i["external_id"]["S"],
                     "scope": i["pk"]["S"].split("#")[2], "pending": "available_at" in i,
                     "campaigns": json.loads(i["campaign_points"]["S"]) if "campaign_points" in i else {}}
                    for i in items]


def items_of(program_id: str, kind: str) -> list[dict]:
    """Every item of one kind in the program, as the table holds it (a test may Scan)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    items, start = [], None
    while True:
        page = client.scan(TableName=db.Item.Meta.table_name,
                           FilterExpression="#t = :t AND (program_id = :p OR begins_with(pk, :code))",
                           ExpressionAttributeNames={"#t": "_t"},
                           ExpressionAttributeValues={":t": {"S": kind}, ":p": {"S": program_id},
                                                      ":code": {"S": f"REFCODE#{program_id}#"}},
                           **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def sums_from_the_ledger(entries: list[dict]) -> dict[str, int]:
    """The analytics totals as the ledger itself states them, entry by entry."""
    def total(kind, sign=1, when=lambda e: True):
        return sign * sum(e["points"] for e in entries if e["kind"] == kind and when(e))

    return {"issued": total("earn") + total("adjust", when=lambda e: e["points"] > 0),
            "issued_rules": total("earn", when=lambda e: e["scope"] == "evt"),
            "issued_adjustments": total("adjust", when=lambda e: e["points"] > 0),
            "pending": total("earn", when=lambda e: e["pending"]),
            "redeemed": total("redeem", -1), "refunded": total("refund"), "expired": total("expire", -1),
            "reversed": total("reverse", -1), "adjusted_down": total("adjust", -1, when=lambda e: e["points"] < 0)}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_total_reconciles_exactly_with_the_ledger(stack, api, seed):
    # Given a random workload on a fresh program: earns, pending earns, refunds, credits and debits, redemptions
    # and cancellations, replays; then two days later its pending points released and its points expired
    catch_up(stack)
    program, rng = shop(api), random.Random(seed)
    members = random_workload(api, program, rng, steps=80)
    referral_workload(api, program, rng, members)
    later = clock.now() + timedelta(days=4)
    for member in members:
        expiry.expire_member(db.MemberItem.key(program["id"], member), later)
    # When the stream is read, with its batches delivered twice
    records = unread_records(stack)
    catch_up(stack)
    for start in range(0, len(records), 100):
        assert invoke(stack, records[start:start + 100]) == {"batchItemFailures": []}
    # Then every analytics total is what the ledger itself adds up to, exactly
    entries = ledger_entries(program["id"])
    expected = sums_from_the_ledger(entries)
    days = analytics(api, program, today(), clock.day(later))
    assert {name: days["totals"][name] for name in expected} == expected
    assert all(expected.values()), expected  # the workload reached every kind
    # its net is the ledger's sum, every entry counted once with its sign
    net = (days["totals"]["issued"] + days["totals"]["refunded"] - days["totals"]["redeemed"]
           - days["totals"]["expired"] - days["totals"]["reversed"] - days["totals"]["adjusted_down"])
    assert net == sum(e["points"] for e in entries)
    # the hours add up to the days
    hours = analytics(api, program, today(), clock.day(later), granularity="hour")
    assert {k: v for k, v in hours["totals"].items() if k != "active_members"} == {
        k: v for k, v in days["totals"].items() if k != "active_members"}
    # members enrolled and active (a sketch: within one member of the distinct count)
    assert days["totals"]["enrolled"] == len(accounts(program))
    active = {e["member"] for e in entries if e["kind"] == "redeem" or (e["kind"] == "earn" and e["points"])}
    assert abs(days["totals"]["active_members"] - len(active)) <= 1
    # the breakdowns are the items' own counts, and the hours' are the days'
    assert hours["breakdown"] == days["breakdown"]
    assert_breakdown_reconciles(api, program, entries, days)


GIVEN_BACK = ("failed", "rejected", "cancelled", "returned")


def assert_breakdown_reconciles(api, program, entries, days) -> None:
    totals, breakdown = days["totals"], days["breakdown"]
    # redemptions by reward, type and currency: the redemption items themselves, values as the rewards state them
    redemptions = [{"reward_id": i["reward_id"]["S"], "reward_type": i["reward_type"]["S"],
                    "quantity": int(i["quantity"]["N"]), "back": i["status"]["S"] in GIVEN_BACK}
                   for i in items_of(program["id"], "redemption")]
    rows = []
    for reward_id, reward in sorted(program["rewards"].items()):
        made = [r for r in redemptions if r["reward_id"] == reward_id]
        value = reward["value"]
        rows.append({"reward_id": reward_id, "reward_type": reward["type"], "redemptions": len(made),
                     "cancelled": sum(r["back"] for r in made),
                     "value": [{"currency": value["currency"],
                                "redeemed": sum(value["amount"] * r["quantity"] for r in made),
                                "cancelled": sum(value["amount"] * r["quantity"] for r in made if r["back"])}]})
    rows = [row for row in rows if row["redemptions"]]
    assert breakdown["rewards"] == sorted(rows, key=lambda row: (row["reward_type"], row["reward_id"]))
    assert {row["reward_type"]: row["redemptions"] for row in breakdown["reward_types"]} == {
        row["reward_type"]: row["redemptions"] for row in rows}
    assert breakdown["redemption_value"] == sorted((m for row in rows for m in row["value"]),
                                                   key=lambda m: m["currency"])
    assert (totals["redemptions"], totals["redemptions_cancelled"]) == (
        len(redemptions), sum(r["back"] for r in redemptions))
    assert totals["redemptions"] and totals["redemptions_cancelled"], totals
    # the campaign's spend and awards: what its budget says it gave, and the earns that carry its points
    spent = {c["id"]: c["spent_points"] for c in api.call("GET", f"{program['path']}/campaigns",
                                                          program["admin"])[1]["items"]}
    awards = Counter(campaign for e in entries for campaign in e["campaigns"])
    assert [(c["campaign_id"], c["points"], c["awards"], c["name"]) for c in breakdown["campaigns"]] == [
        (program["campaign_id"], spent[program["campaign_id"]], awards[program["campaign_id"]], "Double")]
    assert (totals["campaign_points"], totals["campaign_awards"]) == (sum(spent.values()), sum(awards.values()))
    assert totals["campaign_points"] > 0
    # the referral funnel: codes issued, referees attached and rewarded, referrers paid
    members = items_of(program["id"], "member")
    assert totals["referral_codes"] == len(items_of(program["id"], "refcode")) > 0
    assert totals["referrals_attached"] == sum("referred_by" in m for m in members) > 0
    assert totals["referrals_qualified"] == sum(m.get("referral", {}).get("S") == "rewarded" for m in members) > 0
    assert totals["referrals_paid"] == sum(e["scope"] == "referral" for e in entries) > 0
    # tier movements, and the members in each tier now
    changes = items_of(program["id"], "tierchange")
    entered = Counter(c["to_tier"]["S"] for c in changes if "to_tier" in c)
    left = Counter(c["from_tier"]["S"] for c in changes if "from_tier" in c)
    now = Counter(m["tier"]["S"] for m in members if "tier" in m)
    assert {t["tier"]: (t["entered"], t["left"], t["members_now"]) for t in breakdown["tiers"]} == {
        tier: (entered[tier], left[tier], now[tier]) for tier in set(entered) | set(left) | set(now)}
    assert totals["tier_ups"] + totals["tier_downs"] == len(changes) > 0
    # points released: every point held pending left pending by release (no clawback here reached a hold)
    still_pending = sum(int(m["pending"]["N"]) for m in members if "pending" in m)
    assert totals["released"] == totals["pending"] - still_pending > 0


def accounts(program) -> set[str]:
    """The workload's members that have an account in the program."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    found = set()
    for n in range(8):
        item = client.get_item(TableName=db.Item.Meta.table_name,
                               Key={"pk": {"S": db.member_pk(program["id"], f"m{n}")}, "sk": {"S": "MEMBER"}})
        if "Item" in item:
            found.add(f"m{n}")
    return found
