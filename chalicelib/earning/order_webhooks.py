"""E-commerce order webhooks (paid, refunded, cancelled) mapped to Laurel events.

Each order state becomes an event with an id derived from the order, its status and, for
refunds, the cumulative refunded amount, so a webhook delivered any number of times is recorded
once, and partial refunds take back only the share not yet taken back.
"""
from chalicelib.earning import earn

PURCHASE, REFUND, CANCEL = "purchase", "refund", "cancel"


def to_event(order: dict) -> dict:
    member, order_id = order["customer"]["id"], order["id"]
    paid = f"order:{order_id}:paid"
    if order["status"] == "paid":
        return {"id": paid, "type": PURCHASE, "member": member,
                "properties": {"amount": order["total"]["amount"], "currency": order["total"]["currency"],
                               "order_id": order_id}}
    if order["status"] == "cancelled":
        return {"id": f"order:{order_id}:cancelled", "type": CANCEL, "member": member,
                "properties": {"reverses": paid, "order_id": order_id}}
    refunded = order["refunded"]["amount"] if order.get("refunded") else order["total"]["amount"]
    return {"id": f"order:{order_id}:refunded:{refunded}", "type": REFUND, "member": member,
            "properties": {"reverses": paid, "refunded_total": refunded, "order_id": order_id}}


def record_order(org_id: str, program_id: str, order: dict) -> tuple[dict, bool]:
    return earn.record_event(org_id, program_id, to_event(order))
