"""Model-based test of the ledger: random sequences of earns, adjustments, redemptions, fulfilment,
refunds, expiry, clock moves, concurrent debits, refunds and cancellations of purchases that claw
their points back (some at once), and replays, driven through the real API on moto, with the books
checked against a simple in-memory model (tests/integration/ledger_model.py) after every step.

Each run of the state machine makes its own organisation and program, so runs never interfere; each
draws whether its program keeps what a clawback cannot take as debt.
The clock (`chalicelib.core.clock.now`) is moved on by the `time_passes` rule, which then runs the
expiry job as the hourly schedule would, so points really fall due (the job's bookkeeping is set
to this run's own last run and put back afterwards, so other tests' far-future runs hide no day).

`make test` runs LAUREL_MODEL_EXAMPLES=15 sequences of LAUREL_MODEL_STEPS=15 steps; set them higher
to search longer.
"""
import itertools
import os
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Optional
from unittest import mock

import boto3
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from chalicelib.core import clock, db
from chalicelib.core.errors import LaurelError
from chalicelib.earning import earn as earning
from chalicelib.members import adjustments, expiry
from chalicelib.rewards import fulfilment, redemptions
from ledger_model import SETTLED, LedgerModel, MemberModel
from local import lambda_runtime

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
EXAMPLES = int(os.environ.get("LAUREL_MODEL_EXAMPLES", "15"))
STEPS = int(os.environ.get("LAUREL_MODEL_STEPS", "15"))

MEMBERS = ("m0", "m1")  # m0 is created up front; m1 is enrolled by its first event
PICK = ("m0", "m0", "m1")  # who a call is for: mostly m0, so that fewer calls meet an unknown member
COSTS = {"cash": 30, "gift": 20}
EVENT_TYPES = ("visit", "purchase", "purchase", "noop")
AMOUNTS = (0, 99, 100, 250, 1234.5, 1999, 5000)
TIER = ("Silver", 100, 1.5)  # name, min_points, multiplier
REFUND_TYPES = ("refund", "cancel")
SHARES = (0.1, 0.25, 1 / 3, 0.5, 0.75, 1, 1.5)  # a refunded amount, as a share of its purchase's amount
AT_ONCE = ("all", "amount", "total", "again", "visit")  # events racing a refund: refunds, a copy, an earn
ADJUST_POINTS = (-60, -25, -5, 5, 40, 100)
PAGE = 7  # the end-of-run check reads every ledger in small pages, so that "all pages" is exercised
STATS = Counter()  # what the runs exercised: printed at the end (pytest -s)


def seen(label: str) -> None:
    event(label)
    STATS[label] += 1


INDEX = st.integers(0, 2**16)


def pick(index: int, items):
    """One of `items` by a drawn index. What the system did earlier (concurrent calls finish in any
    order) may change the lists, so every rule draws all it may need up front, as plain indexes,
    whatever branch it takes: the draws never depend on the system, so Hypothesis can replay a run."""
    items = list(items)
    return items[index % len(items)]


def base_points(body: dict) -> int:
    """The program's rules: a visit earns 10; a purchase earns 5 per full 100 of `amount` (before the tier)."""
    if body["type"] == "visit":
        return 10
    if body["type"] == "purchase":
        return int(body["properties"]["amount"] // 100) * 5
    return 0


class FakeClock:
    """`chalicelib.core.clock.now`, moved forward by the machine (it keeps ticking in real time)."""

    real_now = staticmethod(clock.now)

    def __init__(self):
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.real_now() + self.offset


CLOCK = FakeClock()


def possible_expiries(before: datetime, after: datetime) -> set[str]:
    """Credits expire at the end of the UTC day after the one they were made on (points_expiry_days=1)."""
    return {clock.expiry(before, 1), clock.expiry(after, 1)}


def run_expiry_job(now: datetime, last_day: str) -> dict:
    """The expiry job at `now`, its last run on `last_day` (the job's own bookkeeping is put back after)."""
    key = db.JobStateItem.key("points_expiry")
    saved = db.get(db.JobStateItem, key)
    db.JobStateItem(*key, last_day=last_day).save()
    try:
        return expiry.expire_points(now)
    finally:
        if saved is not None:
            saved.save()
        else:
            db.JobStateItem(*key).delete()


class LedgerMachine(RuleBasedStateMachine):
    stack = None  # set by the test: the integration tier's session fixtures
    api = None

    # --- set-up ------------------------------------------------------------------------------

    @initialize(allow_debt=st.sampled_from([True, False]))  # debt first: Hypothesis leans to the first
    def open_program(self, allow_debt):
        CLOCK.offset = timedelta(0)
        status, org = self.api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Model {uuid.uuid4().hex[:6]}"})
        assert status == 201, org
        self.org_id, self.admin = org["id"], org["admin_key"]["secret"]
        status, program = self.call("POST", "/v1/programs", {
            "name": "Model", "points_expiry_days": 1,
            "earn_rules": [{"event_type": "visit", "points": 10},
                           {"event_type": "purchase", "points_per": {"property": "amount", "every": 100,
                                                                     "points": 5}}],
            "tiers": [{"name": TIER[0], "min_points": TIER[1], "multiplier": TIER[2]}],
            "clawback": {"event_types": list(REFUND_TYPES), "allow_debt": allow_debt}}, path="/v1/programs")
        assert status == 201 and program["clawback"]["allow_debt"] is allow_debt, program
        seen(f"program: allow_debt={allow_debt}")
        self.program_id = program["id"]
        self.path = f"/v1/programs/{self.program_id}"
        status, cash = self.call("POST", "/rewards", {"type": "cashback", "name": "Cash", "cost": COSTS["cash"],
                                                       "value": {"amount": 300, "currency": "EUR"}})
        assert status == 201 and cash["stock"] is None, cash
        status, gift = self.call("POST", "/rewards", {"type": "gift_card", "name": "Gift", "cost": COSTS["gift"]})
        assert status == 201 and gift["stock"] == 0, gift
        self.reward_ids = {"cash": cash["id"], "gift": gift["id"]}
        self.model = LedgerModel(members={name: MemberModel(name) for name in MEMBERS}, costs=dict(COSTS),
                                 tier=TIER, allow_debt=allow_debt)
        status, member = self.call("PUT", "/members/m0", {"name": "Member zero"})
        assert status == 201, member
        self.model.members["m0"].exists = True
        self.counter = itertools.count()
        self.books = {}  # per member: the transactions already checked
        self.refused = {"adjust": [], "redeem": []}  # (key, body) of refused calls: their keys stay free
        self.job_last_day = clock.day(CLOCK.now())  # as if the hourly expiry job had been running all along
        self.touched = set(MEMBERS)  # members whose ledger the last step may have changed
        self.fulfilment_down = False
        self.catalog_changed = True
        self._add_codes([self.new_code(), self.new_code(), self.new_code()])
        status, answer = self.call("POST", "/members/m0/adjustments", {"points": 100, "reason": "adjust welcome"},
                                   {"Idempotency-Key": "welcome"})
        assert status == 201, answer
        self.model.adjust("m0", 100, "adjust welcome", answer["transaction"]["expires_at"])
        self.model.adjustments["welcome"] = ({"member": "m0", "points": 100, "reason": "adjust welcome"}, answer)

    # --- helpers -------------------------------------------------------------------------------

    def call(self, method, suffix, body=None, headers=None, path=None):
        return self.api.call(method, path or f"{self.path}{suffix}", self.admin, body, headers)

    def new_key(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    def new_code(self) -> str:
        return f"{self.program_id[-6:]}-CODE-{next(self.counter)}"

    def existing(self) -> list[str]:
        return [name for name in MEMBERS if self.model.members[name].exists]

    def _add_codes(self, codes: list[str]) -> None:
        self.catalog_changed = True
        status, answer = self.call("POST", f"/rewards/{self.reward_ids['gift']}/codes", {"codes": codes})
        added, duplicates = self.model.add_codes(codes)
        assert status == 201 and answer == {"added": added, "duplicates": duplicates}, answer

    def _expect_error(self, status, answer, http, code):
        assert (status, answer["error"]["code"]) == (http, code), (status, answer)

    def check_snapshot(self, member: str, snapshot: dict) -> None:
        """The balance an answer shows is the model's just after that change."""
        expected = self.model.balance(member, clock.day(CLOCK.now()))
        assert {k: snapshot[k] for k in ("available", "debt", "lifetime_earned")} == {
            k: expected[k] for k in ("available", "debt", "lifetime_earned")}, (member, snapshot, expected)

    def check_settlement(self, transactions: list[dict], settled: int, event_id: str) -> None:
        """An earn answer shows the debt it paid, if any, as its own `reverse` transaction after the earn."""
        expected = [("reverse", -settled, SETTLED, event_id)] if settled else []
        assert [(t["kind"], t["points"], t.get("reason"), t.get("event_id")) for t in transactions] == expected, (
            transactions, settled)

    def check_reversed(self, target: str) -> None:
        """What the purchase's entry says was owed back is the model's, and never more than it earned."""
        entry = db.get(db.EntryItem, (db.entry_pk(self.program_id, "evt", target), "ENTRY"))
        earn = self.model.earns[target]
        assert int(entry.reversed or 0) == earn.reversed <= int(entry.points) == earn.points, (target, entry, earn)

    # --- earning -------------------------------------------------------------------------------

    @rule(data=st.data())
    def earn(self, data):
        """Events with a fixed and a points_per rule; the same id again replays or conflicts."""
        mode_index, event_type, member, amount, index = data.draw(st.tuples(
            INDEX, st.sampled_from(EVENT_TYPES), st.sampled_from(PICK), st.sampled_from(AMOUNTS), INDEX))
        mode = pick(mode_index, ["new", "replay", "conflict"] if self.model.events else ["new"])
        if mode == "new":
            body = {"id": self.new_key("evt"), "type": event_type, "member": member}
            if event_type == "purchase":
                body["properties"] = {"amount": amount}
        else:
            event_id = pick(index, sorted(self.model.events))
            body, first = self.model.events[event_id]
            if mode == "conflict":
                body = {**body, "type": "visit" if body["type"] != "visit" else "noop"}
        note(f"earn {mode}: {body}")
        if mode == "new":
            return self.record_earn(body)
        self.touched.add(body["member"])
        status, answer = self.call("POST", "/events", body)
        seen(f"earn: {mode} -> {status}")
        if mode == "replay":
            assert (status, answer) == (200, first), (status, answer, first)
        else:
            self._expect_error(status, answer, 409, "idempotency_conflict")

    def record_earn(self, body: dict) -> None:
        """A new event earns what the rules and the tier say, and pays any debt first."""
        self.touched.add(body["member"])
        before = CLOCK.now()
        status, answer = self.call("POST", "/events", body)
        after = CLOCK.now()
        seen(f"earn: new -> {status}")
        points = self.model.earned_by(body["member"], base_points(body), clock.day(before))
        assert status == 201 and answer["points"] == points, (status, answer)
        expires_at, day = None, clock.day(before)
        if points:
            expires_at, day = answer["transactions"][0]["expires_at"], answer["transactions"][0]["created_at"][:10]
            assert expires_at in possible_expiries(before, after), answer
        settled = self.model.earn(body["member"], body["id"], points, expires_at, day,
                                  basis=(body.get("properties") or {}).get("amount"))
        self.model.events[body["id"]] = (body, answer)
        self.check_settlement(answer["transactions"][1 if points else 0:], settled, body["id"])
        if settled:
            seen("earn: pays debt")
        self.check_snapshot(body["member"], answer["balance"])

    # --- adjustments ---------------------------------------------------------------------------

    @rule(data=st.data())
    def adjust(self, data):
        """Credits and debits by hand with an Idempotency-Key: replays, conflicts, refused debits."""
        mode_index, member, points, index = data.draw(st.tuples(
            INDEX, st.sampled_from(PICK), st.sampled_from(ADJUST_POINTS), INDEX))
        modes = ["new"] + (["replay", "conflict"] if self.model.adjustments else []) + (
            ["retry refused"] if self.refused["adjust"] else [])
        mode = pick(mode_index, modes)
        if mode == "new":
            key = self.new_key("adj")
            body = {"member": member, "points": points, "reason": f"adjust {key}"}
        elif mode == "retry refused":
            key, body = pick(index, self.refused["adjust"])
        else:
            key = pick(index, sorted(self.model.adjustments))
            body, first = self.model.adjustments[key]
            if mode == "conflict":
                body = {**body, "points": body["points"] + 1}
        note(f"adjust {mode} {key}: {body}")
        self.touched.add(body["member"])
        before = CLOCK.now()
        status, answer = self.call("POST", f"/members/{body['member']}/adjustments",
                                   {"points": body["points"], "reason": body["reason"]}, {"Idempotency-Key": key})
        after = CLOCK.now()
        seen(f"adjust: {mode} -> {status} {(answer.get('error') or {}).get('code', '')}")
        if mode == "replay":
            assert (status, answer) == (200, first), (status, answer, first)
            return
        if mode == "conflict":
            return self._expect_error(status, answer, 409, "idempotency_conflict")
        member = self.model.members[body["member"]]
        if not member.exists:
            return self._expect_error(status, answer, 404, "not_found")
        if -body["points"] > member.available:
            self._expect_error(status, answer, 409, "insufficient_points")
            assert answer["error"]["details"] == {"available": member.available, "required": -body["points"]}
            if mode == "new":
                self.refused["adjust"].append((key, body))
            return
        assert status == 201, (status, answer)
        expires_at = answer["transaction"].get("expires_at")
        if body["points"] > 0:
            assert expires_at in possible_expiries(before, after), answer
        if self.model.adjust(body["member"], body["points"], body["reason"], expires_at):
            seen("adjust: pays debt")
        self.model.adjustments[key] = (body, answer)
        if mode == "retry refused":
            self.refused["adjust"].remove((key, body))
        self.check_snapshot(body["member"], answer["balance"])

    # --- redemptions ---------------------------------------------------------------------------

    @rule(data=st.data())
    def redeem(self, data):
        """Unlimited cashback and a gift card with few codes: refusals take nothing, replays answer the first."""
        mode_index, member, reward, quantity, index = data.draw(st.tuples(
            INDEX, st.sampled_from(PICK), st.sampled_from(["cash", "gift"]), st.sampled_from([1, 1, 2]), INDEX))
        modes = ["new"] + (["replay", "conflict"] if self.model.redemption_keys else []) + (
            ["retry refused"] if self.refused["redeem"] else [])
        mode = pick(mode_index, modes)
        if mode == "new":
            key = self.new_key("rdm")
            body = {"member": member, "reward": reward, "quantity": quantity}
        elif mode == "retry refused":
            key, body = pick(index, self.refused["redeem"])
        else:
            key = pick(index, sorted(self.model.redemption_keys))
            body, first = self.model.redemption_keys[key]
            if mode == "conflict":
                body = {**body, "quantity": 3 - body["quantity"]}
        note(f"redeem {mode} {key}: {body}")
        self.touched.add(body["member"])
        self.catalog_changed = True
        status, answer = self.call("POST", f"/members/{body['member']}/redemptions",
                                   {"reward_id": self.reward_ids[body["reward"]], "quantity": body["quantity"]},
                                   {"Idempotency-Key": key})
        seen(f"redeem {body['reward']}: {mode} -> {status} {(answer.get('error') or {}).get('code', '')}")
        if mode == "replay":
            assert (status, answer) == (200, first), (status, answer, first)
            return
        if mode == "conflict":
            return self._expect_error(status, answer, 409, "idempotency_conflict")
        if not self.model.members[body["member"]].exists:
            return self._expect_error(status, answer, 404, "not_found")
        refusal = self.model.refusal(body["member"], body["reward"], body["quantity"])
        if refusal:
            self._expect_error(status, answer, 409, refusal)
            if mode == "new":
                self.refused["redeem"].append((key, body))
            return
        assert status == 202 and answer["status"] == "pending", (status, answer)
        assert answer["points"] == COSTS[body["reward"]] * body["quantity"], answer
        self.model.redeem(body["member"], body["reward"], body["quantity"], answer["id"])
        self.model.redemption_keys[key] = (body, answer)
        if mode == "retry refused":
            self.refused["redeem"].remove((key, body))

    @rule(down=st.booleans())
    def fulfilment_outage(self, down):
        """The fulfilment function stops (or starts again): redemptions stay pending meanwhile."""
        self.fulfilment_down = down

    @rule()
    def fulfil(self):
        """The fulfilment function consumes its queue: every pending redemption is fulfilled."""
        if self.fulfilment_down:
            return
        self.stack.pump("FulfilmentFunction")
        self.catalog_changed = True
        moved = self.model.fulfil_all()
        seen(f"fulfil: {len(moved)} pending")
        for redemption in moved:
            self.check_redemption(redemption.redemption_id)

    @rule(index=INDEX, hours=st.sampled_from([0, 0, 6, 30]))
    def refund(self, index, hours):
        """A fulfilment that failed for good (after `hours` of retries, the expiry job running meanwhile): the
        points come back once, into the lots they came from (a lot whose expiry has passed comes back
        expiring at the end of today); a second give-up is a no-op."""
        pending = sorted(rid for rid, r in self.model.redemptions.items() if r.status == "pending")
        if not self.model.redemptions:
            return
        if hours:
            self.time_passes(hours)
        # mostly a pending one (the interesting case), sometimes one that has moved on already
        redemption_id = pick(index // 4, pending) if pending and index % 4 else pick(index, sorted(self.model.redemptions))
        redemption = self.model.redemptions[redemption_id]
        end_of_day = clock.expiry(CLOCK.now(), 0)
        if redemption.status == "pending" and min(at for at, _ in redemption.consumed) < end_of_day:
            seen("give up: a lot comes back re-dated")
        expected = self.model.refund(redemption_id, end_of_day)
        self.touched.add(redemption.member)
        self.catalog_changed = True
        seen(f"give up: refunded={expected}")
        note(f"give up on {redemption_id}: expect {expected}")
        assert fulfilment.give_up(redemption_id, Exception("model: the provider failed for good")) is expected
        assert fulfilment.give_up(redemption_id, Exception("model: again")) is False
        self.check_redemption(redemption_id)

    # --- clawback ------------------------------------------------------------------------------

    def refund_properties(self, kind: str, target: str, share: float, index: int) -> dict:
        """A refund of all that is left, of an `amount`, or up to a cumulative `refunded_total` (a share of
        the purchase's amount, or any amount for an earn that has none)."""
        if kind == "all":
            return {"reverses": target}
        basis = self.model.earns[target].basis
        amount = round(basis * share, 2) if basis else pick(index, AMOUNTS)
        return {"reverses": target, "amount" if kind == "amount" else "refunded_total": amount}

    def purchase(self, member: str, index: int) -> None:
        """A purchase that earns points, for a refund to take back."""
        self.record_earn({"id": self.new_key("evt"), "type": "purchase", "member": member,
                          "properties": {"amount": pick(index, [1234.5, 1999, 5000])}})

    def own_earns(self, member: str, index: int) -> list[str]:
        """Earns of `member` to refund: mostly those with points left to take back, sometimes any (a visit, a
        0-point one, one already taken back)."""
        own = [eid for eid, earn in sorted(self.model.earns.items()) if earn.member == member]
        rich = [eid for eid in own if self.model.earns[eid].points > self.model.earns[eid].reversed]
        return rich if rich and index % 4 else own

    @property
    def refunds(self) -> list[str]:
        return [eid for eid, (body, _) in self.model.events.items() if body["type"] in REFUND_TYPES]

    @staticmethod
    def record_clawback(model: LedgerModel, body: dict, answer: dict) -> tuple[int, int]:
        """`model` after a recorded refund, whose answer takes back what the model says it takes."""
        target = body["properties"]["reverses"]
        owed, taken = model.claw_back(body["id"], body["type"], target, body["properties"])
        assert answer["points"] == -taken, (body, answer, owed, taken)
        assert [(t["kind"], t["points"], t["reverses"], t["event_id"]) for t in answer["transactions"]] == (
            [("reverse", -taken, target, body["id"])] if taken else []), answer
        model.events[body["id"]] = (body, answer)
        return owed, taken

    def clawback_outcome(self, owed: int, taken: int) -> str:
        if not owed:
            return "owes nothing"
        if taken == owed:
            return "all taken"
        return "short: debt" if self.model.allow_debt else "short: forgiven"

    @rule(data=st.data())
    def clawback(self, data):
        """Refunds and cancellations of earlier earns (after hours in which their points may have expired): all,
        an amount, or a cumulative total, one by one or a few at once; of an unknown or another member's
        purchase (404) or of none (400); replayed (the first answer), or another body under a used id (409),
        such as its purchase's own. Sometimes the member then buys again, which pays any debt first."""
        mode_index, member, event_type, index, share, hours, at_once = data.draw(st.tuples(
            INDEX, st.sampled_from(PICK), st.sampled_from(REFUND_TYPES), INDEX, st.sampled_from(SHARES),
            st.sampled_from([0, 0, 0, 49]), st.lists(st.tuples(st.sampled_from(AT_ONCE), st.sampled_from(SHARES)),
                                                     min_size=3, max_size=3)))
        mode = pick(mode_index, ["all", "amount", "amount", "total", "total", "at once", "at once", "unknown",
                                 "another's", "unnamed"] + (["replay", "replay", "conflict"] if self.refunds else []))
        refunds_own = mode in ("all", "amount", "total", "at once")
        if refunds_own and not any(earn.points for earn in self.model.earns.values() if earn.member == member):
            self.purchase(member, index)  # something to refund
        if hours:
            self.time_passes(hours)
        if mode == "at once":
            self.clawbacks_at_once(pick(index, self.own_earns(member, index)), event_type, index, at_once)
        else:
            self.clawback_event(mode, member, event_type, index, share)
        if refunds_own and index % 3 == 0:
            self.purchase(member, index)  # the member buys again, paying any debt the refund left first

    def clawback_event(self, mode: str, member: str, event_type: str, index: int, share: float):
        """One refund or cancel event over the API, answered as the model says."""
        body = {"id": self.new_key("rfd"), "type": event_type, "member": member}
        if mode in ("all", "amount", "total"):
            target = pick(index, self.own_earns(member, index))
            body["properties"] = self.refund_properties(mode, target, share, index)
        elif mode == "unknown":
            body["properties"] = {"reverses": f"order-{next(self.counter)}", "amount": 100}
        elif mode == "another's":
            others = [eid for eid, earn in sorted(self.model.earns.items()) if earn.member != member]
            body["properties"] = {"reverses": pick(index, others) if others else f"order-{next(self.counter)}"}
        elif mode == "unnamed":
            body["properties"] = {"amount": 100}
        else:
            first_body, first = self.model.events[pick(index, self.refunds)]
            body = first_body
            if mode == "conflict":
                reverses = first_body["properties"]["reverses"]
                body = ({**body, "properties": {**body["properties"], "amount": 1}} if index % 2 else
                        {**body, "id": reverses, "properties": {"reverses": reverses}})  # its purchase's own id
        note(f"clawback {mode}: {body}")
        self.touched.add(body["member"])
        status, answer = self.call("POST", "/events", body)
        seen(f"clawback: {mode} -> {status}")
        if mode == "replay":
            assert (status, answer) == (200, first), (status, answer, first)
        elif mode == "conflict":
            self._expect_error(status, answer, 409, "idempotency_conflict")
        elif mode == "unnamed":
            self._expect_error(status, answer, 400, "validation_error")
        elif body["properties"]["reverses"] not in self.model.earns or mode == "another's":
            self._expect_error(status, answer, 404, "not_found")
        else:
            assert status == 201, (status, answer)
            target = body["properties"]["reverses"]
            earned = self.model.events[target][1]["transactions"][:1]
            if earned and earned[0]["kind"] == "earn" and earned[0]["expires_at"] <= clock.iso(CLOCK.now()):
                seen("clawback: after its points expired")
            owed, taken = self.record_clawback(self.model, body, answer)
            seen(f"clawback: {self.clawback_outcome(owed, taken)}")
            self.check_snapshot(member, answer["balance"])
            self.check_reversed(target)

    def clawbacks_at_once(self, target: str, event_type: str, index: int, at_once: list[tuple[str, float]]):
        """Three events of the purchase's member at once, straight into the domain layer from threads: refunds
        of it, a second copy of one ("again"), a visit that may pay debt. The purchase never gives back more
        than it earned, and one serial order of the successes explains every answer."""
        member = self.model.earns[target].member
        events = []
        for kind, share in at_once:
            if kind == "again" and events:
                events.append(events[-1])
            elif kind == "visit":
                events.append({"id": self.new_key("evt"), "type": "visit", "member": member})
            else:
                events.append({"id": self.new_key("rfd"), "type": event_type, "member": member,
                               "properties": self.refund_properties("all" if kind == "again" else kind, target,
                                                                    share, index)})
        self.touched.add(member)
        barrier = threading.Barrier(len(events))

        def run(body):
            barrier.wait()
            try:
                return "ok", earning.record_event(self.org_id, self.program_id, body)[0]
            except LaurelError as error:
                return error.code, None

        with ThreadPoolExecutor(len(events)) as pool:
            outcomes = list(pool.map(run, events))
        note(f"at once, clawbacks of {target}: {list(zip(events, [o for o, _ in outcomes]))}")
        assert {outcome for outcome, _ in outcomes} <= {"ok", "busy"}, outcomes  # busy: gave up, wrote nothing
        answers = {}
        for body, (outcome, answer) in zip(events, outcomes):
            if outcome == "ok":
                assert answers.setdefault(body["id"], answer) == answer, ("a copy answered otherwise", outcomes)
        seen(f"clawback: at once, {len(answers)} recorded")
        self.model = self.serialize(member, [body for body in {b["id"]: b for b in events}.values()
                                             if body["id"] in answers], answers)
        self.check_reversed(target)

    def serialize(self, member: str, bodies: list[dict], answers: dict) -> LedgerModel:
        """The model after the recorded events in a serial order that explains the points and the balance each
        answer shows (they leave few orders possible; if those end differently, the balance now decides)."""
        snapshot = ("available", "debt", "lifetime_earned")
        explained, tried = {}, []
        for order in itertools.permutations(bodies):
            model, outcomes = self.model.copy(), []
            try:
                for body in order:
                    answer = answers[body["id"]]
                    if body["type"] == "visit":
                        earned = answer["transactions"][0]
                        day = earned["created_at"][:10]
                        points = model.earned_by(member, 10, day)
                        assert answer["points"] == points and earned["kind"] == "earn", answer
                        settled = model.earn(member, body["id"], points, earned["expires_at"], day)
                        model.events[body["id"]] = (body, answer)
                        self.check_settlement(answer["transactions"][1:], settled, body["id"])
                        outcomes.append("visit pays debt" if settled else "visit")
                    else:
                        outcomes.append(self.clawback_outcome(*self.record_clawback(model, body, answer)))
                    expected = model.balance(member, clock.day(CLOCK.now()))
                    assert all(answer["balance"][k] == expected[k] for k in snapshot), (answer, expected)
            except AssertionError as mismatch:
                tried.append((order, mismatch))
                continue
            end = tuple(model.balance(member, clock.day(CLOCK.now()))[k] for k in snapshot)
            explained.setdefault(end, (model, outcomes))
        assert explained, f"no serial order explains the answers: {tried}"
        if len(explained) > 1:
            status, final = self.call("GET", f"/members/{member}/balance")
            assert status == 200 and tuple(final[k] for k in snapshot) in explained, (final, list(explained))
            explained = {end: explained[end] for end in [tuple(final[k] for k in snapshot)]}
        (model, outcomes), = explained.values()
        for outcome in outcomes:
            seen(f"clawback: at once, {outcome}")
        return model

    # --- time and expiry -----------------------------------------------------------------------

    @rule(hours=st.sampled_from([0, 1, 6, 20, 30, 49]))
    def time_passes(self, hours):
        """The clock moves on and the expiry job runs (hourly, so never a day behind): every lot due by
        now goes, as one `expire` entry per member; a second run at the same time expires nothing."""
        CLOCK.offset += timedelta(hours=hours)
        now = CLOCK.now()
        result = run_expiry_job(now, self.job_last_day)
        self.job_last_day = clock.day(now)
        expired = self.model.expire(clock.iso(now))
        self.touched.update(expired)
        seen(f"expire: {'some' if expired else 'none'} due")
        note(f"+{hours} h, expiry job at {clock.iso(now)}: {expired}")
        assert result["points_expired"] >= sum(expired.values()), result  # other tests' members may be due too

    # --- concurrency ---------------------------------------------------------------------------

    @rule(index=INDEX, ops=st.lists(st.sampled_from([("redeem", "cash"), ("redeem", "gift"), ("debit", 5),
                                                    ("debit", 25)]), min_size=4, max_size=4))
    def concurrent_debits(self, index, ops):
        """Four redemptions or debits of one member at once, straight into the domain layer from threads."""
        member = pick(index, self.existing())
        keys = [self.new_key("cc") for _ in ops]
        self.touched.add(member)
        self.catalog_changed = True
        barrier = threading.Barrier(len(ops))

        def run(index):
            kind, what = ops[index]
            barrier.wait()
            try:
                if kind == "redeem":
                    answer, _ = redemptions.create(self.org_id, self.program_id, member,
                                                   {"reward_id": self.reward_ids[what], "quantity": 1}, keys[index])
                else:
                    answer, _ = adjustments.adjust(self.org_id, self.program_id, member, -what,
                                                   f"adjust {keys[index]}", keys[index])
                return "ok", answer
            except LaurelError as error:
                return error.code, None

        with ThreadPoolExecutor(len(ops)) as pool:
            outcomes = list(pool.map(run, range(len(ops))))
        note(f"concurrent {member}: {list(zip(ops, [o for o, _ in outcomes]))}")
        seen(f"concurrent: {sum(o == 'ok' for o, _ in outcomes)} of 4 ok")
        self.model = self.linearize(member, ops, keys, outcomes)

    def linearize(self, member, ops, keys, outcomes) -> LedgerModel:
        """The model after the successes in commit order; each refusal must be true of the end state.

        A member's entries are written in commit order (each attempt reads the member after the
        previous write), so `created_at` orders them. Debits only lower the balance and the stock,
        so a call refused at any moment would be refused at the end too.
        """
        def created_at(index):
            answer = outcomes[index][1]
            return answer["created_at"] if ops[index][0] == "redeem" else answer["transaction"]["created_at"]

        model = self.model.copy()
        done = sorted((i for i, (outcome, _) in enumerate(outcomes) if outcome == "ok"), key=created_at)
        for index in done:
            (kind, what), answer = ops[index], outcomes[index][1]
            if kind == "redeem":
                assert model.refusal(member, what, 1) is None, ("over-spent or over-sold", ops, outcomes)
                assert answer["points"] == COSTS[what] and answer["status"] == "pending", answer
                model.redeem(member, what, 1, answer["id"])
            else:
                assert what <= model.members[member].available, ("over-spent", ops, outcomes)
                model.adjust(member, -what, f"adjust {keys[index]}", None)
        for (kind, what), (outcome, _) in zip(ops, outcomes):
            if outcome == "insufficient_points":
                needed = COSTS[what] if kind == "redeem" else what
                assert needed > model.members[member].available, ("refused with points to spare", ops, outcomes)
            elif outcome == "out_of_stock":
                assert kind == "redeem" and what == "gift" and model.stock < 1, ("refused with stock", ops, outcomes)
            else:
                assert outcome in ("ok", "busy"), outcome  # busy: gave up under contention, wrote nothing
        return model

    # --- catalog -------------------------------------------------------------------------------

    @rule(choices=st.lists(st.integers(-1, 2**16), min_size=1, max_size=3))
    def add_codes(self, choices):
        """Codes added to the gift card, some of them new, some already known (duplicates add nothing)."""
        known = sorted(self.model.codes)
        self._add_codes([self.new_code() if n < 0 else known[n % len(known)] for n in choices])

    # --- the books -----------------------------------------------------------------------------

    def check_redemption(self, redemption_id: str) -> dict:
        expected = self.model.redemptions[redemption_id]
        status, answer = self.call("GET", f"/redemptions/{redemption_id}")
        assert status == 200 and answer["status"] == expected.status, (answer, expected)
        assert (answer["member"], answer["points"], answer["quantity"]) == (
            expected.member, expected.points, expected.quantity), answer
        if expected.reward == "gift" and expected.status == "fulfilled":
            codes = answer["fulfillment"]["codes"]
            assert len(codes) == expected.quantity and set(codes) <= self.model.codes, answer
            assert answer["fulfillment"]["code"] == codes[0]
            expected.code = tuple(codes)
        return answer

    def transactions(self, member: str, page_size: int, newer_than: Optional[str] = None) -> list[dict]:
        """The member's transactions, newest first: all pages, or those down to `newer_than` (inclusive)."""
        items, cursor = [], None
        while True:
            query = f"?limit={page_size}" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.call("GET", f"/members/{member}/transactions{query}")
            assert status == 200 and len(page["items"]) <= page_size, page
            for item in page["items"]:
                if newer_than is not None and item["created_at"] < newer_than:
                    return items
                items.append(item)
            cursor = page["next_cursor"]
            if not cursor:
                return items

    @staticmethod
    def reference(t: dict) -> tuple:
        """A transaction as the model names it: the event, the adjustment's reason (it names the key), the redemption."""
        ref = {"earn": t.get("event_id"), "adjust": t.get("reason"), "redeem": t.get("redemption_id"),
               "refund": t.get("redemption_id"),
               "reverse": (t.get("reverses"), t.get("event_id"), t.get("reason"))}.get(t["kind"])
        return t["kind"], t["points"], ref

    def check_entries(self, name: str, entries: list[dict], expected: list[tuple], before: int, balance: dict):
        """Entries (newest first) are exactly the model's, add up, and each balance_after follows on."""
        assert sorted(map(self.reference, entries), key=repr) == sorted(expected, key=repr), (name, entries, expected)
        assert before + sum(t["points"] for t in entries) == balance["available"] + balance["pending"], (name, entries)
        stamps = [t["created_at"] for t in entries]
        assert stamps == sorted(stamps, reverse=True), stamps
        ids = {t["id"] for t in entries}
        # a debt settlement shares its credit's time and id (plus "d"), and is listed just after it
        settlements = {t["id"] for t in entries if t.get("reason") == SETTLED and t["id"][:-1] in ids}
        stamps = [t["created_at"] for t in entries if t["id"] not in settlements]
        if len(set(stamps)) == len(stamps):  # commit order is created_at order, barring a tie in the same ms
            running = before
            for t in reversed(entries):
                running += t["points"]
                assert t["balance_after"] == running >= 0, (name, entries)

    @invariant()
    def books_balance(self):
        """After every step: each balance is the model's; for each member the step addressed, the transactions
        added since are exactly the model's new entries, so the ledger still adds up to available + pending;
        after any step that may move the catalog, the gift card's stock and free codes are the model's."""
        for name in MEMBERS:
            expected = self.model.members[name]
            status, balance = self.call("GET", f"/members/{name}/balance")
            if not expected.exists:
                assert status == 404, (name, balance)
                continue
            assert status == 200, balance
            assert balance["available"] >= 0 and balance["pending"] == 0 and balance["debt"] >= 0, balance
            assert self.model.allow_debt or balance["debt"] == 0, balance
            model_balance = self.model.balance(name, clock.day(CLOCK.now()))
            assert {k: balance[k] for k in model_balance} == model_balance, (name, balance, model_balance)
            if name not in self.touched:
                continue  # its balance is as before; its whole ledger is read again at the end of the run
            book = self.books.setdefault(name, {"ids": set(), "sum": 0, "count": 0, "newest": None})
            new_entries = expected.entries[book["count"]:]
            # one page normally holds them all: the new entries and the newest one already checked
            listed = self.transactions(name, page_size=min(100, len(new_entries) + 2), newer_than=book["newest"])
            fresh = [t for t in listed if t["id"] not in book["ids"]]
            self.check_entries(name, fresh, new_entries, book["sum"], balance)
            book["ids"].update(t["id"] for t in fresh)
            book["sum"] += sum(t["points"] for t in fresh)
            book["count"] = len(expected.entries)
            book["newest"] = max([book["newest"] or ""] + [t["created_at"] for t in fresh]) or None
        self.touched = set()
        if self.catalog_changed:
            self.check_catalog()
            self.catalog_changed = False

    def check_catalog(self):
        """The gift card's stock and its pool of free codes are the model's; no code was handed out twice."""
        status, gift = self.call("GET", f"/rewards/{self.reward_ids['gift']}")
        assert status == 200 and gift["stock"] == self.model.stock >= 0, (gift, self.model.stock)
        free = db.index_keys("gsi2", f"CODEPOOL#{self.reward_ids['gift']}", 1000)
        assert len(free) == self.model.free_codes(), (len(free), self.model.free_codes())
        codes = [code for r in self.model.redemptions.values() if r.code for code in r.code]
        assert len(codes) == len(set(codes)), codes

    def teardown(self):
        """Every redemption reaches a final status, and every page of every ledger matches the model."""
        if not hasattr(self, "model"):
            return
        self.stack.pump("FulfilmentFunction")
        self.model.fulfil_all()
        self.touched, self.catalog_changed = set(MEMBERS), True
        for redemption_id in self.model.redemptions:
            assert self.check_redemption(redemption_id)["status"] in ("fulfilled", "failed")
        self.books_balance()
        for name in self.existing():
            balance = self.call("GET", f"/members/{name}/balance")[1]
            entries = self.transactions(name, page_size=PAGE)
            assert len({t["id"] for t in entries}) == len(entries)
            self.check_entries(name, entries, self.model.members[name].entries, 0, balance)
            self.check_events_counted_once(entries)
        self.forget()

    @staticmethod
    def check_events_counted_once(entries: list[dict]) -> None:
        """From the ledger alone: each event earned or clawed back at most once, and no purchase gave back
        more than it earned."""
        counted = Counter((t["kind"], t["event_id"]) for t in entries
                          if t["kind"] == "earn" or (t["kind"] == "reverse" and t.get("reverses")))
        assert set(counted.values()) <= {1}, counted
        earned = {t["event_id"]: t["points"] for t in entries if t["kind"] == "earn"}
        given_back = Counter()
        for t in entries:
            if t["kind"] == "reverse" and t.get("reverses"):
                given_back[t["reverses"]] -= t["points"]
        assert all(0 < points <= earned.get(target, 0) for target, points in given_back.items()), (given_back, earned)

    def forget(self):
        """Delete this run's items once it has passed: moto reads a whole table for every index query, so
        a table that keeps growing slows every later run and every later test of this worker."""
        table = self.stack.env["LAUREL_TABLE"]
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        marks = (self.org_id, self.program_id, *self.reward_ids.values(), *self.model.redemptions)
        doomed = [{"pk": item["pk"], "sk": item["sk"]}
                  for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk")
                  for item in page["Items"] if any(mark in item["pk"]["S"] for mark in marks)]
        for start in range(0, len(doomed), 25):
            dynamodb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}}
                                                            for key in doomed[start:start + 25]]})


def test_the_ledger_matches_its_model(stack, api):
    # Given the deployed stack, a clock the machine can move, queues polled without long-poll waits
    LedgerMachine.stack, LedgerMachine.api = stack, api
    # (the expiry job's reminders touch no balance, and their week of index reads per run is slow on moto)
    with mock.patch.object(clock, "now", CLOCK.now), \
            mock.patch.object(expiry, "remind_expiring", lambda now: 0), \
            mock.patch.object(lambda_runtime, "_RECEIVE_WAIT_SECONDS", 0), \
            mock.patch.dict(os.environ, {"LAUREL_RATE_LIMIT_PER_SECOND": "100000",
                                         "LAUREL_RATE_LIMIT_BURST": "100000"}):
        # When random sequences of calls run, Then the books match the model after every step
        run_state_machine_as_test(LedgerMachine, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    print("\nmodel-based ledger test exercised:", dict(sorted(STATS.items())))


def test_points_refunded_after_their_expiry_day_still_expire(stack, api):
    offset = timedelta(0)
    with mock.patch.object(clock, "now", lambda: FakeClock.real_now() + offset):
        # Given a program whose points expire after a day, and a member who earned 100 and redeemed 30 of them
        start = clock.now()
        admin = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": "Expiry"})[1]["admin_key"]["secret"]
        program = api.call("POST", "/v1/programs", admin, {"name": "P", "points_expiry_days": 1,
                                                            "earn_rules": [{"event_type": "visit", "points": 100}]})[1]
        path = f"/v1/programs/{program['id']}"
        assert api.call("POST", f"{path}/events", admin, {"id": "v1", "type": "visit", "member": "eve"})[0] == 201
        reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "C", "cost": 30})[1]
        status, redeemed = api.call("POST", f"{path}/members/eve/redemptions", admin, {"reward_id": reward["id"]},
                                    {"Idempotency-Key": "r1"})
        assert status == 202
        # When the expiry day passes and the job expires the other 70 points
        offset = timedelta(days=2)
        assert run_expiry_job(clock.now(), clock.day(start))["points_expired"] >= 70
        # And only then does the fulfilment fail for good: the 30 points come back, expiring at the end of today
        assert fulfilment.give_up(redeemed["id"], Exception("provider down")) is True
        balance = api.call("GET", f"{path}/members/eve/balance", admin)[1]
        assert balance["expiring"] == [{"points": 30, "expires_at": clock.expiry(clock.now(), 0)}], balance
        # And the member earns 100 more, and the job keeps running every day after
        assert api.call("POST", f"{path}/events", admin, {"id": "v2", "type": "visit", "member": "eve"})[0] == 201
        last_day = clock.day(clock.now())
        for day in (3, 4, 5):
            offset = timedelta(days=day)
            run_expiry_job(clock.now(), last_day)
            last_day = clock.day(clock.now())
        # Then every one of those points has expired by now
        balance = api.call("GET", f"{path}/members/eve/balance", admin)[1]
        assert (balance["available"], balance["expiring"]) == (0, []), balance
