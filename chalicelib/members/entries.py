"""A ledger entry: what one balance change appends, keyed by the change's idempotency key, and how
entries are shown. The account (chalicelib.members.account) makes them with the balance they leave."""
from dataclasses import dataclass
from typing import Optional

from chalicelib.core import db, ids
from chalicelib.core.transact import Tx


@dataclass
class Posting:
    """One ledger entry to append, keyed by (scope, key) for idempotency."""

    scope: str
    key: str
    fingerprint: str
    kind: str
    points: int
    event_id: Optional[str] = None
    redemption_id: Optional[str] = None
    reason: Optional[str] = None
    expires_at: Optional[str] = None
    reverses: Optional[str] = None
    available_at: Optional[str] = None  # pending points: when they become available


def entry_for(member: db.MemberItem, posting: Posting, balance_after: int, now_iso: str) -> db.EntryItem:
    entry = db.EntryItem(
        db.entry_pk(member.program_id, posting.scope, posting.key), "ENTRY",
        txn_id=ids.new_id("txn"), org_id=member.org_id, program_id=member.program_id,
        external_id=member.external_id, kind=posting.kind, points=posting.points,
        balance_after=balance_after, event_id=posting.event_id, redemption_id=posting.redemption_id,
        reason=posting.reason, expires_at=posting.expires_at, reverses=posting.reverses, created_at=now_iso,
        available_at=posting.available_at,
        fingerprint=posting.fingerprint)
    if posting.points:
        entry.gsi1pk, entry.gsi1sk = member.pk, f"{now_iso}#{entry.txn_id}"
    return entry


def put_new(tx: Tx, label: str, entry: db.EntryItem) -> None:
    """Add `entry` to `tx` on the condition that its key is new (a replay writes nothing twice)."""
    tx.put(label, entry, condition=db.EntryItem.pk.does_not_exist(), return_old=label.startswith("entry:"))


def transaction_view(entry: db.EntryItem) -> dict:
    view = {"id": entry.txn_id, "kind": entry.kind, "points": int(entry.points),
            "balance_after": int(entry.balance_after), "created_at": entry.created_at}
    for name in ("event_id", "redemption_id", "reason", "expires_at", "reverses", "available_at"):
        if getattr(entry, name):
            view[name] = getattr(entry, name)
    return view


_END_OF_DAY = "T23:59:59.999Z"


def keep_balance(entry: db.EntryItem, balance: dict) -> None:
    """Keep with the entry the balance its change left, for a replay to answer again. Its next expiries are kept
    as [day, points] pairs: an entry under 1 KB costs half the write units, and ten expiries as the answer
    shows them would take most of that."""
    entry.snapshot = {("x" if name == "expiring" else name): (
        [[lot["expires_at"].removesuffix(_END_OF_DAY), lot["points"]] for lot in value] if name == "expiring" else value)
        for name, value in balance.items()}


def kept_balance(entry: db.EntryItem) -> dict:
    """The balance `keep_balance` kept (an entry written before it kept the answer as it was)."""
    return {("expiring" if name == "x" else name): (
        [{"points": points, "expires_at": at if len(at) > 10 else at + _END_OF_DAY} for at, points in value]
        if name == "x" else value) for name, value in (entry.snapshot or {}).items()}


SETTLEMENT_REASON = "debt settled from new points"


def settlement_view(entry: db.EntryItem) -> Optional[dict]:
    """The settlement entry a credit wrote, rebuilt from the credit (for answers and replays)."""
    if not entry.settled:
        return None
    view = {"id": f"{entry.txn_id}d", "kind": "reverse", "points": -int(entry.settled),
            "balance_after": int(entry.balance_after) - int(entry.settled), "reason": SETTLEMENT_REASON,
            "created_at": entry.created_at}
    if entry.event_id:
        view["event_id"] = entry.event_id
    return view
