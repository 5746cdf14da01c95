"""What a program owes in points, and how much of it will never be redeemed (breakage), from its own history.

The method is the actuaries' for loyalty liabilities under IFRS 15 / ASC 606, on a program's monthly flows
alone (points issued, redeemed and expired per month; no member is read):

1. Cohorts by month of issue. Redemptions and expiries take the oldest outstanding points first (first in,
   first out, as a member's soonest-expiring lots are spent first), which gives each month of issue its
   redemption curve: the points redeemed from it, and those expired, 0, 1, 2... months after issue.
2. Settled cohorts (nothing outstanding) say how points end: of the points of theirs still outstanding at
   age k, the share that ended redeemed rather than expired (a life table with two ways out).
3. Each open cohort is projected to its ultimate: what it has redeemed plus its outstanding points times
   that share at its own age. The ultimate redemption rate (URR) is the issue-weighted mean; breakage is
   1 - URR; the liability is the points expected to be redeemed, valued at the cost of a point.

Where no cohort has settled yet, the share is that of every point that has left so far; where none has
left, every outstanding point is expected to be redeemed: no breakage is recognised until the program's
history can estimate it, as the standards require.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MonthFlow:
    """A month's points: issued (net of reversals), redeemed (net of refunds) and expired."""
    month: str  # YYYY-MM
    issued: int
    redeemed: int
    expired: int


@dataclass
class Cohort:
    month: str
    index: int  # months since the first month of the history
    issued: int
    redeemed_by_age: list[int]  # redeemed from it, by months since issue, to the last month observed
    expired_by_age: list[int]
    outstanding: int

    @property
    def redeemed(self) -> int:
        return sum(self.redeemed_by_age)

    @property
    def expired(self) -> int:
        return sum(self.expired_by_age)


@dataclass(frozen=True)
class Report:
    outstanding_by_month_end: dict[str, int]
    cohorts: list[Cohort]
    redeemed_share_by_age: list[float | None]  # of points outstanding at age k in settled cohorts, the share redeemed
    ultimate_by_cohort: dict[str, float]
    ultimate_redemption_rate: float
    breakage_rate: float
    outstanding: int
    expected_to_redeem: int
    cost_per_point: Decimal  # minor units of money (cents) per point

    @property
    def liability(self) -> int:
        """Points expected to be redeemed, valued at a point's cost (minor units)."""
        return int((self.cost_per_point * self.expected_to_redeem).to_integral_value())

    @property
    def gross_liability(self) -> int:
        """Every outstanding point valued at a point's cost, as if none were ever lost (minor units)."""
        return int((self.cost_per_point * self.outstanding).to_integral_value())


def contiguous(flows: list[MonthFlow]) -> list[MonthFlow]:
    """The flows in month order, a month without any given as zeros (a month-end of its own)."""
    known = {flow.month: flow for flow in flows}
    if not known:
        return []
    year, month = map(int, min(known).split("-"))
    filled = []
    while (current := f"{year:04d}-{month:02d}") <= max(known):
        filled.append(known.get(current, MonthFlow(current, 0, 0, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return filled


def cohorts_of(flows: list[MonthFlow]) -> tuple[list[Cohort], dict[str, int]]:
    """Month by month, first in first out: the cohorts, and the points outstanding at each month end."""
    cohorts: list[Cohort] = []
    open_cohorts: deque[Cohort] = deque()
    outstanding_by_month_end: dict[str, int] = {}
    flows_in_order = contiguous(flows)
    for now, flow in enumerate(flows_in_order):
        ages = len(flows_in_order) - now
        cohort = Cohort(flow.month, now, max(flow.issued, 0), [0] * ages, [0] * ages, max(flow.issued, 0))
        cohorts.append(cohort)
        open_cohorts.append(cohort)
        for amount, redeemed in ((flow.redeemed, True), (flow.expired, False)):
            while amount > 0 and open_cohorts:
                oldest = open_cohorts[0]
                taken = min(amount, oldest.outstanding)
                oldest.outstanding -= taken
                amount -= taken
                (oldest.redeemed_by_age if redeemed else oldest.expired_by_age)[now - oldest.index] += taken
                if oldest.outstanding == 0:
                    open_cohorts.popleft()
        outstanding_by_month_end[flow.month] = sum(c.outstanding for c in open_cohorts)
    return cohorts, outstanding_by_month_end


def redeemed_shares(cohorts: list[Cohort]) -> list[float | None]:
    """By age: of the settled cohorts' points still outstanding then, the share that ended redeemed (None: no data)."""
    settled = [c for c in cohorts if c.issued and c.outstanding == 0]
    shares: list[float | None] = []
    for age in range(len(cohorts)):
        redeemed = sum(sum(c.redeemed_by_age[age:]) for c in settled if len(c.redeemed_by_age) > age)
        expired = sum(sum(c.expired_by_age[age:]) for c in settled if len(c.expired_by_age) > age)
        shares.append(redeemed / (redeemed + expired) if redeemed + expired else None)
    return shares


def report(flows: list[MonthFlow], cost_per_point: Decimal) -> Report:
    cohorts, by_month_end = cohorts_of(flows)
    shares = redeemed_shares(cohorts)
    redeemed, expired = sum(c.redeemed for c in cohorts), sum(c.expired for c in cohorts)
    overall = redeemed / (redeemed + expired) if redeemed + expired else 1.0
    ultimate: dict[str, float] = {}
    expected = 0
    for cohort in cohorts:
        after = len(cohort.redeemed_by_age)  # its outstanding points leave from next month on
        share = shares[after] if after < len(shares) and shares[after] is not None else overall
        further = round(cohort.outstanding * share)
        expected += further
        ultimate[cohort.month] = (cohort.redeemed + further) / cohort.issued if cohort.issued else 0.0
    issued = sum(c.issued for c in cohorts)
    urr = sum(ultimate[c.month] * c.issued for c in cohorts) / issued if issued else 0.0
    return Report(outstanding_by_month_end=by_month_end, cohorts=cohorts, redeemed_share_by_age=shares,
                  ultimate_by_cohort=ultimate, ultimate_redemption_rate=urr, breakage_rate=1 - urr if issued else 0.0,
                  outstanding=sum(c.outstanding for c in cohorts), expected_to_redeem=expected,
                  cost_per_point=cost_per_point)
