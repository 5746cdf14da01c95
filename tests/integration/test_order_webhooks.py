"""E-commerce order webhooks: paid earns, cumulative partial refunds and cancellations claw back, each once."""
import os
import uuid

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def shop(api):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Shop {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Shop", "earn_rules": [{"event_type": "purchase",
                                        "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "clawback": {"event_types": ["refund", "cancel"]}})[1]
    partner = api.call("POST", "/v1/api-keys", admin, {"name": "storefront", "role": "partner"})[1]["secret"]
    return {"admin": admin, "partner": partner, "path": f"/v1/programs/{program['id']}"}


def order(status, refunded=None, order_id="1001"):
    body = {"id": order_id, "status": status, "customer": {"id": "zoe", "email": "zoe@example.com"},
            "total": {"amount": 20000, "currency": "EUR"}, "line_items": [{"sku": "A", "qty": 2}]}
    if refunded is not None:
        body["refunded"] = {"amount": refunded, "currency": "EUR"}
    return body


def test_paid_then_partial_refunds_then_cancel(stack, api):
    program = shop(api)
    hook = f"{program['path']}/webhooks/orders"
    paid = api.call("POST", hook, program["partner"], order("paid"))
    assert paid[0] == 201 and paid[1]["points"] == 200
    assert api.call("POST", hook, program["partner"], order("paid"))[0] == 200  # redelivered: recorded once
    first = api.call("POST", hook, program["partner"], order("partially_refunded", refunded=5000))
    again = api.call("POST", hook, program["partner"], order("partially_refunded", refunded=5000))
    more = api.call("POST", hook, program["partner"], order("partially_refunded", refunded=8000))
    cancelled = api.call("POST", hook, program["partner"], order("cancelled"))
    assert first[1]["points"] == -50 and again[0] == 200
    assert more[1]["points"] == -30  # cumulative 80.00 refunded: only the new 30 points' share
    assert cancelled[1]["points"] == -120
    balance = api.call("GET", f"{program['path']}/members/zoe/balance", program["admin"])[1]
    assert balance["available"] == 0


def test_a_malformed_order_is_a_validation_error(stack, api):
    program = shop(api)
    reply = api.call("POST", f"{program['path']}/webhooks/orders", program["partner"],
                     {"id": "1", "status": "shipped", "customer": {"id": "zoe"},
                      "total": {"amount": 1, "currency": "EUR"}})
    assert reply[0] == 400 and reply[1]["error"]["details"]["field"] == "status"
