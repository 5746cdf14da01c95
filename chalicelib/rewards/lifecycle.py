"""A redemption's one state machine: the only writer of its status, so every move is one conditional write from
the status it starts from, and two writers racing (a decision and fulfilment, two reports) leave one outcome.

Each status keeps its own index entries, set and removed by the move into it: `pending` is in the outbox
(gsi2 `OUTBOX#{shard}`), from which the recovery job (recovery.py) sends fulfilment again if the first send
was lost, so every redemption reaches a final status; `awaiting_approval` and `processing` are in their
program's queue (a sparse gsi3 partition, statuses.QUEUES); any other status is in neither.

Every way back (failure, rejection, cancellation, return) is `give_back`: one transaction that moves the status
and gives back the points, the stock, the budget and what the reward's kind held (an experience's seats), so
once. Each move to a final status is announced to the organisation's webhook endpoints (`announce`), and told
to the member once (`tell`).
"""
import json
from typing import Callable

from chalicelib.core import aws, clock, db, settings, shards
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import logger as log
from chalicelib.core.transact import ConditionFailed, Replayed, Retry, Tx, update_if, with_retries
from chalicelib.members import account, profiles
from chalicelib.members.entries import Posting
from chalicelib.notices import notifications
from chalicelib.rewards import budgets, stock
from chalicelib.rewards.statuses import FINAL, QUEUES
from chalicelib.webhooks import events

INDEX = ("gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")  # the entries a status keeps (`entries_of`)

# What a reward's kind gives back within a way back's transaction (an experience's seats): kinds.registry.release
# for any redemption, or a kind's own when it gives back one of its own.
Release = Callable[[Tx, db.RedemptionItem], None]


def outbox_partition(shard: int) -> str:
    return f"OUTBOX#{shard}"


def outbox_key(redemption_id: str) -> str:
    return outbox_partition(db.shard_of(redemption_id))


def queue_key(status: str, program_id: str) -> str:
    """The sparse gsi3 partition listing a program's redemptions in `status`, oldest first (QUEUES)."""
    return f"{QUEUES[status][0]}#{program_id}"


def entries_of(status: str, redemption_id: str, program_id: str, created_at: str, now_iso: str) -> dict[str, str]:
    """The index entries a redemption in `status` keeps, by attribute: the outbox's (sorted by when it entered
    it) or its queue's (by when it was made)."""
    if status == "pending":
        return {"gsi2pk": outbox_key(redemption_id), "gsi2sk": now_iso}
    if status in QUEUES:
        return {"gsi3pk": queue_key(status, program_id), "gsi3sk": f"{created_at}#{redemption_id}"}
    return {}


def opening(program_id: str, redemption_id: str, now_iso: str, *, held: bool) -> dict:
    """A new redemption's status and index entries: `held` for an admin's approval (in the approval queue, not the
    outbox, until decided), else pending, in the outbox."""
    status = "awaiting_approval" if held else "pending"
    return {"status": status, **entries_of(status, redemption_id, program_id, now_iso, now_iso)}


def _actions(redemption: db.RedemptionItem, to_status: str, now_iso: str, fields: dict) -> list:
    """The writes of a move into `to_status` (with `fields`): its index entries set, every other one removed."""
    entries = entries_of(to_status, redemption.redemption_id, redemption.program_id, redemption.created_at, now_iso)
    item = db.RedemptionItem
    return [item.status.set(to_status), item.updated_at.set(now_iso),
            *(getattr(item, name).set(value) for name, value in fields.items()),
            *(getattr(item, name).set(entries[name]) if name in entries else getattr(item, name).remove()
              for name in INDEX)]


def load(org_id: str, program_id: str, redemption_id: str, *, reward_type: str | None = None) -> db.RedemptionItem:
    """The program's redemption; with `reward_type` (a fulfilment partner's reach), one of another type is 404
    too, as if absent."""
    redemption = find(redemption_id)
    if redemption is None or (redemption.org_id, redemption.program_id) != (org_id, program_id) \
            or reward_type not in (None, redemption.reward_type):
        raise NotFound("No such redemption.")
    return redemption


def find(redemption_id: str) -> db.RedemptionItem | None:
    return db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))


def member_of(redemption: db.RedemptionItem) -> db.MemberItem:
    """The redeeming member with its profile (what its messages and a partner's order address), in one BatchGetItem."""
    program_id, external_id = redemption.program_id, redemption.external_id
    found = profiles.member_from(db.get_many(*profiles.keys(program_id, external_id)), program_id, external_id)
    if found is None:
        raise NotFound("No such member.")
    return found


def move(redemption: db.RedemptionItem, from_statuses: tuple[str, ...], to_status: str, **fields) -> bool:
    """Move `redemption` from one of `from_statuses` to `to_status`, setting `fields` too (a fulfillment), in one
    conditional write; False if its status was another. `redemption` holds the item as written."""
    now_iso = clock.iso(clock.now())
    return update_if(redemption, _actions(redemption, to_status, now_iso, fields),
                     db.RedemptionItem.status.is_in(*from_statuses))


def mark_fulfilled(redemption: db.RedemptionItem, fulfillment: dict, tx: Tx | None = None) -> bool:
    """Move a pending redemption to fulfilled (with any extra items, atomically); False if it had moved on."""
    tx = tx or Tx()
    tx.update("redemption", redemption,
              _actions(redemption, "fulfilled", clock.iso(clock.now()), {"fulfillment": fulfillment}),
              condition=db.RedemptionItem.status == "pending")
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label == "redemption":
            return False
        raise Retry() from failed
    redemption.status, redemption.fulfillment = "fulfilled", fulfillment
    return True


def mark_sent(redemption: db.RedemptionItem) -> bool:
    """Mark a pending redemption sent to its provider, before its first order request, so a way back that needs it
    unsent (`give_back(unsent=True)`) and the order never both happen; False if it moved on first."""
    return update_if(redemption, [db.RedemptionItem.sent_at.set(clock.iso(clock.now()))],
                     db.RedemptionItem.status == "pending")


def refund(redemption_id: str, reason: str, *, restock: bool, release: Release) -> bool:
    """Mark a pending redemption failed and give its points back, once; False if it was not pending."""
    return give_back(redemption_id, ("pending",), "failed", reason, restock=restock, release=release) is not None


def give_back(redemption_id: str, from_statuses: tuple[str, ...], to_status: str, reason: str, *,
              restock: bool, release: Release, unsent: bool = False) -> db.RedemptionItem | None:
    """Move a redemption from one of `from_statuses` to `to_status` and give back its points (their expiry
    lots restored), its budget cost, what its kind held (`release`) and (if `restock`) its stock, in one
    transaction, so once; then announce it. None if it was not in one of those statuses (another move got there
    first), or, if `unsent`, if it was sent to the provider (`mark_sent`): only the provider's answer settles
    that one."""
    def attempt() -> db.RedemptionItem | None:
        redemption = find(redemption_id)
        if redemption is None or redemption.status not in from_statuses or (unsent and redemption.sent_at):
            return None
        member_key = db.MemberItem.key(redemption.program_id, redemption.external_id)
        reward_key = db.RewardItem.key(redemption.program_id, redemption.reward_id)
        found = db.get_many(member_key, reward_key)
        member, reward = found[member_key], found.get(reward_key)
        change = account.Account(None, member, clock.now())
        now_iso = change.now_iso
        change.restore(int(redemption.points), redemption.consumed)
        entry = change.entry(Posting(scope="refund", key=redemption_id, fingerprint=redemption_id, kind="refund",
                                     points=int(redemption.points), redemption_id=redemption_id, reason=reason))
        unmoved = db.RedemptionItem.status == redemption.status
        if unsent:
            unmoved &= db.RedemptionItem.sent_at.does_not_exist()
        tx = Tx()
        tx.update("redemption", redemption, _actions(redemption, to_status, now_iso, {"failure_reason": reason}),
                  condition=unmoved)
        if restock and reward is not None:
            stock.give_back(tx, reward, int(redemption.quantity), redemption_id)
        budgets.release(tx, redemption)
        release(tx, redemption)
        try:
            change.commit(entry, tx)
        except ConditionFailed as failed:
            if failed.label == "redemption" or shards.is_counter(failed.label):
                raise Retry() from failed  # its status moved, or a counter was split, meanwhile: read again
            raise
        except Replayed:
            return None  # its points were given back already
        redemption.status, redemption.failure_reason, redemption.updated_at = to_status, reason, now_iso
        return redemption

    moved = with_retries(attempt)
    if moved is not None:
        try:
            announce(moved)
        except Exception:  # noqa: BLE001 - the move stands; this was the message's last try, nothing retries it
            log.warning("redemption announcement failed", extra={"redemption_id": redemption_id})
    return moved


def announce(redemption: db.RedemptionItem) -> list[str]:
    """Tell the webhook endpoints where a redemption stands now: ids and statuses, never its code."""
    return events.emit(redemption.org_id, redemption.program_id, "redemption.status_changed", {"redemption": {
        "id": redemption.redemption_id, "member": redemption.external_id, "reward_id": redemption.reward_id,
        "reward_type": redemption.reward_type, "quantity": int(redemption.quantity),
        "points": int(redemption.points), "status": redemption.status, "created_at": redemption.created_at,
        "updated_at": redemption.updated_at}},
        event_key=f"{redemption.redemption_id}:{redemption.status}", occurred_at=redemption.updated_at)


def untold(redemption: db.RedemptionItem | None) -> bool:
    """Final, but the member has not been told yet (the notification could not be published)."""
    return redemption is not None and redemption.status in FINAL and not redemption.notified


def tell(redemption: db.RedemptionItem, delivered: notifications.Delivered) -> None:
    """Tell the member a final status it has not been told (a fulfilment as its kind words it: `delivered`,
    kinds.registry's), then mark it told; until that mark each call announces a fulfilment again, which finds the
    deliveries it made and adds none (a failure is announced by the `give_back` that makes it)."""
    if untold(redemption):
        if redemption.status == "fulfilled":
            announce(redemption)
        notifications.redemption_outcome(redemption, member_of(redemption), delivered)
        redemption.update(actions=[db.RedemptionItem.notified.set(True)])


def enqueue_fulfilment(org_id: str, program_id: str, redemption_id: str) -> None:
    """Best effort: a lost send is caught up by the recovery job from the outbox index."""
    body = json.dumps({"org_id": org_id, "program_id": program_id, "redemption_id": redemption_id})
    try:
        aws.client("sqs").send_message(QueueUrl=settings.fulfilment_queue_url(), MessageBody=body)
    except Exception:  # noqa: BLE001 - the outbox guarantees delivery; the caller's answer stands
        log.warning("fulfilment enqueue failed; recovery job will retry", extra={"redemption_id": redemption_id})
