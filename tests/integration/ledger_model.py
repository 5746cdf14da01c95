"""A deliberately simple in-memory model of one program's ledger, for tests/integration/test_model_ledger.py.

It restates the contract and the balance semantics of chalicelib/members/lots.py in a few lines of plain
Python, without importing them, so the model-based test compares the real API against an
independent statement of what it should do:

- every credit (earn, positive adjustment) expires as a lot `[expires_at, points]`; the program
  under test has `points_expiry_days`, so `available` is the sum of the member's lots;
- a debit (redemption, negative adjustment) takes points from the soonest-expiring lots first and
  never takes more than `available`;
- a refund puts a redemption's points back into the lots they came from; a lot whose expiry has
  passed meanwhile comes back expiring at the end of the refund's day (so the job still takes it);
- expiry drops every lot due by the job's `now`, as one `expire` entry per member;
- `lifetime_earned` counts earn events and positive adjustments; `lifetime_spent` counts
  redemptions, less refunds; a debit by adjustment and expiry change neither;
- earn events (not adjustments) count toward the tier window, the points earned in the last 365
  days; a member enters the one tier on the earn that brings its window to the tier's threshold
  and keeps it (only the scheduled tier recalculation moves a member down, and these runs never
  reach it); the tier multiplies what an event earns while the member is in it;
- clawback: a refund or cancel event names an earn in `properties.reverses` and owes back all that
  is left of it, or the share (rounded down) of an `amount` of its purchase's amount, or of a
  cumulative `refunded_total` less what was already owed back; never more than the earn gave in
  all. The owed points leave `lifetime_earned` and the tier window; they are taken from the lots
  soonest-expiring first as far as `available` goes; the rest becomes `debt` if the program allows
  it, else is forgiven. Every later earn event or adjustment first pays the debt from `available`
  in a `reverse` entry of its own (a redemption refund does not).
"""
import copy
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

SETTLED = "debt settled from new points"  # the reason of the entry by which a credit pays debt
WINDOW_DAYS = 365


@dataclass
class MemberModel:
    external_id: str
    exists: bool = False
    lots: dict[str, int] = field(default_factory=dict)  # expires_at -> points
    lifetime_earned: int = 0
    lifetime_spent: int = 0
    debt: int = 0
    earned: dict[str, int] = field(default_factory=dict)  # day -> points earned by events (the tier window)
    in_tier: bool = False  # reached on an earn; kept, as no scheduled recalculation runs
    entries: list[tuple] = field(default_factory=list)  # (kind, points, reference)

    @property
    def available(self) -> int:
        return sum(self.lots.values())

    def credit(self, points: int, expires_at: str) -> None:
        self.lots[expires_at] = self.lots.get(expires_at, 0) + points

    def debit(self, points: int) -> list[tuple[str, int]]:
        """Take points, soonest-expiring first; returns the lots consumed."""
        assert 0 < points <= self.available
        consumed, remaining = [], points
        for at in sorted(self.lots):
            take = min(remaining, self.lots[at])
            if take:
                consumed.append((at, take))
                self.lots[at] -= take
                remaining -= take
        self.lots = {at: p for at, p in self.lots.items() if p}
        return consumed

    def restore(self, consumed: list[tuple[str, int]], not_before: str) -> None:
        for at, points in consumed:
            self.credit(points, max(at, not_before))

    def expire(self, cutoff_iso: str) -> int:
        due = sum(p for at, p in self.lots.items() if at <= cutoff_iso)
        self.lots = {at: p for at, p in self.lots.items() if at > cutoff_iso}
        return due

    def window(self, today: str) -> int:
        start = (datetime.fromisoformat(today) - timedelta(days=WINDOW_DAYS - 1)).strftime("%Y-%m-%d")
        return sum(p for day, p in self.earned.items() if start <= day <= today)

    def expiring(self) -> list[dict]:
        return [{"points": p, "expires_at": at} for at, p in sorted(self.lots.items()) if p][:10]


@dataclass
class RedemptionModel:
    redemption_id: str
    member: str
    reward: str  # "cash" or "gift"
    quantity: int
    points: int
    consumed: list[tuple[str, int]]
    status: str = "pending"
    code: Optional[str] = None


@dataclass
class EarnModel:
    """An earn event: what it gave, the amount partial refunds are measured against, what was owed back."""

    member: str
    points: int
    basis: Optional[float]  # the purchase's amount, kept if it earned points (the test's amounts all fit DynamoDB)
    day: str  # the UTC day it was earned on (its place in the tier window)
    reversed: int = 0


def number(value) -> Optional[float]:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class LedgerModel:
    """One program: its members, the keys it has seen, its redemptions and its two rewards."""

    members: dict[str, MemberModel]
    costs: dict[str, int]  # reward -> cost
    events: dict[str, tuple] = field(default_factory=dict)  # event id -> (body, first answer)
    adjustments: dict[str, tuple] = field(default_factory=dict)  # key -> (body, first answer)
    redemption_keys: dict[str, tuple] = field(default_factory=dict)  # key -> (body, first answer)
    redemptions: dict[str, RedemptionModel] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)  # every gift-card code added
    stock: int = 0  # the gift card's stock (unlimited cashback has none)
    tier: tuple[str, int, float] = ("Silver", 100, 1.5)  # the program's one tier: name, min_points, multiplier
    allow_debt: bool = False
    earns: dict[str, EarnModel] = field(default_factory=dict)  # event id -> the earn it recorded

    def copy(self) -> "LedgerModel":
        return copy.deepcopy(self)

    # --- what each change should do ----------------------------------------------------------

    def tier_of(self, member: str, today: str) -> Optional[str]:
        return self.tier[0] if self.members[member].in_tier else None

    def earned_by(self, member: str, base_points: int, today: str) -> int:
        """What an event worth `base_points` by the rules earns today: times the tier's multiplier, rounded down."""
        if base_points <= 0 or self.tier_of(member, today) is None:
            return base_points
        return math.floor(base_points * self.tier[2] + 1e-9)

    def earn(self, member: str, event_id: str, points: int, expires_at: Optional[str], day: str,
             basis: Optional[float] = None) -> int:
        """Record an earn event (it pays any debt first); returns the points that went to the debt."""
        m = self.members[member]
        m.exists = True
        if points:
            m.credit(points, expires_at)
            m.lifetime_earned += points
            m.earned[day] = m.earned.get(day, 0) + points
            m.entries.append(("earn", points, event_id))
            m.in_tier = m.in_tier or m.window(day) >= self.tier[1]
        has_basis = points and number(basis) is not None and basis > 0
        self.earns[event_id] = EarnModel(member, points, basis if has_basis else None, day)
        return self.settle(member, event_id)

    def adjust(self, member: str, points: int, reason: str, expires_at: Optional[str]) -> int:
        m = self.members[member]
        if points > 0:
            m.credit(points, expires_at)
            m.lifetime_earned += points
        else:
            m.debit(-points)
        m.entries.append(("adjust", points, reason))
        return self.settle(member, None)

    def settle(self, member: str, event_id: Optional[str]) -> int:
        """Pay the debt from what is available, as a `reverse` entry of its own; returns the points paid."""
        m = self.members[member]
        settled = min(m.debt, m.available)
        if settled:
            m.debit(settled)
            m.debt -= settled
            m.entries.append(("reverse", -settled, (None, event_id, SETTLED)))
        return settled

    def owed(self, target: str, properties: dict) -> int:
        """What a refund of earn `target` owes back (chalicelib/earning/clawback.py's `_owed`, restated)."""
        earn = self.earns[target]
        remaining = earn.points - earn.reversed
        total, amount = number(properties.get("refunded_total")), number(properties.get("amount"))

        def share(of: float) -> int:  # rounded down; past any float, all or none
            exact = earn.points * of / float(earn.basis)
            return math.floor(exact) if math.isfinite(exact) else earn.points * (exact > 0)

        if earn.basis and total is not None:
            return max(0, min(remaining, share(total) - earn.reversed))
        if earn.basis and amount is not None:
            return max(0, min(remaining, share(amount)))
        return remaining

    def claw_back(self, event_id: str, event_type: str, target: str, properties: dict) -> tuple[int, int]:
        """A refund or cancel of earn `target` (the caller checked it is the sender's): returns (owed, taken)."""
        earn = self.earns[target]
        m = self.members[earn.member]
        owed = self.owed(target, properties)
        taken = min(owed, m.available)
        if taken:
            m.debit(taken)
            m.entries.append(("reverse", -taken, (target, event_id, f"{event_type} of {target}")))
        m.lifetime_earned = max(0, m.lifetime_earned - owed)
        if earn.day in m.earned:
            m.earned[earn.day] = max(0, m.earned[earn.day] - owed)
        if self.allow_debt:
            m.debt += owed - taken
        earn.reversed += owed
        return owed, taken

    def refusal(self, member: str, reward: str, quantity: int) -> Optional[str]:
        """Why a redemption would be refused now (the API checks stock before points), or None."""
        if reward == "gift" and self.stock < quantity:
            return "out_of_stock"
        if self.costs[reward] * quantity > self.members[member].available:
            return "insufficient_points"
        return None

    def redeem(self, member: str, reward: str, quantity: int, redemption_id: str) -> RedemptionModel:
        points = self.costs[reward] * quantity
        m = self.members[member]
        consumed = m.debit(points)
        m.lifetime_spent += points
        m.entries.append(("redeem", -points, redemption_id))
        if reward == "gift":
            self.stock -= quantity
        redemption = RedemptionModel(redemption_id, member, reward, quantity, points, consumed)
        self.redemptions[redemption_id] = redemption
        return redemption

    def fulfil_all(self) -> list[RedemptionModel]:
        moved = [r for r in self.redemptions.values() if r.status == "pending"]
        for redemption in moved:
            redemption.status = "fulfilled"
        return moved

    def refund(self, redemption_id: str, end_of_day: str) -> bool:
        """Give a pending redemption's points back; `end_of_day` is the end of the refund's UTC day."""
        redemption = self.redemptions[redemption_id]
        if redemption.status != "pending":
            return False
        m = self.members[redemption.member]
        m.restore(redemption.consumed, end_of_day)
        m.lifetime_spent -= redemption.points
        m.entries.append(("refund", redemption.points, redemption_id))
        if redemption.reward == "gift":
            self.stock += redemption.quantity  # the codes were never assigned: the stock comes back
        redemption.status = "failed"
        return True

    def expire(self, cutoff_iso: str) -> dict[str, int]:
        expired = {}
        for m in self.members.values():
            points = m.expire(cutoff_iso)
            if points:
                m.entries.append(("expire", -points, None))
                expired[m.external_id] = points
        return expired

    def add_codes(self, codes: list[str]) -> tuple[int, int]:
        fresh = [code for code in dict.fromkeys(codes) if code not in self.codes]
        self.codes.update(fresh)
        self.stock += len(fresh)
        return len(fresh), len(codes) - len(fresh)

    # --- what the API should show --------------------------------------------------------------

    def free_codes(self) -> int:
        used = sum(r.quantity for r in self.redemptions.values() if r.reward == "gift" and r.status == "fulfilled")
        return len(self.codes) - used

    def balance(self, member: str, today: str) -> dict:
        m = self.members[member]
        return {"available": m.available, "pending": 0, "lifetime_earned": m.lifetime_earned,
                "lifetime_spent": m.lifetime_spent, "tier": self.tier_of(member, today),
                "expiring": m.expiring(), "debt": m.debt}
