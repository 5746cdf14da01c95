from datetime import datetime, timezone

import pytest

from chalicelib.core.errors import Conflict
from chalicelib.members import lots


def test_debit_spends_the_soonest_expiring_points_first():
    # Given two lots and some points that never expire
    wallet = lots.credit(lots.Wallet(), 100, expires_at="2027-06-01T00:00:00.000Z", earned_on="2026-06-01")
    wallet = lots.credit(wallet, 50, expires_at="2027-01-01T00:00:00.000Z", earned_on="2026-01-01")
    wallet = lots.credit(wallet, 30, expires_at=None, earned_on=None)
    # When 70 points are spent
    wallet, consumed = lots.debit(wallet, 70, spend=True)
    # Then the January lot goes first, then part of the June lot; the rest is untouched
    assert consumed == (("2027-01-01T00:00:00.000Z", 50), ("2027-06-01T00:00:00.000Z", 20))
    assert wallet.lots == (("2027-06-01T00:00:00.000Z", 80),)
    assert (wallet.available, wallet.lifetime_spent) == (110, 70)


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing():
    wallet = lots.credit(lots.Wallet(), 10, expires_at=None, earned_on=None)
    with pytest.raises(Conflict) as refused:
        lots.debit(wallet, 11, spend=True)
    assert refused.value.code == "insufficient_points"
    assert wallet.available == 10


def test_restore_puts_points_back_into_the_lots_they_came_from():
    wallet = lots.credit(lots.Wallet(), 100, expires_at="2027-01-01T00:00:00.000Z", earned_on=None)
    spent, consumed = lots.debit(wallet, 60, spend=True)
    restored = lots.restore(spent, 60, consumed, unspend=True, not_before="2026-06-01T23:59:59.999Z")
    assert restored == wallet
    late = lots.restore(spent, 60, consumed, unspend=True, not_before="2027-02-01T23:59:59.999Z")
    assert late.lots == (("2027-01-01T00:00:00.000Z", 40), ("2027-02-01T23:59:59.999Z", 60))  # re-dated, not lost


def test_expire_drops_only_the_lots_that_are_due():
    wallet = lots.credit(lots.Wallet(), 10, expires_at="2026-01-01T00:00:00.000Z", earned_on=None)
    wallet = lots.credit(wallet, 20, expires_at="2026-03-01T00:00:00.000Z", earned_on=None)
    after, expired, last = lots.expire(wallet, datetime(2026, 2, 1, tzinfo=timezone.utc))
    assert (expired, last, after.available) == (10, "2026-01-01T00:00:00.000Z", 20)
    assert lots.expire(after, datetime(2026, 2, 1, tzinfo=timezone.utc))[1] == 0


def test_the_tier_window_counts_the_last_365_days_only():
    wallet = lots.Wallet(earned={"2025-01-01": 500, "2025-06-01": 300, "2026-01-01": 200})
    assert lots.earned_in_window(wallet, "2025-12-31") == 500 + 300  # 2026-01-01 has not come yet
    assert lots.earned_in_window(wallet, "2026-01-01") == 300 + 200  # 2025-01-01 is 365 days ago: out
    assert lots.next_window_drop(wallet, "2025-12-31") == "2026-01-01"
    assert lots.prune_earned(wallet, "2026-01-01").earned == {"2025-06-01": 300, "2026-01-01": 200}


def test_expiring_groups_lots_by_date_in_order():
    wallet = lots.Wallet(lots=(("2026-02-01T00:00:00.000Z", 5), ("2026-02-01T00:00:00.000Z", 7),
                            ("2026-01-01T00:00:00.000Z", 1)))
    assert lots.expiring(wallet) == [{"points": 1, "expires_at": "2026-01-01T00:00:00.000Z"},
                                  {"points": 12, "expires_at": "2026-02-01T00:00:00.000Z"}]


def test_points_expire_at_the_end_of_a_utc_day_so_a_days_awards_share_one_lot():
    from chalicelib.core import clock

    morning, evening = datetime(2026, 3, 1, 8, tzinfo=timezone.utc), datetime(2026, 3, 1, 22, tzinfo=timezone.utc)
    assert clock.expiry(morning, 30) == clock.expiry(evening, 30) == "2026-03-31T23:59:59.999Z"
    wallet = lots.credit(lots.Wallet(), 5, expires_at=clock.expiry(morning, 30), earned_on=None)
    wallet = lots.credit(wallet, 7, expires_at=clock.expiry(evening, 30), earned_on=None)
    assert wallet.lots == (("2026-03-31T23:59:59.999Z", 12),)


def test_held_points_count_toward_nothing_until_released_then_earn_on_their_release_day():
    # Given 40 points held until 1 Dec and 60 until 10 Dec, the first with an expiry
    wallet = lots.hold(lots.Wallet(), 60, release_at="2026-12-10T23:59:59.999Z", key="b", expires_at=None)
    wallet = lots.hold(wallet, 40, release_at="2026-12-01T23:59:59.999Z", key="a", expires_at="2027-12-01T23:59:59.999Z")
    assert (wallet.available, wallet.pending, wallet.lifetime_earned, wallet.earned) == (0, 100, 0, {})
    assert lots.next_due(wallet) == "2026-12-01T23:59:59.999Z"
    # When the release runs on 2 Dec
    wallet, released = lots.release(wallet, datetime(2026, 12, 2, 0, 30, tzinfo=timezone.utc))
    # Then only the first hold is available, as a lot, earned on 1 Dec; the other is still pending
    assert released == 40
    assert (wallet.available, wallet.pending, wallet.lifetime_earned) == (40, 60, 40)
    assert wallet.lots == (("2027-12-01T23:59:59.999Z", 40),) and wallet.earned == {"2026-12-01": 40}
    assert lots.pending_releases(wallet) == [{"points": 60, "available_at": "2026-12-10T23:59:59.999Z"}]
    assert lots.next_due(wallet) == "2026-12-10T23:59:59.999Z"  # the release comes before the lot's expiry


def test_unhold_removes_only_the_named_events_pending_points_and_never_more():
    # Given two holds
    wallet = lots.hold(lots.Wallet(), 50, release_at="2026-12-10T23:59:59.999Z", key="a", expires_at=None)
    wallet = lots.hold(wallet, 30, release_at="2026-12-10T23:59:59.999Z", key="b", expires_at=None)
    # When 20 of a's are returned, then 80 more of a's
    wallet, first = lots.unhold(wallet, "a", 20)
    wallet, second = lots.unhold(wallet, "a", 80)
    # Then 20 then the last 30 came off a; b is untouched; an unknown key removes nothing
    assert (first, second) == (20, 30)
    assert wallet.holds == (("2026-12-10T23:59:59.999Z", 30, "b", None),) and wallet.pending == 30
    assert lots.unhold(wallet, "zzz", 10) == (wallet, 0)
