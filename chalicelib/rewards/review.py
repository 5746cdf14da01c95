"""The decisions on redemptions: an admin's approval or rejection of one awaiting approval, a cancellation of one
not yet fulfilled (or of an experience's booking, by its member too), a shipment's progress reported by an admin or
the fulfilment partner, and the program's queues: awaiting approval, and merchandise waiting to ship.

Each decision is a status move conditional on the status it starts from (lifecycle.py), so two decisions (or a
decision and fulfilment) racing leave exactly one outcome: the loser answers 409 with the status it found.
Rejection, cancellation and return give back points, stock, budget and what the kind held through
`lifecycle.give_back`, once.
"""
from chalicelib.core import db, pagination
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.observability import logger as log
from chalicelib.members import programs
from chalicelib.rewards import fulfilment, lifecycle, redemptions
from chalicelib.rewards.kinds import experience, merchandise, registry
from chalicelib.rewards.statuses import QUEUES

CANCELLABLE = ("awaiting_approval", "pending")  # not yet fulfilled


def refusal(redemption_id: str, action: str) -> Conflict:
    """The 409 for a move its redemption's status does not allow, naming that status."""
    redemption = lifecycle.find(redemption_id)
    if redemption.status == "pending" and redemption.sent_at:
        return Conflict(f"A transfer sent to the provider cannot be {action}: the provider's answer settles it "
                        "(fulfilled, or refunded if refused or never placed).", {"status": redemption.status})
    return Conflict(f"A redemption that is {redemption.status} cannot be {action}.", {"status": redemption.status})


def approve(org_id: str, program_id: str, redemption_id: str) -> dict:
    """awaiting_approval → pending, into the outbox, and fulfilment sent; 409 slot_started for a booking whose slot
    has begun."""
    redemption = lifecycle.load(org_id, program_id, redemption_id)
    registry.of(redemption.reward_type).check_approval(redemption)
    if not lifecycle.move(redemption, ("awaiting_approval",), "pending"):
        raise refusal(redemption_id, "approved")
    lifecycle.enqueue_fulfilment(org_id, program_id, redemption_id)
    return redemptions.view(redemption)


def reject(org_id: str, program_id: str, redemption_id: str, reason: str) -> dict:
    return _give_back(org_id, program_id, redemption_id, ("awaiting_approval",), "rejected", reason, "rejected")


def cancel(org_id: str, program_id: str, redemption_id: str, reason: str | None) -> dict:
    return _give_back(org_id, program_id, redemption_id, CANCELLABLE, "cancelled", reason or "Cancelled by an admin.",
                      "cancelled")


def cancel_booking(org_id: str, program_id: str, redemption_id: str, external_id: str | None) -> dict:
    """Cancel an experience's booking before its cutoff (`external_id`: its member's own session): points back and
    seats freed once; 409 after the cutoff or once moved."""
    redemption = lifecycle.load(org_id, program_id, redemption_id)
    if external_id is not None and redemption.external_id != external_id:
        raise NotFound("No such redemption.")
    experience.check_cancellable(redemption)
    return _give_back(org_id, program_id, redemption_id, experience.CANCELLABLE, "cancelled", "Booking cancelled.",
                      "cancelled")


def _give_back(org_id, program_id, redemption_id, from_statuses, to_status, reason, action) -> dict:
    """A decision that gives everything back, then tells the member; 409 naming the status if it had moved."""
    lifecycle.load(org_id, program_id, redemption_id)  # 404 unless it is this program's
    moved = lifecycle.give_back(redemption_id, from_statuses, to_status, reason, restock=True, unsent=True,
                                release=registry.release)
    if moved is None:
        raise refusal(redemption_id, action)
    try:
        fulfilment.tell(redemption_id)
    except Exception:  # noqa: BLE001 - the decision stands; the member's message is best effort
        log.warning("redemption outcome message failed", extra={"redemption_id": redemption_id})
    return redemptions.view(moved)


def report_shipment(org_id: str, program_id: str, redemption_id: str, update: dict, *,
                    merchandise_only: bool) -> dict:
    """Apply a shipment report: shipped (carrier, tracking), delivered, or returned (refunded, restocked).
    `merchandise_only`: a fulfilment partner's, to which any other redemption is 404, as if absent."""
    redemption = lifecycle.load(org_id, program_id, redemption_id,
                                reward_type=merchandise.KIND if merchandise_only else None)
    if redemption.reward_type != merchandise.KIND:
        raise Conflict("Only merchandise is shipped.", {"reward_type": redemption.reward_type})
    merchandise.check_report(update)
    status = update["status"]
    if status == "returned":
        moved = lifecycle.give_back(redemption_id, merchandise.MOVES[status], "returned", "Returned to the sender.",
                                    restock=True, release=registry.release)
        if moved is None:
            raise refusal(redemption_id, "returned")
        return redemptions.view(moved)
    if not merchandise.progress(redemption, update):
        raise refusal(redemption_id, status)
    return redemptions.view(redemption)


def list_(org_id: str, program_id: str, query: dict, *, merchandise_only: bool) -> dict:
    """The program's redemptions in one queue, oldest first, a page at a time (a sparse gsi3 partition,
    `statuses.QUEUES`): awaiting approval (the default), or merchandise processing, waiting to ship.
    `merchandise_only`: a fulfilment partner's key, which may list the merchandise alone (403 for the other)."""
    status = query.get("status", "awaiting_approval")
    if status not in QUEUES:
        raise ValidationFailed(f"status must be one of: {', '.join(QUEUES)}.", {"field": "status"})
    if merchandise_only and status != "processing":
        raise Forbidden("A fulfilment key lists only the merchandise waiting to ship: ?status=processing.")
    limit, scope = pagination.limit_from(query), f"{QUEUES[status][1]}:{program_id}"
    start = pagination.decode(query, scope)
    programs.load(org_id, program_id)
    keys, last = db.index_page("gsi3", lifecycle.queue_key(status, program_id), limit, start)
    found = db.get_many(*keys) if keys else {}
    items = [redemptions.view(found[key]) for key in keys
             if key in found and found[key].status == status]  # the index may lag a move out of the queue
    return {"items": items, "next_cursor": pagination.encode(last, scope)}
