"""Members written by an older release (every lot and tier-window day, and the profile, on the member item) keep
their balances, lots, tiers and profiles exactly: read as they are, moved to monthly pieces by their next change, and by the one-off job
for the members no change reaches."""
from datetime import timedelta

from chalicelib.core import clock, db
from chalicelib.members import account, migration


def _old_member(program, external_id: str) -> dict:
    """A member as the older release wrote it: 14 months of lots, a year of tier-window days, Silver."""
    now = clock.now()
    lots = [[clock.expiry(now, days), 10 + days % 7] for days in range(3, 420, 9)]
    earned = {clock.day(now - timedelta(days=days)): 5 + days % 3 for days in range(0, 360, 4)}
    available = sum(points for _, points in lots) + 50  # 50 never expire
    pk, sk = db.MemberItem.key(program["id"], external_id)
    db.MemberItem(pk, sk, org_id=program["org_id"], program_id=program["id"], external_id=external_id,
                  available=available, lifetime_earned=available + 300, lifetime_spent=300, lots=lots,
                  earned=earned, tier="Silver", created_at=clock.iso(now), updated_at=clock.iso(now),
                  email=f"{external_id}@example.com", name=external_id.title(), locale="it",
                  attributes={"store": "milano-01"}).save()
    return {"lots": lots, "earned": earned, "available": available}


def _stored(program, external_id: str) -> tuple[db.MemberItem, account.Account]:
    member = db.get(db.MemberItem, db.MemberItem.key(program["id"], external_id))
    return member, account.Account(None, member, clock.now())


def _whole(program, external_id: str) -> tuple[tuple, dict]:
    """Every lot and tier-window day the member holds, its sealed months read."""
    _, change = _stored(program, external_id)
    change._read_history()
    return change.wallet.lots, change.wallet.earned


def test_an_old_member_reads_the_same_and_its_next_change_moves_it_to_monthly_pieces(api, program):
    # Given a member written by the older release
    old = _old_member(program, "ada")
    path = f"{program['path']}/members/ada"
    before = api.call("GET", f"{path}/balance", program["admin"])[1]
    assert before["available"] == old["available"] and before["tier"] == "Silver"
    assert before["expiring"] == [{"points": p, "expires_at": at} for at, p in old["lots"][:10]]
    # When its next change lands
    status, adjusted = api.call("POST", f"{path}/adjustments", program["admin"], {"points": 7, "reason": "thanks"},
                         {"Idempotency-Key": "migration-1"})
    assert status == 201
    # Then it is in the new layout, with some months sealed in buckets
    member, _ = _stored(program, "ada")
    assert member.lots is None and member.earned is None and member.lot_months
    assert not db.has_legacy_profile(member)
    assert api.call("GET", path, program["admin"])[1]["attributes"] == {"store": "milano-01"}
    buckets = list(db.HistoryItem.query(member.pk, db.HistoryItem.sk.startswith(db.HISTORY_PREFIX)))
    assert buckets
    # And every lot and tier-window day is as it was, beside the adjustment's own lot
    lots, earned = _whole(program, "ada")
    assert lots == tuple(sorted([tuple(lot) for lot in old["lots"]] + [(adjusted["transaction"]["expires_at"], 7)]))
    start = (clock.now() - timedelta(days=364)).strftime("%Y-%m-%d")
    assert earned == {day: points for day, points in old["earned"].items() if day >= start}
    after = api.call("GET", f"{path}/balance", program["admin"])[1]
    # (the change settled its standing: below Silver's measure, a downgrade now waits in tier_progress)
    assert after["tier_progress"]["qualifying"] == before["tier_progress"]["qualifying"]
    assert {**after, "tier_progress": None} == {**before, "available": before["available"] + 7, "tier_progress": None,
                                                "lifetime_earned": before["lifetime_earned"] + 7}


def test_the_one_off_job_moves_the_members_no_change_reaches_and_changes_nothing_they_hold(stack, api, program):
    # Given two members written by the older release
    olds = {name: _old_member(program, name) for name in ("bea", "cy")}
    answers = {name: api.call("GET", f"{program['path']}/members/{name}", program["admin"])[1] for name in olds}
    # When the operator starts the job, twice (a second start is harmless), and its worker runs
    for _ in range(2):
        assert migration.plan()["segments"] >= 1
    stack.pump("TierReviewFunction")
    # Then both are in the new layout, with the same balance, lots and tier-window days
    for name, old in olds.items():
        member, _ = _stored(program, name)
        assert member.lots is None and member.earned is None and not db.has_legacy_profile(member)
        assert db.get(db.ProfileItem, db.ProfileItem.key(program["id"], name)).email == f"{name}@example.com"
        assert api.call("GET", f"{program['path']}/members/{name}", program["admin"])[1] == answers[name]
        lots, earned = _whole(program, name)
        assert lots == tuple(tuple(lot) for lot in old["lots"])
        assert earned == old["earned"]  # every day within the window
