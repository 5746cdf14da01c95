"""An admin's decisions on redemptions: approve or reject one awaiting approval, cancel one not yet fulfilled,
and the program's queues: awaiting approval, and merchandise waiting to ship (a fulfilment partner's too).

Each decision is a status move conditional on the status it starts from, so two decisions (or a decision
and fulfilment) racing leave exactly one outcome: the loser answers 409 with the status it found.
Rejection and cancellation give back points, stock and budget through `redemptions.give_back`, once.
"""
from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, db, pagination
from chalicelib.core.errors import Conflict, Forbidden, ValidationFailed
from chalicelib.core.observability import logger as log
from chalicelib.core.transact import error_code
from chalicelib.members import programs
from chalicelib.rewards import fulfilment, redemptions
from chalicelib.rewards.kinds import experience

CANCELLABLE = ("awaiting_approval", "pending")  # not yet fulfilled


def refusal(redemption_id: str, action: str) -> Conflict:
    """The 409 for a move its redemption's status does not allow, naming that status."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption.status == "pending" and redemption.sent_at:
        return Conflict(f"A transfer sent to the provider cannot be {action}: the provider's answer settles it "
                        "(fulfilled, or refunded if refused or never placed).", {"status": redemption.status})
    return Conflict(f"A redemption that is {redemption.status} cannot be {action}.", {"status": redemption.status})


def approve(org_id: str, program_id: str, redemption_id: str) -> dict:
    """awaiting_approval → pending, into the outbox, and fulfilment sent; 409 slot_started for a booking whose slot
    has begun."""
    redemption = redemptions.load(org_id, program_id, redemption_id)
    experience.refuse_approval_if_started(redemption)
    now_iso = clock.iso(clock.now())
    try:
        redemption.update(actions=[
            db.RedemptionItem.status.set("pending"), db.RedemptionItem.updated_at.set(now_iso),
            db.RedemptionItem.gsi3pk.remove(), db.RedemptionItem.gsi3sk.remove(),
            db.RedemptionItem.gsi2pk.set(redemptions.outbox_key(redemption_id)),
            db.RedemptionItem.gsi2sk.set(now_iso)], condition=db.RedemptionItem.status == "awaiting_approval")
    except UpdateError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            raise refusal(redemption_id, "approved") from None
        raise
    redemptions.enqueue_fulfilment(org_id, program_id, redemption_id)
    return redemptions.view(redemption)


def reject(org_id: str, program_id: str, redemption_id: str, reason: str) -> dict:
    return give_back(org_id, program_id, redemption_id, ("awaiting_approval",), "rejected", reason, "rejected")


def cancel(org_id: str, program_id: str, redemption_id: str, reason: str | None) -> dict:
    return give_back(org_id, program_id, redemption_id, CANCELLABLE, "cancelled", reason or "Cancelled by an admin.",
                      "cancelled")


def give_back(org_id, program_id, redemption_id, from_statuses, to_status, reason, action) -> dict:
    """A decision that gives everything back, then tells the member; 409 naming the status if it had moved."""
    redemptions.load(org_id, program_id, redemption_id)  # 404 unless it is this program's
    moved = redemptions.give_back(redemption_id, from_statuses, to_status, reason, restock=True, unsent=True)
    if moved is None:
        raise refusal(redemption_id, action)
    try:
        fulfilment.tell(redemption_id)
    except Exception:  # noqa: BLE001 - the decision stands; the member's message is best effort
        log.warning("redemption outcome message failed", extra={"redemption_id": redemption_id})
    return redemptions.view(moved)


def list_(org_id: str, program_id: str, query: dict, *, merchandise_only: bool) -> dict:
    """The program's redemptions in one queue, oldest first, a page at a time (a sparse gsi3 partition,
    `redemptions.QUEUES`): awaiting approval (the default), or merchandise processing, waiting to ship.
    `merchandise_only`: a fulfilment partner's key, which may list the merchandise alone (403 for the other)."""
    status = query.get("status", "awaiting_approval")
    if status not in redemptions.QUEUES:
        raise ValidationFailed(f"status must be one of: {', '.join(redemptions.QUEUES)}.", {"field": "status"})
    if merchandise_only and status != "processing":
        raise Forbidden("A fulfilment key lists only the merchandise waiting to ship: ?status=processing.")
    limit, scope = pagination.limit_from(query), f"{redemptions.QUEUES[status][1]}:{program_id}"
    start = pagination.decode(query, scope)
    programs.load(org_id, program_id)
    keys, last = db.index_page("gsi3", redemptions.queue_key(status, program_id), limit, start)
    found = db.get_many(*keys) if keys else {}
    items = [redemptions.view(found[key]) for key in keys
             if key in found and found[key].status == status]  # the index may lag a move out of the queue
    return {"items": items, "next_cursor": pagination.encode(last, scope)}
