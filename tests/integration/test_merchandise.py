"""Merchandise through the API: an address checked when redeeming, `processing` once fulfilment runs, then
shipment reports as conditional moves (shipped → delivered, or returned: points back and restocked once)."""
import pytest
from given import enrol

ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
           "country": "GB"}


@pytest.fixture
def shop(api, program):
    """A member with 1000 points and a 300-point mug, 2 in stock."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, email="ada@example.com", name="Ada")
    mug = api.call("POST", f"{path}/rewards", admin, {"type": "merchandise", "name": "Mug", "cost": 300, "stock": 2})
    assert mug[0] == 201
    return {**program, "mug": mug[1]["id"]}


def redeem(api, shop, key, address=ADDRESS):
    delivery = {} if address is None else {"address": address}
    return api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"],
                    {"reward_id": shop["mug"], "delivery": delivery}, {"Idempotency-Key": key})


def ship(api, shop, redemption_id, body):
    return api.call("POST", f"{shop['path']}/redemptions/{redemption_id}/shipment", shop["admin"], body)


def state(api, shop):
    balance = api.call("GET", f"{shop['path']}/members/ada/balance", shop["admin"])[1]["available"]
    return balance, api.call("GET", f"{shop['path']}/rewards/{shop['mug']}", shop["admin"])[1]["stock"]


@pytest.mark.parametrize("address, field", [
    (None, "delivery.address"),
    ({k: v for k, v in ADDRESS.items() if k != "city"}, "delivery.address.city"),
    ({**ADDRESS, "country": "England"}, "delivery.address.country"),
    ({**ADDRESS, "postal_code": ""}, "delivery.address.postal_code"),
])
def test_merchandise_needs_a_complete_address(api, shop, address, field):
    # When the member redeems without an address, or with one missing or spoiling a field
    status, error = redeem(api, shop, "bad", address)
    # Then it is refused naming the field, and nothing is taken
    assert (status, error["error"]["code"], error["error"]["details"]["field"]) == (400, "validation_error", field)
    assert state(api, shop) == (1000, 2)


def test_merchandise_is_processed_shipped_and_delivered(stack, api, shop):
    # Given a redemption, fulfilled into processing
    made = redeem(api, shop, "m1")[1]
    stack.pump("FulfilmentFunction")
    get = api.call("GET", f"{shop['path']}/redemptions/{made['id']}", shop["admin"])[1]
    assert (get["status"], get["fulfillment"]) == ("processing", {"type": "merchandise"})
    # When delivery is reported before shipping, Then 409 naming where it stands
    early = ship(api, shop, made["id"], {"status": "delivered"})
    assert (early[0], early[1]["error"]["details"]) == (409, {"status": "processing"})
    # When shipped without tracking, Then 400
    assert ship(api, shop, made["id"], {"status": "shipped", "carrier": "DHL"})[1]["error"]["details"] == {
        "field": "tracking"}
    # When shipped, twice, then delivered
    shipped = ship(api, shop, made["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD0123"})
    twice = ship(api, shop, made["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD0123"})
    delivered = ship(api, shop, made["id"], {"status": "delivered"})
    # Then each move happened once, the fulfilment keeps carrier and tracking, and nothing came back
    assert (shipped[0], shipped[1]["status"]) == (200, "shipped")
    assert (twice[0], twice[1]["error"]["details"]) == (409, {"status": "shipped"})
    assert (delivered[0], delivered[1]["status"]) == (200, "delivered")
    assert {k: delivered[1]["fulfillment"][k] for k in ("type", "carrier", "tracking")} == {
        "type": "merchandise", "carrier": "DHL", "tracking": "JD0123"}
    assert "delivered_at" in delivered[1]["fulfillment"]
    assert state(api, shop) == (700, 1)


def test_a_return_refunds_and_restocks_once(stack, api, shop):
    # Given a delivered mug
    made = redeem(api, shop, "m2")[1]
    stack.pump("FulfilmentFunction")
    ship(api, shop, made["id"], {"status": "shipped", "carrier": "DHL", "tracking": "JD0456"})
    ship(api, shop, made["id"], {"status": "delivered"})
    assert state(api, shop) == (700, 1)
    # When its return is reported twice
    first, again = (ship(api, shop, made["id"], {"status": "returned"}) for _ in range(2))
    # Then the first gives the points and the stock back, the second is refused and gives nothing
    assert (first[0], first[1]["status"]) == (200, "returned")
    assert (again[0], again[1]["error"]["details"]) == (409, {"status": "returned"})
    assert state(api, shop) == (1000, 2)
    entries = api.call("GET", f"{shop['path']}/members/ada/transactions", shop["admin"])[1]["items"]
    assert [e["kind"] for e in entries].count("refund") == 1


def test_only_a_shipped_mug_can_be_returned_and_only_merchandise_ships(stack, api, shop):
    # Given a mug still processing, and a redemption of another kind
    made = redeem(api, shop, "m3")[1]
    stack.pump("FulfilmentFunction")
    other = api.call("POST", f"{shop['path']}/rewards", shop["admin"], {"type": "gift_card", "name": "Card",
                                                                       "cost": 10})[1]
    api.call("POST", f"{shop['path']}/rewards/{other['id']}/codes", shop["admin"], {"codes": ["C1"]})
    card = api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"], {"reward_id": other["id"]},
                    {"Idempotency-Key": "card"})[1]
    # When their returns are reported, Then both are 409 and nothing comes back
    assert ship(api, shop, made["id"], {"status": "returned"})[1]["error"]["details"] == {"status": "processing"}
    assert ship(api, shop, card["id"], {"status": "returned"})[0] == 409
    assert state(api, shop)[0] == 690
