"""A program's liability and breakage from its monthly flows: FIFO cohorts, chain ladder, the ultimate rate."""
from decimal import Decimal

import pytest

from chalicelib.insight.liability import MonthFlow, cohorts_of, contiguous, redeemed_shares, report


def test_redemptions_and_expiries_take_the_oldest_points_first():
    cohorts, month_ends = cohorts_of([MonthFlow("2026-01", 100, 30, 0), MonthFlow("2026-02", 50, 80, 0),
                                      MonthFlow("2026-03", 0, 0, 30)])
    january, february, _ = cohorts
    assert january.redeemed_by_age == [30, 70, 0] and january.outstanding == 0
    assert february.redeemed_by_age == [10, 0] and february.expired == 30 and february.outstanding == 10
    assert month_ends == {"2026-01": 70, "2026-02": 40, "2026-03": 10}


def test_a_month_without_flows_still_has_a_month_end():
    months = [flow.month for flow in contiguous([MonthFlow("2025-11", 1, 0, 0), MonthFlow("2026-02", 1, 0, 0)])]
    assert months == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_settled_cohorts_say_what_share_of_their_outstanding_points_ended_redeemed():
    cohorts, _ = cohorts_of([MonthFlow("2026-01", 100, 20, 0), MonthFlow("2026-02", 0, 50, 0),
                             MonthFlow("2026-03", 0, 0, 30), MonthFlow("2026-04", 10, 0, 0)])
    january = cohorts[0]
    assert (january.redeemed_by_age, january.expired_by_age) == ([20, 50, 0, 0], [0, 0, 30, 0])
    assert redeemed_shares(cohorts)[:3] == [pytest.approx(0.7), pytest.approx(50 / 80), 0.0]
    assert redeemed_shares(cohorts)[3] is None


def steady_program(months: int, issued: int, redeemed: int, expires_at_age: int) -> tuple[list[MonthFlow], list[int]]:
    """Each month issues and redeems the same points, oldest first; what is left at the expiry age expires.
    The flows, and what each month's points ended as (redeemed from it)."""
    left: list[list[int]] = []  # [month index, points left]
    flows, redeemed_from = [], []
    for now in range(months):
        left.append([now, issued])
        redeemed_from.append(0)
        wanted = redeemed
        for cohort in left:
            taken = min(wanted, cohort[1])
            cohort[1] -= taken
            redeemed_from[cohort[0]] += taken
            wanted -= taken
        expired = sum(points for month, points in left if now - month >= expires_at_age)
        left = [cohort for cohort in left if now - cohort[0] < expires_at_age and cohort[1]]
        flows.append(MonthFlow(f"{2025 + now // 12}-{now % 12 + 1:02d}", issued, redeemed - wanted, expired))
    return flows, redeemed_from


def test_a_program_is_projected_to_the_redemption_rate_its_history_goes_on_to_show():
    """1,000 points issued and 600 redeemed a month, expiring at age 3. The report sees 24 months; the same
    program run 6 months longer says how those months' points really ended (every one settled by then)."""
    flows, redeemed_from = steady_program(30, 1_000, 600, 3)
    result = report(flows[:24], Decimal("1.5"))
    truth = sum(redeemed_from[:24]) / 24_000
    assert result.ultimate_redemption_rate == pytest.approx(truth, abs=0.01)
    assert result.breakage_rate == pytest.approx(1 - truth, abs=0.01)
    outstanding_later = sum(redeemed_from[:24]) - sum(c.redeemed for c in result.cohorts)
    assert result.expected_to_redeem == pytest.approx(outstanding_later, rel=0.1)
    assert result.outstanding == sum(c.outstanding for c in result.cohorts) > result.expected_to_redeem
    assert result.liability == round(Decimal("1.5") * result.expected_to_redeem) < result.gross_liability


def test_a_cohort_never_projects_past_what_has_not_expired():
    result = report([MonthFlow("2026-01", 100, 10, 0), MonthFlow("2026-02", 100, 90, 0),
                     MonthFlow("2026-03", 0, 0, 100)], Decimal("1"))
    for cohort in result.cohorts:
        if cohort.issued:
            assert result.ultimate_by_cohort[cohort.month] <= (cohort.issued - cohort.expired) / cohort.issued


def test_no_history_owes_nothing():
    result = report([], Decimal("0.01"))
    assert (result.outstanding, result.expected_to_redeem, result.breakage_rate) == (0, 0, 0.0)
    assert result.liability == 0
