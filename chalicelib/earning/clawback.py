"""Clawback: a refund or cancel event takes back the points its purchase earned, once, in proportion.

Points still pending in the purchase's return window are removed first; what was already released
is taken from the available balance (then debt, or forgiven, as the program says).

The reversed purchase's entry keeps a running `reversed` total, raised in the same transaction
as the reversal on the condition that it never exceeds what the purchase earned, so two refunds
of one order can never take back more than it gave.
"""
import math
from decimal import Decimal

from chalicelib.core import db
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.transact import ConditionFailed, Replayed, Retry, Tx
from chalicelib.members.account import Account
from chalicelib.members.entries import Posting, keep_balance


def is_reversal(program: db.ProgramItem, event_type: str) -> bool:
    return event_type in (program.clawback or {}).get("event_types", [])


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def basis_of(program: db.ProgramItem, properties: dict) -> float | None:
    """The purchase amount its partial refunds are measured against, if DynamoDB can keep it: a positive
    number of at most 38 significant digits between 1e-130 and 1e126 (else a refund takes all that is left)."""
    amount = _number(properties.get((program.clawback or {}).get("amount_property", "amount")))
    if amount is None or not 1e-130 <= amount < 1e126:
        return None
    significant = "".join(map(str, Decimal(str(amount)).as_tuple().digits)).strip("0")
    return amount if len(significant) <= 38 else None


def _share(original: db.EntryItem, amount: float) -> int:
    """The points of `amount` of the purchase, rounded down; a share past any float is all or none of them."""
    share = int(original.points) * amount / float(original.basis)
    return math.floor(share) if math.isfinite(share) else int(original.points) * (share > 0)


def _owed(original: db.EntryItem, properties: dict, amount_property: str) -> int:
    """What is still to take back: all that is left, the share of a refunded amount, or, for a
    cumulative `refunded_total` (as order webhooks send it), the share not yet taken back."""
    reversed_so_far = int(original.reversed or 0)
    remaining = int(original.points) - reversed_so_far
    total, amount = _number(properties.get("refunded_total")), _number(properties.get(amount_property))
    if original.basis and total is not None:
        return max(0, min(remaining, _share(original, total) - reversed_so_far))
    if original.basis and amount is not None:
        return max(0, min(remaining, _share(original, amount)))
    return remaining


def reverse(change: Account, event: dict, fingerprint: str) -> db.EntryItem:
    """Take back from the member's account what the purchase `properties.reverses` names earned (its share)."""
    program, member = change.program, change.member
    settings = program.clawback
    properties = event.get("properties") or {}
    target = properties.get("reverses")
    if not isinstance(target, str) or not target:
        raise ValidationFailed("A refund or cancel event names the event it reverses in properties.reverses.",
                               {"field": "properties.reverses"})
    original = db.get(db.EntryItem, (db.entry_pk(program.program_id, "evt", target), "ENTRY"))
    if original is not None and target == event["id"]:
        # Its own id is taken by the purchase: a replay or a conflict, never a write (one transaction
        # cannot update the purchase's entry and put the refund's under the same key: it would retry to 503)
        raise Replayed(original)
    if original is None or original.external_id != member.external_id or original.kind != "earn":
        raise NotFound(f"No earn event {target} for this member.", {"field": "properties.reverses"})
    owed = _owed(original, properties, settings.get("amount_property", "amount"))
    taken = change.claw_back(original, target, owed, allow_debt=settings.get("allow_debt", False))
    entry = change.entry(Posting(scope="evt", key=event["id"], fingerprint=fingerprint, kind="reverse",
                                 points=-taken, event_id=event["id"], reverses=target,
                                 reason=f"{event['type']} of {target}"))
    tx = Tx()
    change.settle(tx)
    keep_balance(entry, change.balance())
    if owed:
        tx.update("original", original, [db.EntryItem.reversed.add(owed)],
                  condition=db.EntryItem.reversed.does_not_exist()
                  | (db.EntryItem.reversed <= int(original.points) - owed))
    try:
        change.commit(entry, tx)
    except ConditionFailed as failed:  # another reversal of the same purchase got in first: decide again
        raise Retry() from failed
    return entry
