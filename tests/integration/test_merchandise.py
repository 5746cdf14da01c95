"""Merchandise through the API: an address checked when redeeming, `processing` once fulfilment runs, then
shipment reports as conditional moves (shipped → delivered, or returned: points back and restocked once).
A fulfilment partner's key (role `fulfilment`) lists what waits to ship, reads its address and reports it,
and reaches nothing else."""
import os

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


def ship(api, shop, redemption_id, body, key=None):
    return api.call("POST", f"{shop['path']}/redemptions/{redemption_id}/shipment", key or shop["admin"], body)


def key_of(api, shop, role):
    made = api.call("POST", "/v1/api-keys", shop["admin"], {"name": f"{role} key", "role": role})
    assert (made[0], made[1]["role"]) == (201, role), made
    return made[1]["secret"]


def queued(redemption_id):
    """The redemption's sparse gsi3 entry, as stored (None once it left the to-ship queue)."""
    from chalicelib.core import db

    return db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id)).gsi3pk


def to_ship(api, shop, key, limit=50):
    """The ids in the program's to-ship queue, page after page, and the pages' sizes."""
    ids, sizes, cursor = [], [], None
    while True:
        query = f"?status=processing&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.call("GET", f"{shop['path']}/redemptions{query}", key)
        assert status == 200, page
        ids += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        assert all(item["delivery"] == {"address": ADDRESS} for item in page["items"])
        if not (cursor := page["next_cursor"]):
            return ids, sizes


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


# --- a fulfilment partner (3PL) ---------------------------------------------------------------------

@pytest.fixture
def warehouse(api, shop):
    """The shop with 5 mugs in stock, 1000 more points for Ada, and a fulfilment key for its 3PL."""
    api.call("PATCH", f"{shop['path']}/rewards/{shop['mug']}", shop["admin"], {"stock": 5})
    api.call("POST", f"{shop['path']}/members/ada/adjustments", shop["admin"], {"points": 1000, "reason": "more"},
             {"Idempotency-Key": "more"})
    return {**shop, "fulfilment": key_of(api, shop, "fulfilment")}


def test_a_fulfilment_key_lists_what_waits_to_ship_reads_the_address_and_reports_it(stack, api, warehouse):
    # Given three mugs fulfilled into processing, and a fourth not yet fulfilled
    made = [redeem(api, warehouse, f"q{n}")[1]["id"] for n in range(3)]
    stack.pump("FulfilmentFunction")
    unfulfilled = redeem(api, warehouse, "q3")[1]["id"]
    partner = warehouse["fulfilment"]
    # When the 3PL lists the to-ship queue two at a time
    listed, sizes = to_ship(api, warehouse, partner, limit=2)
    # Then it holds the three processing, oldest first, each with its address, in pages of at most two
    assert listed == made and max(sizes) == 2
    # When it reads one, ships it, and reports it delivered
    status, mug = api.call("GET", f"{warehouse['path']}/redemptions/{made[0]}", partner)
    shipped = ship(api, warehouse, made[0], {"status": "shipped", "carrier": "DHL", "tracking": "JD1"}, partner)
    after_shipping = to_ship(api, warehouse, partner)[0]
    delivered = ship(api, warehouse, made[0], {"status": "delivered"}, partner)
    # Then it read the address, the shipped mug left the queue, and each move happened
    assert (status, mug["status"], mug["delivery"]) == (200, "processing", {"address": ADDRESS})
    assert (shipped[0], shipped[1]["status"], shipped[1]["delivery"]) == (200, "shipped", {"address": ADDRESS})
    assert after_shipping == made[1:]
    assert (queued(made[0]), queued(made[1])) == (None, f"SHIP#{warehouse['id']}")
    assert (delivered[0], delivered[1]["status"]) == (200, "delivered")
    # And the fourth joins the queue once fulfilled, last; an admin reads the same queue
    stack.pump("FulfilmentFunction")
    assert to_ship(api, warehouse, warehouse["admin"])[0] == [*made[1:], unfulfilled]
    assert state(api, warehouse) == (2000 - 4 * 300, 1)


def test_a_fulfilment_key_reaches_merchandise_alone(stack, api, warehouse):
    # Given a mug processing, a fulfilled gift card and a cashback
    path, admin, partner = warehouse["path"], warehouse["admin"], warehouse["fulfilment"]
    mug = redeem(api, warehouse, "mug")[1]["id"]
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Card", "cost": 10})[1]["id"]
    api.call("POST", f"{path}/rewards/{card}/codes", admin, {"codes": ["CARD-SECRET-1"]})
    cash = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cash", "cost": 10})[1]["id"]
    others = [api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": reward},
                       {"Idempotency-Key": reward})[1]["id"] for reward in (card, cash)]
    stack.pump("FulfilmentFunction")
    # When the 3PL reads or reports the gift card and the cashback
    # Then each is 404, as if absent, and never shows the code
    for other in others:
        read = api.call("GET", f"{path}/redemptions/{other}", partner)
        report = ship(api, warehouse, other, {"status": "delivered"}, partner)
        assert (read[0], read[1]["error"]["code"], report[0], report[1]["error"]["code"]) == (
            404, "not_found", 404, "not_found")
        assert "CARD-SECRET-1" not in str(read)
    # When it asks for the approval queue (by default or by name), another status, or anything an admin does
    refused = [
        api.call("GET", f"{path}/redemptions", partner),
        api.call("GET", f"{path}/redemptions?status=awaiting_approval", partner),
        *(api.call("POST", f"{path}/redemptions/{mug}/{action}", partner, body)
          for action, body in (("approve", None), ("reject", {"reason": "no"}), ("cancel", {}))),
        api.call("POST", f"{path}/members/ada/adjustments", partner, {"points": 1, "reason": "x"},
                 {"Idempotency-Key": "partner-adjust"}),
        api.call("PUT", f"{path}/members/ada", partner, {"name": "Ada"}),
        api.call("GET", f"{path}/members/ada", partner),
        api.call("POST", f"{path}/rewards", partner, {"type": "merchandise", "name": "Cap", "cost": 1}),
        api.call("PATCH", f"{path}/rewards/{warehouse['mug']}", partner, {"stock": 100}),
        api.call("GET", f"{path}/rewards", partner),
        api.call("POST", f"{path}/members/ada/redemptions", partner, {"reward_id": warehouse["mug"]},
                 {"Idempotency-Key": "partner-redeem"}),
        api.call("POST", "/v1/api-keys", partner, {"name": "more", "role": "admin"}),
        api.call("GET", path, partner),
    ]
    # Then each is 403 forbidden; an unknown status is a 400 naming it; its organisation it may read
    assert [(status, body["error"]["code"]) for status, body in refused] == [(403, "forbidden")] * len(refused)
    unknown = api.call("GET", f"{path}/redemptions?status=shipped", partner)
    assert (unknown[0], unknown[1]["error"]["details"]) == (400, {"field": "status"})
    assert api.call("GET", "/v1/org", partner)[1]["id"] == warehouse["org_id"]
    assert state(api, warehouse) == (2000 - 300 - 20, 4)


def test_the_address_is_shown_to_admins_the_members_session_and_fulfilment_not_to_store_or_analyst(
        stack, api, warehouse):
    # Given a mug processing, and a cashback redeemed with an email, a phone and a free-form address
    path, admin = warehouse["path"], warehouse["admin"]
    mug = redeem(api, warehouse, "mug")[1]["id"]
    cash = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cash", "cost": 10})[1]["id"]
    other = api.call("POST", f"{path}/members/ada/redemptions", admin,
                     {"reward_id": cash, "delivery": {"email": "ada@example.com", "phone": "+14155550100",
                                                      "address": {"desk": "4B"}}}, {"Idempotency-Key": "cash"})[1]
    stack.pump("FulfilmentFunction")
    session = api.call("POST", f"{path}/members/ada/sessions", admin, {"ttl_seconds": 600})[1]["token"]
    readers = {"admin": admin, "member": session, "fulfilment": warehouse["fulfilment"],
               **{role: key_of(api, warehouse, role) for role in ("store", "analyst")}}
    # When each reads the mug, and the cashback
    mugs = {role: api.call("GET", f"{path}/redemptions/{mug}", key)[1] for role, key in readers.items()}
    cashes = {role: api.call("GET", f"{path}/redemptions/{other['id']}", key)[1]
              for role, key in readers.items() if role != "fulfilment"}
    # Then the mug's address goes to admins, the member and the 3PL only; the cashback's delivery to nobody
    assert {role: seen.get("delivery") for role, seen in mugs.items()} == {
        "admin": {"address": ADDRESS}, "member": {"address": ADDRESS}, "fulfilment": {"address": ADDRESS},
        "store": None, "analyst": None}
    assert {role: "delivery" in seen for role, seen in cashes.items()} == dict.fromkeys(cashes, False)
    # And the redemption's own answer (replayed to whoever sends its key again) carries none
    assert "delivery" not in other


def test_another_organisations_fulfilment_key_gets_404(stack, api, warehouse):
    # Given a mug processing in the shop, and a fulfilment key of another organisation
    mug = redeem(api, warehouse, "mug")[1]["id"]
    stack.pump("FulfilmentFunction")
    other = api.call("POST", "/v1/orgs", os.environ["LAUREL_ROOT_KEY"], {"name": "Another shop"})[1]
    stranger = api.call("POST", "/v1/api-keys", other["admin_key"]["secret"], {"name": "3pl", "role": "fulfilment"})
    stranger = stranger[1]["secret"]
    # When it lists the shop's queue, reads the mug, and reports it shipped
    path = warehouse["path"]
    replies = [api.call("GET", f"{path}/redemptions?status=processing", stranger),
               api.call("GET", f"{path}/redemptions/{mug}", stranger),
               ship(api, warehouse, mug, {"status": "shipped", "carrier": "DHL", "tracking": "X"}, stranger)]
    # Then each is 404, and the mug still waits to ship
    assert [(status, body["error"]["code"]) for status, body in replies] == [(404, "not_found")] * 3
    assert to_ship(api, warehouse, warehouse["fulfilment"])[0] == [mug]
