"""A member's tier standing, applied to its item: an upgrade at once (the account, chalicelib.members.account,
pays the bonuses of the tiers it reaches), a downgrade only on the scheduled recalculation, each change
recorded in the member's tier history in the same transaction as the member (so it happens, and is told, once).
"""
from chalicelib.core import db
from chalicelib.core.transact import Tx
from chalicelib.members import lots, tiers
from chalicelib.members.lots import Wallet
from chalicelib.notices import tier_changes

# A spend measure may sum amounts past what a DynamoDB number holds (below 1e126): the tier history records
# such a measure at this, its largest (every tier threshold is far below it).
LARGEST_NUMBER = 9.99e125


def policy(program: db.ProgramItem) -> dict:
    return tiers.policy_of(program.tier_policy)


def counts_points(program: db.ProgramItem) -> bool:
    """Whether the program's tier measure is points earned (the contract's), not spend or events."""
    return policy(program)["measure"] == "points"


def window_day(program: db.ProgramItem, day: str) -> str | None:
    """The day points count toward the tier window on, when the program's measure is points."""
    return day if counts_points(program) else None


def measure(program: db.ProgramItem, wallet: Wallet, today: str) -> float:
    return lots.earned_in_window(wallet, today, int(policy(program)["window_days"]))


def stored_tier(program: db.ProgramItem, member: db.MemberItem | None) -> dict | None:
    """The member's tier as stored (what its benefits follow), if the program still has it."""
    name = member.tier if member else None
    return next((tier for tier in program.tiers or [] if tier["name"] == name), None)


def settle(program: db.ProgramItem, member: db.MemberItem, wallet: Wallet, now_iso: str, tx: Tx, *,
           scheduled: bool = False) -> tuple[Wallet, tiers.Standing]:
    """Move the member's tier as its wallet says; returns the wallet (days past the window forgotten) and
    where the member now stands (the account pays the bonuses of the tiers it reached).

    The history record joins `tx`; the caller writes the member in it.
    """
    rules, today = policy(program), now_iso[:10]
    days = int(rules["window_days"])
    wallet = lots.prune_earned(wallet, today, days)
    qualifying = lots.earned_in_window(wallet, today, days)
    standing = tiers.decide(program.tiers or [], rules, member.tier, qualifying, member.tier_below_since, today,
                            scheduled=scheduled)
    name = standing.tier["name"] if standing.tier else None
    if standing.change:
        change = db.TierChangeItem(
            *db.TierChangeItem.key(member.program_id, member.external_id, now_iso, int(member.version or 0)),
            org_id=member.org_id, program_id=member.program_id, external_id=member.external_id,
            change=standing.change, from_tier=member.tier, to_tier=name, qualifying=min(qualifying, LARGEST_NUMBER),
            created_at=now_iso)
        tier_changes.outbox(change)
        tx.put("tier-change", change, condition=db.TierChangeItem.pk.does_not_exist())
        tx.after(lambda: tier_changes.announce(change, member))
    member.tier, member.tier_below_since = name, standing.below_since
    if standing.below_since:
        member.tier_review = tiers.review_day(standing.below_since, rules).isoformat()
    else:
        falls = lots.next_window_drop(wallet, today, days, below=standing.tier["min_points"]) if name else None
        member.tier_review = _next_review(member.tier_review, falls, today)
    return wallet, standing


def _next_review(stored: str | None, falls: str | None, today: str) -> str | None:
    """The day the member's tier may fall: `falls`, unless a review still to come is earlier. Reviewing early
    costs the scheduled run one look (it sets the next day then); moving the day on with each earn would move
    the member's index entry on every earn."""
    if falls and stored and today < stored <= falls:
        return stored
    return falls


def history(program_id: str, external_id: str, limit: int, last_key) -> object:
    """The member's tier changes, newest first (a query of its own partition)."""
    return db.TierChangeItem.query(db.member_pk(program_id, external_id), db.TierChangeItem.sk.startswith("TIER#"),
                                   scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def change_view(change: db.TierChangeItem) -> dict:
    return {"change": change.change, "from": change.from_tier, "to": change.to_tier,
            "qualifying": int(change.qualifying) if float(change.qualifying).is_integer() else float(change.qualifying),
            "created_at": change.created_at}


def quantity_of(program: db.ProgramItem, event_type: str, properties: dict) -> float:
    """What an event adds to a `spend` or `events` tier measure (points measures count points instead)."""
    rules = policy(program)
    if rules["measure"] == "points" or (rules.get("event_types") and event_type not in rules["event_types"]):
        return 0
    if rules["measure"] == "events":
        return 1
    amount = properties.get(rules.get("spend_property", "amount"))
    return amount if isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount > 0 else 0


def clawed_window(program: db.ProgramItem, original: db.EntryItem, owed: int) -> float | None:
    """What a reversal of `owed` points of `original` takes out of the tier window: the points (None), the
    same share of the purchase's spend, or nothing for an events measure."""
    if counts_points(program):
        return None
    if policy(program)["measure"] == "events" or not original.basis or not int(original.points):
        return 0
    return float(original.basis) * owed / int(original.points)
