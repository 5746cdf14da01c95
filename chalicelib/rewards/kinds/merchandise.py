"""Merchandise: shipped to the address the member gives when redeeming, its progress reported by an admin
or by the fulfilment partner's own key (role `fulfilment`, which reaches merchandise alone).

Fulfilment moves a pending merchandise redemption to `processing`, and lists it in its program's to-ship
queue (the sparse gsi3 `SHIP#{program_id}`, read by `redemption_review.list_`) in that same update; from
there each report is one conditional status move: processing → shipped (with carrier and tracking, out of
the queue) → delivered, and shipped or delivered → returned. A return gives the points back and restocks
through `redemptions.give_back`, so once however often it is reported; a report that finds another status
answers 409 with it.
"""
from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, db
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.transact import error_code
from chalicelib.rewards import redemptions, review

KIND = "merchandise"
MOVES = {"shipped": ("processing",), "delivered": ("shipped",), "returned": ("shipped", "delivered")}


def check_request(reward: db.RewardItem, request: dict) -> None:
    """Merchandise needs a complete address; a 400 names the first field missing or wrong."""
    if reward.reward_type != KIND:
        return
    address = (request.get("delivery") or {}).get("address")
    if address is None:
        raise ValidationFailed("Merchandise needs a delivery address.", {"field": "delivery.address"})
    # Imported here for cold start: only the API redeems (and has the shapes loaded); fulfilment and the
    # jobs import this module too, and need no pydantic.
    from pydantic import ValidationError

    from chalicelib.rewards.shapes import ShippingAddress

    try:
        ShippingAddress.model_validate(address)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(["delivery", "address", *map(str, first["loc"])])
        raise ValidationFailed(f"{field}: {first['msg']}", {"field": field}) from None


def start(redemption: db.RedemptionItem) -> None:
    """pending → processing, out of the outbox: the goods are the partner's to ship now."""
    _move(redemption, "processing", ("pending",), {"type": KIND})


def report(org_id: str, program_id: str, redemption_id: str, update: dict, *, merchandise_only: bool) -> dict:
    """Apply a shipment report: shipped (carrier, tracking), delivered, or returned (refunded, restocked).
    `merchandise_only`: a fulfilment partner's, to which any other redemption is 404, as if absent."""
    redemption = redemptions.load(org_id, program_id, redemption_id, reward_type=KIND if merchandise_only else None)
    if redemption.reward_type != KIND:
        raise Conflict("Only merchandise is shipped.", {"reward_type": redemption.reward_type})
    status = update["status"]
    if status == "shipped" and not (update.get("carrier") and update.get("tracking")):
        raise ValidationFailed("A shipment names its carrier and tracking number.",
                               {"field": "tracking" if update.get("carrier") else "carrier"})
    if status == "returned":
        moved = redemptions.give_back(redemption_id, MOVES[status], "returned", "Returned to the sender.",
                                      restock=True)
        if moved is None:
            raise review.refusal(redemption_id, "returned")
        return redemptions.view(moved)
    now_iso = clock.iso(clock.now())
    shipment = {"carrier": update["carrier"], "tracking": update["tracking"], "shipped_at": now_iso} \
        if status == "shipped" else {"delivered_at": now_iso}
    if not _move(redemption, status, MOVES[status], {**(redemption.fulfillment or {"type": KIND}), **shipment}):
        raise review.refusal(redemption_id, status)
    return redemptions.view(redemption)


def _move(redemption: db.RedemptionItem, to_status: str, from_statuses: tuple[str, ...], fulfillment: dict) -> bool:
    """One conditional status move, announced to the webhook endpoints; False if the status was another.
    Into `processing` it enters the to-ship queue, out of it it leaves, in the same update."""
    now_iso = clock.iso(clock.now())
    if to_status == "processing":
        queue = [db.RedemptionItem.gsi3pk.set(redemptions.queue_key(to_status, redemption.program_id)),
                 db.RedemptionItem.gsi3sk.set(f"{redemption.created_at}#{redemption.redemption_id}")]
    else:
        queue = [db.RedemptionItem.gsi3pk.remove(), db.RedemptionItem.gsi3sk.remove()]
    try:
        redemption.update(actions=[
            db.RedemptionItem.status.set(to_status), db.RedemptionItem.fulfillment.set(fulfillment),
            db.RedemptionItem.updated_at.set(now_iso), db.RedemptionItem.gsi2pk.remove(),
            db.RedemptionItem.gsi2sk.remove(), *queue], condition=db.RedemptionItem.status.is_in(*from_statuses))
    except UpdateError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    redemptions.announce(redemption)
    return True
