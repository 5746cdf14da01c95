"""Analytics without AWS: what a stream record adds (chalicelib.insight.deltas) and the active-members sketch."""
import random

import pytest

from chalicelib.insight import deltas
from chalicelib.insight.sketch import REGISTERS, Sketch

AT = "2026-03-04T05:06:07.890Z"


def entry(kind: str, points: int, scope: str = "evt", **extra) -> dict:
    return {"_t": "entry", "pk": f"LEDGER#prg_1#{scope}#key-{kind}-{points}", "sk": "ENTRY", "kind": kind,
            "points": points, "program_id": "prg_1", "external_id": "m-1", "created_at": AT, **extra}


@pytest.mark.parametrize("image, counts, active", [
    (entry("earn", 50), {"issued": 50, "issued_rules": 50}, "m-1"),
    (entry("earn", 30, "referral"), {"issued": 30, "issued_referrals": 30, "referrals_paid": 1}, "m-1"),
    (entry("earn", 20, "rcg"), {"issued": 20, "issued_recognition": 20}, "m-1"),
    (entry("earn", 10, "tierbonus"), {"issued": 10, "issued_tier_bonuses": 10}, "m-1"),
    (entry("earn", 40, available_at=AT), {"issued": 40, "issued_rules": 40, "pending": 40}, "m-1"),
    (entry("adjust", 15, "adj"), {"issued": 15, "issued_adjustments": 15}, None),
    (entry("adjust", -15, "adj"), {"adjusted_down": 15}, None),
    (entry("redeem", -200, "rdm"), {"redeemed": 200}, "m-1"),
    (entry("refund", 200, "refund"), {"refunded": 200}, None),
    (entry("expire", -70, "expire"), {"expired": 70}, None),
    (entry("reverse", -25), {"reversed": 25}, None),
])
def test_an_entry_adds_its_points_to_its_kind_and_source(image, counts, active):
    change = deltas.of_record("INSERT", image, None)
    assert (change.counts, change.active) == (counts, active)
    assert (change.program_id, change.day, change.hour, change.marker) == ("prg_1", "2026-03-04", "2026-03-04T05",
                                                                         image["pk"])
    assert deltas.net_points(change.counts) == image["points"]


def test_what_adds_nothing_is_not_a_change():
    assert deltas.of_record("INSERT", entry("earn", 0), None) is None  # an event that earned nothing
    assert deltas.of_record("MODIFY", {**entry("earn", 9), "reversed": 9}, entry("earn", 9)) is None  # updated
    assert deltas.of_record("REMOVE", None, entry("earn", 9)) is None
    assert deltas.of_record("INSERT", {"_t": "profile", "pk": "MBR#prg_1#m-1", "sk": "PROFILE"}, None) is None


def test_an_account_created_is_an_enrolment_counted_once_per_member():
    account = {"_t": "member", "pk": "MBR#prg_1#m-1", "sk": "MEMBER", "program_id": "prg_1", "created_at": AT,
               "updated_at": AT, "version": 1}
    change = deltas.of_record("INSERT", account, None)
    assert (change.counts, change.marker) == ({"enrolled": 1}, "MBR#prg_1#m-1#ENROLLED")
    assert deltas.of_record("MODIFY", {**account, "version": 2}, account) is None


def test_a_sketch_counts_a_member_once_and_survives_bytes():
    sketch = Sketch()
    assert sketch.add("m-1") is True
    assert sketch.add("m-1") is False
    assert Sketch.from_bytes(sketch.to_bytes()).registers == sketch.registers
    assert Sketch.from_bytes(None).estimate() == 0


@pytest.mark.parametrize("members", [10, 200, 3_000, 50_000])
def test_merged_day_sketches_estimate_the_distinct_members_of_the_range(members):
    rng = random.Random(members)
    population = [f"member-{n}" for n in range(members)]
    days = [Sketch() for _ in range(30)]
    seen = set()
    for day in days:  # each member active on a few random days: the union must count each once
        for member in rng.sample(population, k=max(1, members // 5)):
            day.add(member)
            seen.add(member)
    # stored and read back, as the aggregates are
    union = Sketch()
    for day in days:
        union.merge(Sketch.from_bytes(day.to_bytes()))
    error = abs(union.estimate() - len(seen)) / len(seen)
    # within three standard errors (linear counting below ~10,000, 1.04 / sqrt(4096) = 1.6 % above)
    assert error < (0.04 if len(seen) <= 3_000 else 0.05), (union.estimate(), len(seen))


def test_a_full_sketch_is_stored_dense_and_bounded():
    sketch = Sketch()
    for n in range(20_000):
        sketch.add(f"m-{n}")
    data = sketch.to_bytes()
    assert len(data) == 1 + REGISTERS
    assert Sketch.from_bytes(data).registers == sketch.registers
    assert len(Sketch({1: 3}).to_bytes()) == 4  # sparse: 3 bytes a register


def redemption(status: str, **extra) -> dict:
    return {"_t": "redemption", "pk": "RDM#rdm_1", "sk": "REDEMPTION", "program_id": "prg_1", "reward_id": "rwd_1",
            "reward_type": "merchandise", "quantity": 2, "status": status, "created_at": AT, "updated_at": LATER,
            "value": '{"amount":350,"currency":"GBP"}', **extra}


LATER = "2026-03-05T01:00:00.000Z"


def test_a_redemption_counts_by_reward_with_its_value_and_its_way_back_apart():
    made = deltas.of_record("INSERT", redemption("pending"), None)
    assert (made.marker, made.at, made.counts) == ("RDM#rdm_1", AT, {
        "redemptions": 1, "r#merchandise#rwd_1#n": 1, "r#merchandise#rwd_1#v#GBP": 700})
    back = deltas.of_record("MODIFY", redemption("cancelled"), redemption("pending"))
    assert (back.marker, back.day, back.counts) == ("RDM#rdm_1#BACK", "2026-03-05", {
        "redemptions_cancelled": 1, "r#merchandise#rwd_1#x": 1, "r#merchandise#rwd_1#vx#GBP": 700})
    assert deltas.of_record("MODIFY", redemption("shipped"), redemption("processing")) is None
    assert deltas.of_record("MODIFY", redemption("cancelled"), redemption("cancelled")) is None


def test_an_earn_counts_what_each_campaign_gave():
    change = deltas.of_record("INSERT", entry("earn", 40, campaign_points='{"cmp_a":15,"cmp_b":5}'), None)
    assert change.counts == {"issued": 40, "issued_rules": 40, "campaign_points": 20, "campaign_awards": 2,
                             "c#cmp_a#p": 15, "c#cmp_a#n": 1, "c#cmp_b#p": 5, "c#cmp_b#n": 1}


def account(**fields) -> dict:
    return {"_t": "member", "pk": "MBR#prg_1#m-1", "sk": "MEMBER", "program_id": "prg_1", "created_at": AT,
            "updated_at": LATER, "version": 3, "lifetime_earned": 100, **fields}


def test_an_account_write_counts_referrals_and_released_points():
    held = '[["2026-03-05T00:00:00.000Z",30,"o-1",null],["2026-03-09T00:00:00.000Z",20,"o-2",null]]'
    released = deltas.of_record("MODIFY", account(holds='[["2026-03-09T00:00:00.000Z",20,"o-2",null]]',
                                                  lifetime_earned=130), account(holds=held))
    assert (released.marker, released.counts) == ("MBR#prg_1#m-1#v3", {"released": 30})
    # a clawback from pending removes a hold but lowers lifetime earned: nothing released
    assert deltas.of_record("MODIFY", account(holds=None, lifetime_earned=50), account(holds=held)) is None
    funnel = deltas.of_record("MODIFY", account(referred_by="ann", referral="rewarded"),
                              account(referred_by="ann", referral="pending"))
    assert funnel.counts == {"referrals_qualified": 1}
    assert deltas.of_record("MODIFY", account(referred_by="ann", referral="pending"), account()).counts == {
        "referrals_attached": 1}


def test_a_tier_change_moves_a_member_out_of_one_tier_into_another():
    change = deltas.of_record("INSERT", {"_t": "tierchange", "pk": "MBR#prg_1#m-1", "sk": "TIER#x#00000002",
                                         "program_id": "prg_1", "change": "up", "from_tier": "Silver",
                                         "to_tier": "Gold #1", "created_at": AT}, None)
    assert change.counts == {"tier_ups": 1, "t#out#Silver": 1, "t#in#Gold #1": 1}
    assert deltas.dimension_of("t#in#Gold #1") == ("tier", "in", "Gold #1")


def test_the_breakdown_sums_rewards_into_types_and_currencies_and_tiers_into_members_now():
    from chalicelib.insight.report import breakdown
    answer = breakdown({"r#merchandise#rwd_1#n": 3, "r#merchandise#rwd_1#x": 1, "r#merchandise#rwd_1#v#GBP": 900,
                        "r#merchandise#rwd_1#vx#GBP": 300, "r#cashback#rwd_2#n": 1, "r#cashback#rwd_2#v#EUR": 500,
                        "r#merchandise#rwd_3#n": 1, "c#cmp_a#p": 45, "c#cmp_a#n": 3, "t#in#Gold": 2},
                       {"t#in#Gold": 5, "t#out#Gold": 1, "t#in#Silver": 4, "t#out#Silver": 4},
                       [{"id": "cmp_a", "name": "Double"}])
    assert answer["reward_types"] == [
        {"reward_type": "cashback", "redemptions": 1, "cancelled": 0,
         "value": [{"currency": "EUR", "redeemed": 500, "cancelled": 0}]},
        {"reward_type": "merchandise", "redemptions": 4, "cancelled": 1,
         "value": [{"currency": "GBP", "redeemed": 900, "cancelled": 300}]}]
    assert answer["redemption_value"] == [{"currency": "EUR", "redeemed": 500, "cancelled": 0},
                                          {"currency": "GBP", "redeemed": 900, "cancelled": 300}]
    assert [r["reward_id"] for r in answer["rewards"]] == ["rwd_2", "rwd_1", "rwd_3"]
    assert answer["campaigns"] == [{"campaign_id": "cmp_a", "points": 45, "awards": 3, "name": "Double"}]
    assert answer["tiers"] == [{"tier": "Gold", "entered": 2, "left": 0, "members_now": 4}]  # none in Silver now
