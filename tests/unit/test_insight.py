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
