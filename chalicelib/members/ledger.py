"""The ledger: every balance change is one DynamoDB transaction that appends an entry and moves the balance.

The entry's key is the change's idempotency key and is written on the condition that it is new,
so a replay can never credit or debit twice. The member item carries a version: a concurrent
writer makes the transaction fail and the caller re-reads and tries again, so two debits can
never both spend the same points.
"""
import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from chalicelib.core import clock, db, ids
from chalicelib.core.errors import Conflict, LaurelError
from chalicelib.core.transact import Replayed, Tx, with_retries
from chalicelib.members import lots
from chalicelib.members.lots import Wallet


def fingerprint(*parts: Any) -> str:
    """A stable hash of what a request asked for, to tell a replay from a different request."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- members' wallets ----------------------------------------------------------------------

def wallet_of(member: Optional[db.MemberItem]) -> Wallet:
    if member is None:
        return Wallet()
    return Wallet(available=int(member.available), pending=int(member.pending),
                  lifetime_earned=int(member.lifetime_earned), lifetime_spent=int(member.lifetime_spent),
                  lots=tuple(tuple(lot) for lot in member.lots or ()), earned=dict(member.earned or {}),
                  debt=int(member.debt or 0), holds=tuple(tuple(h) for h in member.holds or ()))


def new_member(org_id: str, program_id: str, external_id: str, now_iso: str) -> db.MemberItem:
    pk, sk = db.MemberItem.key(program_id, external_id)
    return db.MemberItem(pk, sk, org_id=org_id, program_id=program_id, external_id=external_id,
                         created_at=now_iso, updated_at=now_iso, lots=[], earned={})


def _index_due_work(member: db.MemberItem, wallet: Wallet) -> None:
    """Point the jobs' indexes at the next day this member's points expire or are released, and the day
    its tier may fall (`tier_review`, kept by chalicelib.members.standing)."""
    shard = db.shard_of(member.pk)
    due = lots.next_due(wallet)
    if due:
        member.gsi2pk, member.gsi2sk = f"DUE#{due[:10]}#{shard}", member.pk
    else:
        member.gsi2pk = member.gsi2sk = None
    if member.tier_review:
        member.gsi3pk, member.gsi3sk = f"TIER#{member.tier_review}#{shard}", member.pk
    else:
        member.gsi3pk = member.gsi3sk = None


def put_wallet(member: db.MemberItem, wallet: Wallet, now_iso: str) -> None:
    """Write a wallet into the member item, with the index entries of the work it makes due."""
    member.available, member.pending = wallet.available, wallet.pending
    member.lifetime_earned, member.lifetime_spent = wallet.lifetime_earned, wallet.lifetime_spent
    member.debt = wallet.debt
    member.lots = [list(lot) for lot in wallet.lots]
    member.holds = [list(h) for h in wallet.holds] or None
    member.earned = wallet.earned
    member.updated_at = now_iso
    _index_due_work(member, wallet)


# --- entries -------------------------------------------------------------------------------

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


def transaction_view(entry: db.EntryItem) -> dict:
    view = {"id": entry.txn_id, "kind": entry.kind, "points": int(entry.points),
            "balance_after": int(entry.balance_after), "created_at": entry.created_at}
    for name in ("event_id", "redemption_id", "reason", "expires_at", "reverses", "available_at"):
        if getattr(entry, name):
            view[name] = getattr(entry, name)
    return view


SETTLEMENT_REASON = "debt settled from new points"


def settle_debt(member: db.MemberItem, wallet: Wallet, entry: db.EntryItem, tx: Tx) -> Wallet:
    """A credit pays outstanding debt first, as its own `reverse` entry in the same transaction."""
    wallet, settled = lots.settle_debt(wallet)
    if settled:
        entry.settled = settled
        posting = Posting(scope="debt", key=entry.pk, fingerprint=entry.fingerprint, kind="reverse",
                          points=-settled, event_id=entry.event_id, reason=SETTLEMENT_REASON)
        settlement = entry_for(member, posting, wallet.total, entry.created_at)
        settlement.txn_id = f"{entry.txn_id}d"  # derivable from the credit, so answers can show it
        settlement.gsi1sk = f"{entry.created_at}#{settlement.txn_id}"
        tx.put("settlement", settlement, condition=db.EntryItem.pk.does_not_exist())
    return wallet


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


def append(member: db.MemberItem, entry: db.EntryItem, tx: Optional[Tx] = None) -> None:
    """The one write: the member's new state and its entry, plus any extra items, atomically."""
    tx = tx or Tx()
    tx.put("member", member)
    tx.put(f"entry:{entry.pk}", entry, condition=db.EntryItem.pk.does_not_exist(), return_old=True)
    tx.commit()


def idempotent(program_id: str, scope: str, key: str, request_fingerprint: str,
               attempt: Callable[[], db.EntryItem], answer: Callable[[db.EntryItem], dict]) -> tuple[dict, bool]:
    """Run a balance change once per key: a repeat answers the first result, whatever changed since.

    The happy path costs nothing extra (the key is a condition of the write). Only when the
    current state refuses the request (spent balance, empty stock) is the key looked up, so that
    a retry of a call that already succeeded still answers its first result. `answer` renders
    the entry (the new one, or the first call's) as the endpoint's answer.
    """
    try:
        return answer(with_retries(attempt)), False
    except Replayed as replayed:
        return answer(_same_request(replayed.entry, request_fingerprint)), True
    except LaurelError as refusal:
        if not refusal.permanent:
            raise
        entry = db.get(db.EntryItem, (db.entry_pk(program_id, scope, key), "ENTRY"))
        if entry is None:
            raise
        return answer(_same_request(entry, request_fingerprint)), True


def _same_request(entry: db.EntryItem, request_fingerprint: str) -> db.EntryItem:
    """The first call's entry for a repeated key, or 409 if the key was used for something else."""
    if entry.fingerprint != request_fingerprint:
        raise Conflict("This idempotency key was already used with a different request.",
                       code="idempotency_conflict")
    return entry


def today(now=None) -> str:
    return clock.day(now or clock.now())
