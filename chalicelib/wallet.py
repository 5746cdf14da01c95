"""A member's balance as pure arithmetic: credits, debits oldest-expiring first, expiry, refunds.

Points that can expire are kept as lots `[expires_at, points]`, oldest first; the rest of
`available` never expires. Nothing here touches the database, so every rule is unit-tested.
"""
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.errors import Conflict

TIER_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Wallet:
    available: int = 0
    pending: int = 0
    lifetime_earned: int = 0
    lifetime_spent: int = 0
    lots: tuple[tuple[str, int], ...] = ()
    earned: dict[str, int] = field(default_factory=dict)
    debt: int = 0  # points clawed back that the balance could not cover (programs that allow debt)

    @property
    def total(self) -> int:
        """What the sum of the member's transactions must equal."""
        return self.available + self.pending


def _sorted(lots) -> tuple[tuple[str, int], ...]:
    """Lots oldest first, one per expiry time, empty ones dropped (keeps the member item small)."""
    merged: dict[str, int] = {}
    for at, points in lots:
        merged[at] = merged.get(at, 0) + points
    return tuple(sorted((at, points) for at, points in merged.items() if points > 0))


def credit(wallet: Wallet, points: int, *, expires_at: str | None, earned_on: str | None) -> Wallet:
    """Add points; `earned_on` counts them toward the tier window, `expires_at` makes them a lot."""
    earned = dict(wallet.earned)
    if earned_on:
        earned[earned_on] = earned.get(earned_on, 0) + points
    lots = wallet.lots + ((expires_at, points),) if expires_at else wallet.lots
    return replace(wallet, available=wallet.available + points,
                   lifetime_earned=wallet.lifetime_earned + points,
                   lots=_sorted(lots), earned=earned)


def debit(wallet: Wallet, points: int, *, spend: bool) -> tuple[Wallet, tuple[tuple[str, int], ...]]:
    """Take points, the soonest-expiring first; returns the lots consumed (for a later refund).

    Raises 409 insufficient_points rather than ever letting `available` go negative.
    """
    if points > wallet.available:
        raise Conflict(f"The member has {wallet.available} points available; {points} are needed.",
                       {"available": wallet.available, "required": points}, code="insufficient_points")
    remaining, consumed, lots = points, [], []
    for at, lot_points in wallet.lots:
        take = min(remaining, lot_points)
        if take:
            consumed.append((at, take))
        remaining -= take
        lots.append((at, lot_points - take))
    return replace(wallet, available=wallet.available - points,
                   lifetime_spent=wallet.lifetime_spent + (points if spend else 0),
                   lots=_sorted(lots)), tuple(consumed)


def restore(wallet: Wallet, points: int, consumed, *, unspend: bool, not_before: str) -> Wallet:
    """Give back points taken by `debit`, into the lots they came from.

    A lot whose expiry passed meanwhile comes back expiring at `not_before` (the end of today), so
    the expiry job, which only looks forward, still takes it.
    """
    lots = tuple((max(at, not_before), lot_points) for at, lot_points in consumed)
    return replace(wallet, available=wallet.available + points,
                   lifetime_spent=wallet.lifetime_spent - (points if unspend else 0),
                   lots=_sorted(tuple(wallet.lots) + lots))


def claw_back(wallet: Wallet, owed: int, *, earned_on: str | None, allow_debt: bool) -> tuple[Wallet, int]:
    """Reverse `owed` earned points: take what is available; the rest becomes debt or is forgiven.

    The points leave lifetime_earned and the tier window too, since they were never really earned.
    Returns the wallet and the points actually taken now.
    """
    taken = min(owed, wallet.available)
    wallet, _ = debit(wallet, taken, spend=False)
    earned = dict(wallet.earned)
    if earned_on in earned:
        earned[earned_on] = max(0, earned[earned_on] - owed)
    return replace(wallet, lifetime_earned=max(0, wallet.lifetime_earned - owed),
                   earned={day: p for day, p in earned.items() if p},
                   debt=wallet.debt + (owed - taken if allow_debt else 0)), taken


def settle_debt(wallet: Wallet) -> tuple[Wallet, int]:
    """Pay outstanding debt from the available points first; returns the points settled."""
    settled = min(wallet.debt, wallet.available)
    if not settled:
        return wallet, 0
    wallet, _ = debit(wallet, settled, spend=False)
    return replace(wallet, debt=wallet.debt - settled), settled


def expire(wallet: Wallet, now: datetime) -> tuple[Wallet, int, str | None]:
    """Drop the lots due by `now`; returns the wallet, the points expired and the last due date."""
    cutoff = clock.iso(now)
    due = [lot for lot in wallet.lots if lot[0] <= cutoff]
    points = sum(lot_points for _, lot_points in due)
    if not points:
        return wallet, 0, None
    kept = tuple(lot for lot in wallet.lots if lot[0] > cutoff)
    return replace(wallet, available=wallet.available - points, lots=kept), points, due[-1][0]


def window_start(today: str) -> str:
    return (datetime.fromisoformat(today) - timedelta(days=TIER_WINDOW_DAYS - 1)).strftime("%Y-%m-%d")


def earned_in_window(wallet: Wallet, today: str) -> int:
    """Points earned in the last 365 days, today included."""
    start = window_start(today)
    return sum(points for day, points in wallet.earned.items() if start <= day <= today)


def prune_earned(wallet: Wallet, today: str) -> Wallet:
    """Forget days that have left the tier window, so the member item stays small."""
    start = window_start(today)
    return replace(wallet, earned={day: p for day, p in wallet.earned.items() if day >= start})


def next_window_drop(wallet: Wallet, today: str) -> str | None:
    """The first day on which points leave the tier window (when a tier may fall)."""
    days = sorted(day for day in wallet.earned if day >= window_start(today))
    if not days:
        return None
    return (datetime.fromisoformat(days[0]) + timedelta(days=TIER_WINDOW_DAYS)).strftime("%Y-%m-%d")


def expiring(wallet: Wallet, limit: int = 10) -> list[dict]:
    """The next lots to expire, grouped by date, for the balance answer."""
    grouped: dict[str, int] = {}
    for at, points in wallet.lots:
        grouped[at] = grouped.get(at, 0) + points
    return [{"points": points, "expires_at": at} for at, points in sorted(grouped.items())[:limit]]
