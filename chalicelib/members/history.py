"""A member's lots and tier-window days kept in monthly pieces, so its account item stays small and an earn
costs the same whatever the member's history.

Both are series of amounts keyed by a moment: a lot by the end of the day it expires, a tier-window day by its
date. The months a change is likely to touch stay *resident* on the account item: for lots the soonest months
(enough for the balance's next expiries, which a spend and the expiry job take first) and the newest (where an
earn's lot goes); for the tier window its oldest month (the days about to leave it) and the newest (today).
Every other month is *sealed* in a bucket item of its own and the account keeps only its total.

While a month is sealed, the wallet the arithmetic of chalicelib.members.lots sees holds one *placeholder* for
it: its total at the first moment of the month, so that sums over whole months and the order of lots stay
exact. chalicelib.members.account reads the buckets before any change that would reach inside a sealed month
(`needs_detail`), and asks `split` which months to write where. Nothing here touches the database.
"""
from dataclasses import dataclass, field

from chalicelib.members.lots import SHOWN

LOTS, WINDOW = "L", "W"
SERIES = (LOTS, WINDOW)
HEAD_LOTS = SHOWN  # the balance shows the next expiries: that many soonest lots stay on the account


def month_of(key: str) -> str:
    return key[:7]


def placeholder(series: str, month: str) -> str:
    """Where a sealed month's total stands among the series' keys: before every key of the month."""
    return f"{month}-01T00:00:00.000Z" if series == LOTS else f"{month}-01"


def _key(series: str, month: str, day: int) -> str:
    return f"{month}-{day:02d}T23:59:59.999Z" if series == LOTS else f"{month}-{day:02d}"


# --- how the pieces are written ----------------------------------------------------------------------

def encode_detail(series: str, amounts: dict[str, float]) -> dict:
    """{month: [first day, amount of that day, of the next, ...]} for keys at a day's canonical moment; any other
    key is kept whole (`{key: amount}`)."""
    by_month: dict[str, dict[int, float]] = {}
    odd: dict[str, float] = {}
    for key, amount in amounts.items():
        month, day = month_of(key), key[8:10]
        if day.isdigit() and key == _key(series, month, int(day)):
            by_month.setdefault(month, {})[int(day)] = amount
        else:
            odd[key] = amount
    encoded: dict = {}
    for month, days in sorted(by_month.items()):
        first, last = min(days), max(days)
        encoded[month] = [first] + [days.get(day, 0) for day in range(first, last + 1)]
    return {**encoded, **odd}


def decode_detail(series: str, stored: dict | None) -> dict[str, float]:
    amounts: dict[str, float] = {}
    for name, value in (stored or {}).items():
        if len(name) == 7:
            first, *values = value
            amounts.update((_key(series, name, first + offset), amount)
                           for offset, amount in enumerate(values) if amount)
        else:
            amounts[name] = value
    return amounts


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def encode_totals(totals: dict[str, float]) -> list | None:
    """[first month, its total, the next month's, ...] (0 where a month is not sealed)."""
    if not totals:
        return None
    month, last = min(totals), max(totals)
    encoded: list = [month]
    while month <= last:
        encoded.append(totals.get(month, 0))
        month = _next_month(month)
    return encoded


def decode_totals(stored: list | None) -> dict[str, float]:
    if not stored:
        return {}
    month, totals = stored[0], {}
    for total in stored[1:]:
        if total:
            totals[month] = total
        month = _next_month(month)
    return totals


# --- what a change may reach -------------------------------------------------------------------------

def by_month(amounts) -> dict[str, dict[str, float]]:
    months: dict[str, dict[str, float]] = {}
    for key, amount in amounts:
        months.setdefault(month_of(key), {})[key] = amount
    return months


def with_placeholders(series: str, resident: dict[str, float], sealed: dict[str, float]) -> dict[str, float]:
    """What the arithmetic sees: the resident detail and one placeholder per sealed month."""
    return {**resident, **{placeholder(series, month): total for month, total in sealed.items()}}


def lots_before_sealed(lots, sealed: dict[str, float]) -> int:
    """The points of the soonest lots that no sealed month precedes (what a debit may take without reading)."""
    first_sealed = min(sealed, default=None)
    return sum(points for at, points in lots if first_sealed is None or month_of(at) < first_sealed)


def first_keys_sealed(keys, sealed: dict[str, float], limit: int) -> bool:
    """Whether a sealed month's placeholder is among the first `limit` keys (the answer would show it)."""
    return any(month_of(key) in sealed for key in sorted(keys)[:limit])


def window_needs_detail(days, sealed: dict[str, float], start: str) -> bool:
    """Whether the tier window from `start` reaches inside a sealed month: the month it starts in, or the month
    of its first remaining day (when the next day leaves it: the tier's review date)."""
    if month_of(start) in sealed:
        return True
    remaining = sorted(day for day in days if day >= start)
    return bool(remaining) and month_of(remaining[0]) in sealed


# --- where each month is written ---------------------------------------------------------------------

@dataclass
class Split:
    """Where a series goes after a change: detail on the account, totals of sealed months, bucket writes
    (month -> detail to put, or None to delete the month's bucket)."""
    resident: dict[str, float] = field(default_factory=dict)
    sealed: dict[str, float] = field(default_factory=dict)
    writes: dict[str, dict[str, float] | None] = field(default_factory=dict)


class SealedMonthTouched(Exception):
    """A change reached inside a sealed month without reading it first (a bug: nothing is written)."""


def _head(series: str, months: dict[str, dict[str, float]], sealed: dict[str, float]) -> tuple[set[str], bool]:
    """The soonest months a series keeps on the account (the window's oldest; lots until HEAD_LOTS of them), and
    whether a sealed month is among them."""
    head, count = set(), 0
    for month in sorted(month for month, detail in months.items() if detail):
        head.add(month)
        if month in sealed:
            return head, True
        count += len(months[month])
        if series == WINDOW or count >= HEAD_LOTS:
            break
    return head, False


def _kept(series: str, months: dict[str, dict[str, float]]) -> set[str]:
    """The months that stay on the account: the soonest (`_head`) and the newest."""
    return _head(series, months, {})[0] | {max(months)} if months else set()


def wanted_sealed(series: str, amounts: dict[str, float], sealed: dict[str, float]) -> bool:
    """Whether a sealed month should now be on the account (the soonest lots or the window's oldest month
    moved into it): the account reads it, so the next change and balance read need not."""
    return _head(series, by_month(amounts.items()), sealed)[1]


def split(series: str, amounts: dict[str, float], sealed: dict[str, float],
          buckets: dict[str, dict[str, float]]) -> Split:
    """Where `amounts` (the wallet's, placeholders of still-sealed months included) is written.

    `sealed` are the months still unread (their placeholder must come back unchanged, or gone when the window
    left them); `buckets` the detail of every month that had a bucket when read.
    """
    months = by_month(amounts.items())
    result = Split()
    for month, total in sealed.items():
        kept = months.pop(month, None)
        if kept is None:
            result.writes[month] = None  # the window left it: its bucket goes
        elif kept != {placeholder(series, month): total}:
            raise SealedMonthTouched(f"{series} {month}")
        else:
            result.sealed[month] = total
    kept_here = _kept(series, months)
    for month, detail in months.items():
        if month in kept_here:
            result.resident.update(detail)
            if month in buckets:
                result.writes[month] = None
        else:
            result.sealed[month] = sum(detail.values())
            if buckets.get(month) != detail:
                result.writes[month] = detail
    for month in buckets:
        if month not in months and month not in result.sealed:
            result.writes[month] = None
    return result
