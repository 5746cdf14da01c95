"""The account in monthly pieces against the old arithmetic: random earns, holds and their release, spends,
refunds, clawbacks and expiry, years apart so that months are sealed into buckets and read back, run through
chalicelib.members.account on moto and, side by side, through the pure arithmetic of chalicelib.members.lots
on one whole wallet (what the account was before it was split). After every step the stored account, read
whole, must equal the model; its balance answer must equal the model's; and the
member item must stay small however long the history.
"""
import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib.core import clock, db
from chalicelib.core.transact import Tx
from chalicelib.members import account, history, lots, standing
from chalicelib.members.lots import Wallet

START = datetime(2025, 1, 1, 9, tzinfo=timezone.utc)
EXPIRY_DAYS = (20, 45, 90, 200, 400)
WINDOW_DAYS = 60
TIERS = [{"name": "Silver", "min_points": 300}, {"name": "Gold", "min_points": 900}]
ITEM_LIMIT = 1000  # bytes of the member item: it must not grow with history


class _Original:
    """What a clawback reads of the earn it reverses."""

    def __init__(self, created_at: str, points: int):
        self.created_at, self.available_at, self.points, self.basis = created_at, None, points, None


class MonthlyPieces(RuleBasedStateMachine):
    sealed_months_read = 0  # across the run: the test must have sealed months to mean anything

    def __init__(self):
        super().__init__()
        self.now = START
        self.model = Wallet()
        self.spends: list[tuple[int, tuple]] = []
        self.earns: list[_Original] = []

    @initialize()
    def enrol(self):
        self.member_id = f"hist-{uuid.uuid4().hex[:10]}"
        self.program = db.ProgramItem(*db.ProgramItem.key("org", "prg"), org_id="org", program_id="prg", name="p",
                                      currency_name="points", locale="en", points_expiry_days=EXPIRY_DAYS[1],
                                      tiers=TIERS, tier_policy={"window_days": WINDOW_DAYS},
                                      created_at="x", updated_at="x")
        member = account.new_member("org", "prg", self.member_id, clock.iso(self.now))
        member.save()

    # --- the account under test and the model, changed alike ----------------------------------------

    def _account(self) -> account.Account:
        member = db.get(db.MemberItem, db.MemberItem.key("prg", self.member_id))
        return account.Account(self.program, member, self.now)

    @staticmethod
    def _write(change: account.Account) -> None:
        tx = Tx()
        change.stage(tx)
        tx.commit()

    def _window_day(self) -> str:
        return clock.day(self.now)

    @rule(days=st.integers(0, 40), hours=st.integers(0, 23))
    def time_passes(self, days, hours):
        self.now += timedelta(days=days, hours=hours)

    @rule(points=st.integers(1, 120), expiry=st.sampled_from(EXPIRY_DAYS))
    def earn(self, points, expiry):
        self.program.points_expiry_days = expiry
        change = self._account()
        expires_at = change.credit(points, toward_window=True)
        change.settle(Tx())
        self._write(change)
        self.model = lots.credit(self.model, points, expires_at=expires_at, earned_on=self._window_day())
        self.earns.append(_Original(clock.iso(self.now), points))

    @rule(points=st.integers(1, 80), days=st.integers(1, 40))
    def earn_held(self, points, days):
        change = self._account()
        expires_at, available_at = change.hold(points, days, key=f"e{len(self.earns)}")
        self._write(change)
        self.model = lots.hold(self.model, points, release_at=available_at, key=f"e{len(self.earns)}",
                               expires_at=expires_at)

    @rule(share=st.floats(0.05, 1.2))
    def spend(self, share):
        points = max(1, int(self.model.available * share))
        if points > self.model.available:
            return
        change = self._account()
        consumed = change.debit(points, spend=True)
        self._write(change)
        self.model, expected = lots.debit(self.model, points, spend=True)
        assert consumed == expected
        self.spends.append((points, consumed))

    @precondition(lambda self: self.spends)
    @rule(data=st.data())
    def refund(self, data):
        points, consumed = self.spends.pop(data.draw(st.integers(0, len(self.spends) - 1)))
        change = self._account()
        change.restore(points, consumed)
        self._write(change)
        self.model = lots.restore(self.model, points, consumed, unspend=True, not_before=clock.expiry(self.now, 0))

    @precondition(lambda self: self.earns)
    @rule(data=st.data(), debt=st.booleans())
    def claw_back(self, data, debt):
        original = self.earns.pop(data.draw(st.integers(0, len(self.earns) - 1)))
        change = self._account()
        taken = change.claw_back(original, "k", original.points, allow_debt=debt)
        self._write(change)
        self.model, expected = lots.claw_back(self.model, original.points, earned_on=original.created_at[:10],
                                              allow_debt=debt)
        assert taken == expected

    @rule()
    def fall_due(self):
        change = self._account()
        change.fall_due()
        self.model, released = lots.release(self.model, self.now)
        self.model, _, _ = lots.expire(self.model, self.now)
        if released:
            self.model, _ = lots.settle_debt(self.model)

    # --- what must hold ------------------------------------------------------------------------

    @invariant()
    def the_stored_account_is_the_old_arithmetic(self):
        if not hasattr(self, "member_id"):
            return
        change = self._account()
        today = clock.day(self.now)
        model = lots.prune_earned(self.model, today, WINDOW_DAYS)
        assert change.balance() == _balance(model, change.tier)
        change._reach_window()
        assert standing.measure(self.program, change.wallet, today) == standing.measure(self.program, model, today)
        change._read_history()
        MonthlyPieces.sealed_months_read += sum(len(months) for months in change._buckets.values())
        stored = change.wallet
        assert (stored.available, stored.pending, stored.lifetime_earned, stored.lifetime_spent, stored.debt) == \
            (model.available, model.pending, model.lifetime_earned, model.lifetime_spent, model.debt)
        assert stored.lots == model.lots and stored.holds == model.holds
        start = lots.window_start(today, WINDOW_DAYS)
        assert {d: p for d, p in stored.earned.items() if d >= start} == \
            {d: p for d, p in model.earned.items() if d >= start}

    @invariant()
    def the_member_item_stays_small(self):
        if not hasattr(self, "member_id"):
            return
        member = db.get(db.MemberItem, db.MemberItem.key("prg", self.member_id))
        # Held points are as many as the earns still in their return window: bounded by it, not by history.
        size = sum(len(name) + len(next(iter(value.values())))
                   for name, value in member.serialize().items() if name != "holds")
        assert size <= ITEM_LIMIT, str(member.serialize())
        assert member.lots is None and member.earned is None


def _balance(wallet: Wallet, tier) -> dict:
    balance = {"available": wallet.available, "pending": wallet.pending, "lifetime_earned": wallet.lifetime_earned,
               "lifetime_spent": wallet.lifetime_spent, "tier": tier["name"] if tier else None,
               "expiring": lots.expiring(wallet), "debt": wallet.debt}
    if wallet.holds:
        balance["pending_releases"] = lots.pending_releases(wallet)
    return balance


def test_the_account_in_monthly_pieces_keeps_the_old_arithmetic(stack):
    MonthlyPieces.sealed_months_read = 0
    run_state_machine_as_test(MonthlyPieces, settings=settings(
        max_examples=int(os.environ.get("LAUREL_HISTORY_EXAMPLES", "12")), stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    assert MonthlyPieces.sealed_months_read > 0


def test_placeholders_keep_sums_and_order_of_whole_months():
    detail = {"2025-03-04": 5, "2025-03-30": 7}
    assert history.split(history.WINDOW, {**detail, "2025-06-09": 2}, {}, {}).sealed == {}  # oldest and newest stay
    three = history.split(history.WINDOW, {**detail, "2025-04-02": 3, "2025-06-09": 2}, {}, {})
    assert three.sealed == {"2025-04": 3} and three.writes == {"2025-04": {"2025-04-02": 3}}
    amounts = history.with_placeholders(history.WINDOW, three.resident, three.sealed)
    wallet = replace(Wallet(), earned=amounts)
    assert lots.earned_in_window(wallet, "2025-06-30", 120) == 17
