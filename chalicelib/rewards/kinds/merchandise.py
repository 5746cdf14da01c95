"""Merchandise: shipped to the address the member gives when redeeming, its progress reported by an admin
or by the fulfilment partner's own key (role `fulfilment`, which reaches merchandise alone).

Fulfilment moves a pending merchandise redemption to `processing`, which lists it in its program's to-ship
queue (the sparse gsi3 `SHIP#{program_id}`, read by `review.list_`) in that same move; from there each report
(review.report_shipment) is one conditional status move: processing → shipped (with carrier and tracking, out
of the queue) → delivered, and shipped or delivered → returned. A return gives the points back and restocks
through `lifecycle.give_back`, so once however often it is reported; a report that finds another status
answers 409 with it.
"""
from chalicelib.core import clock, db
from chalicelib.core.errors import ValidationFailed
from chalicelib.rewards import lifecycle
from chalicelib.rewards.kinds.base import Kind

KIND = "merchandise"
MOVES = {"shipped": ("processing",), "delivered": ("shipped",), "returned": ("shipped", "delivered")}


class Merchandise(Kind):
    name = KIND

    def check(self, reward: db.RewardItem, request: dict) -> dict | None:
        """Merchandise needs a complete address; a 400 names the first field missing or wrong."""
        if reward.reward_type != KIND:
            return None
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
        return None

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        """pending → processing, out of the outbox: the goods are the partner's to ship now."""
        _move_and_announce(redemption, ("pending",), "processing", {"type": KIND})


def check_report(update: dict) -> None:
    """A shipment names its carrier and tracking number (400)."""
    if update["status"] == "shipped" and not (update.get("carrier") and update.get("tracking")):
        raise ValidationFailed("A shipment names its carrier and tracking number.",
                               {"field": "tracking" if update.get("carrier") else "carrier"})


def progress(redemption: db.RedemptionItem, update: dict) -> bool:
    """Move a redemption on as a shipped or delivered report says; False if its status was another."""
    status = update["status"]
    now_iso = clock.iso(clock.now())
    shipment = {"carrier": update["carrier"], "tracking": update["tracking"], "shipped_at": now_iso} \
        if status == "shipped" else {"delivered_at": now_iso}
    return _move_and_announce(redemption, MOVES[status], status,
                              {**(redemption.fulfillment or {"type": KIND}), **shipment})


def _move_and_announce(redemption: db.RedemptionItem, from_statuses: tuple[str, ...], to_status: str,
                       fulfillment: dict) -> bool:
    """`lifecycle.move` (same argument order), then announced to the webhook endpoints; False if the status was
    another."""
    if not lifecycle.move(redemption, from_statuses, to_status, fulfillment=fulfillment):
        return False
    lifecycle.announce(redemption)
    return True
