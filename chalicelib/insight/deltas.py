"""What one change of the table adds to a program's analytics: pure, from the stream record's images.

A ledger entry is written once, under its idempotency key, and never rewritten in the points it moved, so its
INSERT is the one record that counts it; its key is the natural dedupe id. An account's INSERT is an enrolment.
Everything else (later updates of an entry or an account, profiles, redemptions...) adds nothing yet.

Where an entry's points came from is its scope (the first part of its key after the program): `evt` an event's
rules and any running campaign's (one entry holds both), `referral`, `rcg` recognition, `tierbonus`, `adj`
manual adjustments (those that take points away are `adjusted_down`, not issued).
"""
from dataclasses import dataclass, field
from typing import Optional

SOURCES = {"evt": "rules", "referral": "referrals", "rcg": "recognition", "tierbonus": "tier_bonuses",
           "adj": "adjustments"}
# Every counter an aggregate holds; the read answers each one, zero when nothing added to it.
COUNTERS = ("issued", *(f"issued_{source}" for source in SOURCES.values()), "issued_other", "pending", "redeemed",
            "refunded", "expired", "reversed", "adjusted_down", "enrolled")


@dataclass(frozen=True)
class Change:
    """What one record adds to one program, at one moment; `marker` names the record for exactly-once."""

    program_id: str
    at: str  # ISO 8601, UTC: picks the hour and the day
    marker: str
    counts: dict[str, int] = field(default_factory=dict)
    active: Optional[str] = None  # the member to count as active in its hour and day

    @property
    def day(self) -> str:
        return self.at[:10]

    @property
    def hour(self) -> str:
        return self.at[:13]


def of_record(event_name: str, new: Optional[dict], old: Optional[dict]) -> Optional[Change]:
    """The change a stream record brings (images as plain values), or None if it adds nothing."""
    image = new or old or {}
    kind = image.get("_t")
    if event_name == "INSERT" and kind == "entry":
        return _entry(new)
    if event_name == "INSERT" and kind == "member" and image.get("sk") == "MEMBER":
        return Change(new["program_id"], new["created_at"], marker=f"{new['pk']}#ENROLLED", counts={"enrolled": 1})
    return None


def _entry(entry: dict) -> Optional[Change]:
    points, kind = int(entry["points"]), entry["kind"]
    scope = entry["pk"].split("#")[2]
    counts: dict[str, int] = {}
    active = None
    if kind == "earn" and points:
        source = SOURCES.get(scope, "other")
        counts = {"issued": points, f"issued_{source}": points}
        if entry.get("available_at"):
            counts["pending"] = points
        active = entry["external_id"]
    elif kind == "adjust":
        counts = {"issued": points, "issued_adjustments": points} if points > 0 else {"adjusted_down": -points}
    elif kind == "redeem":
        counts, active = {"redeemed": -points}, entry["external_id"]
    elif kind == "refund":
        counts = {"refunded": points}
    elif kind == "expire":
        counts = {"expired": -points}
    elif kind == "reverse":
        counts = {"reversed": -points}
    counts = {name: value for name, value in counts.items() if value}
    if not counts and active is None:
        return None
    return Change(entry["program_id"], entry["created_at"], marker=entry["pk"], counts=counts, active=active)


def net_points(counts: dict[str, int]) -> int:
    """What the counted entries moved in all: the ledger's own sum over them (the reconciliation's identity)."""
    return (counts.get("issued", 0) + counts.get("refunded", 0) - counts.get("redeemed", 0)
            - counts.get("expired", 0) - counts.get("reversed", 0) - counts.get("adjusted_down", 0))
