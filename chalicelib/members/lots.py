"""A member's balance as pure arithmetic: credits, debits oldest-expiring first, expiry, refunds.

Points that can expire are kept as lots `[expires_at, points]`, oldest first; the rest of
`available` never expires. Points still in a return window are `pending`, kept as holds
`[release_at, points, key, expires_at]` (the key names the event that earned them, so a refund
finds them); they count toward nothing until released. Nothing here touches the database, so
every rule is unit-tested.
"""
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.core import clock
from chalicelib.core.errors import Conflict

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
    holds: tuple[tuple[str, int, str, str | None], ...] = ()  # pending points, soonest release first

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


def hold(wallet: Wallet, points: int, *, release_at: str, key: str, expires_at: str | None) -> Wallet:
    """Add points as pending until `release_at`; `expires_at` is the expiry they will carry once released."""
    holds = tuple(sorted(wallet.holds + ((release_at, points, key, expires_at),)))
    return replace(wallet, pending=wallet.pending + points, holds=holds)


def unhold(wallet: Wallet, key: str, points: int) -> tuple[Wallet, int]:
    """Remove up to `points` still pending for `key` (a return within the window); returns those removed."""
    removed, holds = 0, []
    for release_at, held, held_key, expires_at in wallet.holds:
        take = min(points - removed, held) if held_key == key else 0
        removed += take
        if held - take:
            holds.append((release_at, held - take, held_key, expires_at))
    return replace(wallet, pending=wallet.pending - removed, holds=tuple(holds)), removed


def release(wallet: Wallet, now: datetime, *, toward_window: bool = True) -> tuple[Wallet, int]:
    """Make the holds due by `now` available, earned on the day of their release (for a points tier window)."""
    cutoff = clock.iso(now)
    released = 0
    for release_at, points, _, expires_at in (h for h in wallet.holds if h[0] <= cutoff):
        wallet = credit(wallet, points, expires_at=expires_at, earned_on=release_at[:10] if toward_window else None)
        released += points
    return replace(wallet, pending=wallet.pending - released,
                   holds=tuple(h for h in wallet.holds if h[0] > cutoff)), released


def next_due(wallet: Wallet) -> str | None:
    """The soonest moment something falls due for the scheduled job: a lot's expiry or a hold's release."""
    moments = [wallet.lots[0][0]] if wallet.lots else []
    if wallet.holds:
        moments.append(wallet.holds[0][0])
    return min(moments, default=None)


def claw_back(wallet: Wallet, owed: int, *, earned_on: str | None, allow_debt: bool,
              window: float | None = None) -> tuple[Wallet, int]:
    """Reverse `owed` earned points: take what is available; the rest becomes debt or is forgiven.

    The points leave lifetime_earned, and `window` (the owed points, unless the tier measure is
    another) leaves the tier window, since they were never really earned. Returns the wallet and
    the points actually taken now.
    """
    taken = min(owed, wallet.available)
    wallet, _ = debit(wallet, taken, spend=False)
    earned = dict(wallet.earned)
    if earned_on in earned:
        earned[earned_on] = max(0, earned[earned_on] - (owed if window is None else window))
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


def window_start(today: str, days: int = TIER_WINDOW_DAYS) -> str:
    return (datetime.fromisoformat(today) - timedelta(days=days - 1)).strftime("%Y-%m-%d")


def qualify(wallet: Wallet, day: str, amount: float) -> Wallet:
    """Count `amount` of the program's tier measure (spend, events) on `day`, when it is not points."""
    earned = dict(wallet.earned)
    earned[day] = earned.get(day, 0) + amount
    return replace(wallet, earned=earned)


def earned_in_window(wallet: Wallet, today: str, days: int = TIER_WINDOW_DAYS) -> float:
    """The tier measure (points earned, by default) in the last `days` days, today included."""
    start = window_start(today, days)
    return sum(points for day, points in wallet.earned.items() if start <= day <= today)


def prune_earned(wallet: Wallet, today: str, days: int = TIER_WINDOW_DAYS) -> Wallet:
    """Forget days that have left the tier window, so the member item stays small."""
    start = window_start(today, days)
    return replace(wallet, earned={day: p for day, p in wallet.earned.items() if day >= start})


def next_window_drop(wallet: Wallet, today: str, days: int = TIER_WINDOW_DAYS, below: float = math.inf) -> str | None:
    """The first day on which the tier window's measure, were nothing more earned, falls below `below` (by
    default: the first day anything leaves the window). A month kept whole (chalicelib.members.history) leaves
    on its first day: the day found is never later than the true one."""
    start = window_start(today, days)
    present = sorted((day, amount) for day, amount in wallet.earned.items() if day >= start)
    measure = sum(amount for _, amount in present)
    for day, amount in present:
        measure -= amount
        if measure < below:
            return (datetime.fromisoformat(day[:10]) + timedelta(days=days)).strftime("%Y-%m-%d")
    return None


def _soonest(moments, limit: int) -> list[tuple[str, int]]:
    """(moment, points) pairs added up per moment, soonest first, at most `limit`."""
    grouped: dict[str, int] = {}
    for at, points in moments:
        grouped[at] = grouped.get(at, 0) + points
    return sorted(grouped.items())[:limit]


SHOWN = 10  # the next expiries, and releases, a balance shows


def expiring(wallet: Wallet, limit: int = SHOWN) -> list[dict]:
    """The next lots to expire, grouped by date, for the balance answer."""
    return [{"points": points, "expires_at": at} for at, points in _soonest(wallet.lots, limit)]


def pending_releases(wallet: Wallet, limit: int = SHOWN) -> list[dict]:
    """The next holds to be released, grouped by moment, for the balance answer."""
    return [{"points": points, "available_at": at}
            for at, points in _soonest(((h[0], h[1]) for h in wallet.holds), limit)]
