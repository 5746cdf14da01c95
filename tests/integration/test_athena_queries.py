"""The scale-out path's named queries (infra/athena/) over an export of the table, run with DuckDB as Athena
would run them: a known workload of three months through the app, exported as DynamoDB exports it, and every
answer equal to what the ledger and the API say, exactly."""
import gzip
import json
import os
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest

from chalicelib.core import clock, db
from chalicelib.members import expiry
from local import export

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
JAN, FEB_3, FEB_10, MAR = (datetime(2025, 1, 5, 10, tzinfo=timezone.utc), datetime(2025, 2, 3, 10, tzinfo=timezone.utc),
                           datetime(2025, 2, 10, 10, tzinfo=timezone.utc), datetime(2025, 3, 5, 10, tzinfo=timezone.utc))
JAN_20 = datetime(2025, 1, 20, 10, tzinfo=timezone.utc)


class Shop:
    """A program with 30-day expiry, 1 point per 1.00 spent, refunds clawed back, approval above 300 points."""

    def __init__(self, api, monkeypatch):
        self.api, self.monkeypatch = api, monkeypatch
        self.at(JAN)
        org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Athena {uuid.uuid4().hex[:6]}"})[1]
        self.admin = org["admin_key"]["secret"]
        status, program = api.call("POST", "/v1/programs", self.admin, {
            "name": "Athena", "points_expiry_days": 30,
            "earn_rules": [{"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}],
            "clawback": {"event_types": ["refund"]}})
        assert status == 201
        self.id, self.path = program["id"], f"/v1/programs/{program['id']}"
        assert self.call("PATCH", "", {"redemption_policy": {"approval_above_points": 300}})[0] == 200
        self.mug, self.lamp = self.reward("Mug", 150, 5), self.reward("Lamp", 400, 1)

    def at(self, moment: datetime) -> None:
        self.monkeypatch.setattr(clock, "now", lambda: moment)

    def call(self, method, suffix, body=None, headers=None):
        return self.api.call(method, self.path + suffix, self.admin, body, headers)

    def reward(self, name, cost, codes):
        status, reward = self.call("POST", "/rewards", {"type": "gift_card", "name": name, "cost": cost})
        assert status == 201
        assert self.call("POST", f"/rewards/{reward['id']}/codes",
                         {"codes": [f"{name}-{n}-{uuid.uuid4().hex[:6]}" for n in range(codes)]})[0] == 201
        return reward["id"]

    def event(self, event_id, kind, member, **properties):
        status, answer = self.call("POST", "/events", {"id": event_id, "type": kind, "member": member,
                                                       "properties": properties})
        assert status in (200, 201), answer
        return answer

    def adjust(self, member, points, key):
        assert self.call("POST", f"/members/{member}/adjustments", {"points": points, "reason": "goodwill"},
                         {"Idempotency-Key": key})[0] == 201

    def redeem(self, member, reward_id, key):
        status, redemption = self.call("POST", f"/members/{member}/redemptions", {"reward_id": reward_id},
                                       {"Idempotency-Key": key})
        assert status == 202, redemption
        return redemption

    def expire(self, member, moment):
        return expiry.expire_member(db.MemberItem.key(self.id, member), moment)

    def transactions(self, member) -> list[dict]:
        """The member's transactions through the API, every page, oldest first."""
        found, cursor = [], None
        while True:
            status, page = self.call("GET", f"/members/{member}/transactions?limit=100"
                                     + (f"&cursor={cursor}" if cursor else ""))
            assert status == 200
            found += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found[::-1]


@pytest.fixture
def shop(stack, api, monkeypatch):
    """The workload, month by month (points: ann 600 in Jan, bob 200; both redeem a Mug; ann's Lamp is
    rejected; a refund claws 50 back in Feb; the rest of January's points expire; bob earns and redeems in Mar;
    the Mugs are fulfilled)."""
    shop = Shop(api, monkeypatch)
    shop.event("order-a1", "purchase", "ann", amount=50000)  # 500
    shop.event("order-b1", "purchase", "bob", amount=20000)  # 200
    shop.adjust("ann", 100, "goodwill-ann")  # 100
    shop.at(JAN_20)
    shop.redeem("ann", shop.mug, "mug-ann")
    shop.redeem("bob", shop.mug, "mug-bob")
    lamp = shop.redeem("ann", shop.lamp, "lamp-ann")
    assert lamp["status"] == "awaiting_approval"
    status, rejected = shop.call("POST", f"/redemptions/{lamp['id']}/reject", {"reason": "out of lamps"})
    assert (status, rejected["status"]) == (200, "rejected")
    shop.at(FEB_3)
    shop.event("order-a2", "purchase", "ann", amount=10000)  # 100
    shop.event("refund-a2", "refund", "ann", reverses="order-a2", amount=5000)  # -50
    shop.at(FEB_10)
    assert (shop.expire("ann", FEB_10), shop.expire("bob", FEB_10)) == (400, 50)
    shop.at(MAR)
    shop.event("order-b2", "purchase", "bob", amount=30000)  # 300
    shop.redeem("bob", shop.mug, "mug-bob-2")
    stack.pump("FulfilmentFunction")  # the Mugs' codes sent: no message of this test is left for another
    return shop


@pytest.fixture
def answers(stack, shop, tmp_path):
    """The table exported as ExportTableToPointInTime writes it, and DuckDB over it with the views."""
    done = export.export_table(stack.env["LAUREL_TABLE"], tmp_path)
    return done, export.connect(done)


def mine(rows, shop):
    return [{k: v for k, v in row.items() if k != "program_id"} for row in rows if row["program_id"] == shop.id]


def test_the_export_has_the_layout_and_the_items_of_an_aws_export(stack, shop, answers):
    # Given the export of the table
    done, _ = answers
    # Then it is laid out as AWS's: data files of {"Item": ...} lines, listed by the manifests with their counts
    summary = json.loads((done.folder / "manifest-summary.json").read_text())
    files = [json.loads(line) for line in (done.folder / "manifest-files.json").read_text().splitlines()]
    assert summary["outputFormat"] == "DYNAMODB_JSON" and summary["itemCount"] == done.items
    assert sum(f["itemCount"] for f in files) == done.items and (done.folder / "_started").exists()
    items = [json.loads(line)["Item"] for f in files
             for line in gzip.decompress((done.folder / f["dataFileS3Key"].split(f"{done.export_id}/")[1])
                                         .read_bytes()).decode().splitlines()]
    # And it holds the program's ledger entries as DynamoDB JSON, typed attributes and all
    entries = [i for i in items if i["_t"] == {"S": "entry"} and i["program_id"] == {"S": shop.id}]
    api_points = sum(t["points"] for member in ("ann", "bob") for t in shop.transactions(member))
    assert sum(int(i["points"]["N"]) for i in entries) == api_points == 100 + 150


def test_points_by_month_and_source_equal_the_ledger(stack, shop, answers):
    # When the monthly query runs over the export
    rows = mine(export.ask(answers[1], "points_by_month"), shop)
    # Then each month's issued, redeemed, refunded, expired and reversed points are the workload's, by source
    assert [(r["month"], r["flow"], r["source"], r["points"], r["entries"], r["members"]) for r in rows] == [
        ("2025-01", "issued", "adjustments", 100, 1, 1),
        ("2025-01", "issued", "rules", 700, 2, 2),
        ("2025-01", "redeemed", "redemptions", -700, 3, 2),
        ("2025-01", "refunded", "refunds", 400, 1, 1),
        ("2025-02", "expired", "expiry", -450, 2, 2),
        ("2025-02", "issued", "rules", 100, 1, 1),
        ("2025-02", "reversed", "clawback", -50, 1, 1),
        ("2025-03", "issued", "rules", 300, 1, 1),
        ("2025-03", "redeemed", "redemptions", -150, 1, 1),
    ]
    # And per month and kind they equal the members' transactions as the API lists them
    by_kind = Counter()
    for member in ("ann", "bob"):
        for t in shop.transactions(member):
            by_kind[(t["created_at"][:7], t["kind"])] += t["points"]
    flows = {"issued": ("earn", "adjust"), "redeemed": ("redeem",), "refunded": ("refund",), "expired": ("expire",),
             "reversed": ("reverse",)}
    from_query = Counter()
    for r in rows:
        kind = "adjust" if r["source"] == "adjustments" else flows[r["flow"]][0]
        from_query[(r["month"], kind)] += r["points"]
    assert from_query == by_kind


def test_a_members_statement_is_its_transactions_oldest_first(stack, shop, answers):
    for member, balance in (("ann", 100), ("bob", 150)):
        # When a member's statement is asked for
        rows = export.ask(answers[1], "member_statement", shop.id, member)
        # Then it lists the API's transactions, oldest first, and its running total ends at the balance
        listed = shop.transactions(member)
        assert [(r["txn_id"], r["kind"], r["points"], r["balance_after"], r["created_at"]) for r in rows] == [
            (t["id"], t["kind"], t["points"], t["balance_after"], t["created_at"]) for t in listed]
        available = shop.call("GET", f"/members/{member}/balance")[1]["available"]
        assert rows[-1]["running_total"] == available == balance == rows[-1]["balance_after"]


def test_redemption_cohorts_follow_each_months_points_first_in_first_out(stack, shop, answers):
    # When the cohort query runs
    rows = mine(export.ask(answers[1], "redemption_cohorts"), shop)
    # Then January's 800 points: 300 redeemed that month (the rejected Lamp left out), then 450 expired and 50
    # clawed back in February; February's 100 are all still held; March's 300: half redeemed at once
    assert [(r["cohort"], r["issued"], r["members"], r["age"], r["redeemed"], r["expired"], r["reversed"],
             r["redeemed_to_date"], r["redemption_rate"]) for r in rows] == [
        ("2025-01", 800, 2, 0, 300, 0, 0, 300, 0.375),
        ("2025-01", 800, 2, 1, 0, 450, 50, 300, 0.375),
        ("2025-02", 100, 1, 0, 0, 0, 0, 0, 0.0),
        ("2025-03", 300, 1, 0, 150, 0, 0, 150, 0.5),
    ]
    # And every point used is allocated to one cohort: what left the members equals the ledger's debits
    debits = defaultdict(int)
    for member in ("ann", "bob"):
        for t in shop.transactions(member):
            debits[t["kind"]] += t["points"]
    assert sum(r["redeemed"] for r in rows) == -debits["redeem"] - debits["refund"]
    assert (sum(r["expired"] for r in rows), sum(r["reversed"] for r in rows)) == (-debits["expire"],
                                                                                     -debits["reverse"])


def test_top_rewards_count_the_redemptions_kept(stack, shop, answers):
    # When the rewards are ranked
    rows = mine(export.ask(answers[1], "top_rewards"), shop)
    # Then the Mug leads with its three redemptions; the rejected Lamp counts as given back only
    assert [(r["reward_id"], r["reward_name"], r["redemptions"], r["units"], r["points"], r["members"],
             r["given_back"]) for r in rows] == [(shop.mug, "Mug", 3, 3, 450, 2, 0), (shop.lamp, "Lamp", 0, 0, 0, 0, 1)]
    statuses = Counter(shop.call("GET", f"/redemptions/{r['id']}")[1]["status"]
                       for member in ("ann", "bob") for r in shop.call("GET", f"/members/{member}/redemptions")[1]["items"])
    assert statuses == Counter({"fulfilled": 3, "rejected": 1})
