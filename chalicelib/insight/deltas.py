"""What one change of the table adds to a program's analytics: pure, from the stream record's images.

A ledger entry is written once, under its idempotency key, and never rewritten in the points it moved, so its
INSERT is the one record that counts it; its key is the natural dedupe id. An account's INSERT is an enrolment.

Where an entry's points came from is its scope (the first part of its key after the program): `evt` an event's
rules and any running campaign's (one entry holds both; the campaigns' share is the entry's `campaign_points`),
`referral`, `rcg` recognition, `tierbonus`, `adj` manual adjustments (those that take points away are
`adjusted_down`, not issued).

Beyond the ledger, each from the one write that makes it happen (so each once):
- a redemption's INSERT is a redemption of its reward (with its money value per unit × quantity, as redeemed);
  its move into a way back (failed, rejected, cancelled, returned: the move that gives its points back, once)
  is a redemption cancelled, counted apart, in the period it happened;
- a referral code's INSERT is a code issued (the item has no time: counted when the stream reads it); an
  account's referrer set is a referee attached, its referral moved to rewarded is a referral qualified, and a
  referrer's `referral` entry is a referral paid;
- a tier change's INSERT is a member leaving one tier and entering another;
- an account write that removes pending holds due by then while its lifetime earned rises by at least as much
  is the release job's (a clawback from pending lowers lifetime earned): those points were released.

Counts by reward, campaign and tier are dynamic attributes (DynamoDB's ADD works on top-level attributes only),
named by `reward_counter`, `campaign_counter` and `tier_counter` and read back by `dimension_of`.
"""
import json
from dataclasses import dataclass, field
from typing import Optional

from chalicelib.core import clock

SOURCES = {"evt": "rules", "referral": "referrals", "rcg": "recognition", "tierbonus": "tier_bonuses",
           "adj": "adjustments"}
# Every fixed counter an aggregate holds; the read answers each one, zero when nothing added to it.
COUNTERS = ("issued", *(f"issued_{source}" for source in SOURCES.values()), "issued_other", "pending", "redeemed",
            "refunded", "expired", "reversed", "adjusted_down", "enrolled",
            "released", "redemptions", "redemptions_cancelled", "campaign_points", "campaign_awards",
            "referral_codes", "referrals_attached", "referrals_qualified", "referrals_paid", "tier_ups", "tier_downs")
GIVEN_BACK = ("failed", "rejected", "cancelled", "returned")  # a redemption's ways back (rewards/lifecycle.py)
# Dynamic counters' prefixes: by reward (its type, id, then what), by campaign, by tier (in or out, then its name).
REWARD, CAMPAIGN, TIER = "r#", "c#", "t#"


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


def reward_counter(reward_type: str, reward_id: str, what: str, currency: Optional[str] = None) -> str:
    """`what`: n (redemptions), x (cancelled), v (money value redeemed), vx (value cancelled), by currency."""
    return f"{REWARD}{reward_type}#{reward_id}#{what}" + (f"#{currency}" if currency else "")


def campaign_counter(campaign_id: str, what: str) -> str:
    """`what`: p (points given), n (awards)."""
    return f"{CAMPAIGN}{campaign_id}#{what}"


def tier_counter(direction: str, tier: str) -> str:
    """`direction`: in or out (a tier's name may hold any character, so it comes last)."""
    return f"{TIER}{direction}#{tier}"


def dimension_of(name: str) -> Optional[tuple[str, ...]]:
    """A dynamic counter's parts: ("reward", type, id, what[, currency]), ("campaign", id, what) or
    ("tier", direction, name); None for any other attribute."""
    if name.startswith(REWARD):
        return ("reward", *name[len(REWARD):].split("#"))
    if name.startswith(CAMPAIGN):
        return ("campaign", *name[len(CAMPAIGN):].split("#"))
    if name.startswith(TIER):
        return ("tier", *name[len(TIER):].split("#", 1))
    return None


def of_record(event_name: str, new: Optional[dict], old: Optional[dict]) -> Optional[Change]:
    """The change a stream record brings (images as plain values), or None if it adds nothing."""
    image = new or old or {}
    kind = image.get("_t")
    if event_name == "INSERT" and kind == "entry":
        return _entry(new)
    if kind == "member" and image.get("sk") == "MEMBER":
        if event_name == "INSERT":
            return Change(new["program_id"], new["created_at"], marker=f"{new['pk']}#ENROLLED",
                          counts={"enrolled": 1})
        if event_name == "MODIFY":
            return _account(new, old)
    if kind == "redemption" and event_name in ("INSERT", "MODIFY"):
        return _redemption(new, old if event_name == "MODIFY" else None)
    if event_name == "INSERT" and kind == "tierchange":
        return _tier_change(new)
    if event_name == "INSERT" and kind == "refcode":
        return Change(new["pk"].split("#")[1], clock.iso(clock.now()), marker=new["pk"],
                      counts={"referral_codes": 1})
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
        for campaign_id, given in (_json(entry.get("campaign_points")) or {}).items():
            counts[campaign_counter(campaign_id, "p")] = int(given)
            counts[campaign_counter(campaign_id, "n")] = 1
            counts["campaign_points"] = counts.get("campaign_points", 0) + int(given)
            counts["campaign_awards"] = counts.get("campaign_awards", 0) + 1
        if scope == "referral":
            counts["referrals_paid"] = 1
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


def _account(new: dict, old: dict) -> Optional[Change]:
    """A referee attached or qualified, and points released, by one write of the account (its version names it)."""
    counts = {}
    if new.get("referred_by") and not old.get("referred_by"):
        counts["referrals_attached"] = 1
    if new.get("referral") == "rewarded" and old.get("referral") != "rewarded":
        counts["referrals_qualified"] = 1
    released = released_points(new, old)
    if released:
        counts["released"] = released
    if not counts:
        return None
    return Change(new["program_id"], new["updated_at"], marker=f"{new['pk']}#v{new.get('version')}", counts=counts)


def released_points(new: dict, old: dict) -> int:
    """Points the release job moved from pending to available in this write: the holds due by the write that
    left whole, when the lifetime earned rose by at least as much (releasing credits them; a tier bonus the
    release lifts may add more; a clawback from pending lowers it instead)."""
    kept = {tuple(hold) for hold in _json(new.get("holds")) or []}
    due = sum(int(hold[1]) for hold in _json(old.get("holds")) or []
              if tuple(hold) not in kept and hold[0] <= new["updated_at"])
    risen = int(new.get("lifetime_earned") or 0) - int(old.get("lifetime_earned") or 0)
    return due if 0 < due <= risen else 0


def _redemption(new: dict, old: Optional[dict]) -> Optional[Change]:
    """A redemption made (INSERT) or given back (its move into a way back)."""
    if old is None:
        suffix, at, fixed = "", new["created_at"], "redemptions"
    elif new.get("status") in GIVEN_BACK and old.get("status") not in GIVEN_BACK:
        suffix, at, fixed = "x", new["updated_at"], "redemptions_cancelled"
    else:
        return None
    reward_type, reward_id = new["reward_type"], new["reward_id"]
    counts = {fixed: 1, reward_counter(reward_type, reward_id, suffix or "n"): 1}
    value = _json(new.get("value"))
    if value and value.get("amount"):
        counts[reward_counter(reward_type, reward_id, "v" + suffix, value["currency"])] = (
            int(value["amount"]) * int(new["quantity"]))
    return Change(new["program_id"], at, marker=new["pk"] + ("#BACK" if suffix else ""), counts=counts)


def _tier_change(change: dict) -> Change:
    counts = {"tier_ups" if change.get("change") == "up" else "tier_downs": 1}
    if change.get("from_tier"):
        counts[tier_counter("out", change["from_tier"])] = 1
    if change.get("to_tier"):
        counts[tier_counter("in", change["to_tier"])] = 1
    return Change(change["program_id"], change["created_at"], marker=f"{change['pk']}#{change['sk']}", counts=counts)


def _json(value):
    """A JSON attribute as the stream's image holds it (its text), or as already parsed."""
    return json.loads(value) if isinstance(value, str) else value


def net_points(counts: dict[str, int]) -> int:
    """What the counted entries moved in all: the ledger's own sum over them (the reconciliation's identity)."""
    return (counts.get("issued", 0) + counts.get("refunded", 0) - counts.get("redeemed", 0)
            - counts.get("expired", 0) - counts.get("reversed", 0) - counts.get("adjusted_down", 0))
