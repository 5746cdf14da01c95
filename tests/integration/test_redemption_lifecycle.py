"""A redemption's money controls through the API: approval above a threshold, rejection and cancellation
giving points, stock and budget back once, and a money budget that concurrent redemptions never overspend."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from given import enrol, outcomes

from chalicelib.rewards import redemptions

W = "/v1/webhook-endpoints"
ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH",
           "country": "GB"}  # merchandise ships, so it needs one


@pytest.fixture
def shop(api, program):
    """A program holding redemptions above 300 points for approval; a member with 1000 points; a 10 EUR
    voucher (400 points, 5 in stock) and a 100-point sticker."""
    path, admin = program["path"], program["admin"]
    assert api.call("PATCH", path, admin, {"redemption_policy": {"approval_above_points": 300}})[0] == 200
    enrol(api, program, email="ada@example.com", name="Ada")
    status, voucher = api.call("POST", f"{path}/rewards", admin, {
        "type": "merchandise", "name": "Voucher", "cost": 400, "stock": 5, "value": {"amount": 1000, "currency": "EUR"}})
    assert status == 201, voucher
    sticker = api.call("POST", f"{path}/rewards", admin, {"type": "merchandise", "name": "Sticker", "cost": 100})[1]
    return {**program, "voucher": voucher["id"], "sticker": sticker["id"]}


def redeem(api, shop, reward, key, member="ada"):
    return api.call("POST", f"{shop['path']}/members/{member}/redemptions", shop["admin"],
                    {"reward_id": reward, "delivery": {"address": ADDRESS}},
                    {"Idempotency-Key": key})


def act(api, shop, redemption_id, action, body=None):
    return api.call("POST", f"{shop['path']}/redemptions/{redemption_id}/{action}", shop["admin"], body or {})


def balance(api, shop, member="ada"):
    return api.call("GET", f"{shop['path']}/members/{member}/balance", shop["admin"])[1]["available"]


def stock(api, shop):
    return api.call("GET", f"{shop['path']}/rewards/{shop['voucher']}", shop["admin"])[1]["stock"]


def status_of(api, shop, redemption_id):
    return api.call("GET", f"{shop['path']}/redemptions/{redemption_id}", shop["admin"])[1]["status"]


def awaiting(api, shop, query=""):
    status, page = api.call("GET", f"{shop['path']}/redemptions?status=awaiting_approval{query}", shop["admin"])
    assert status == 200, page
    return page


def refunds(api, shop, redemption_id):
    entries = api.call("GET", f"{shop['path']}/members/ada/transactions?limit=100", shop["admin"])[1]["items"]
    return [e for e in entries if e["kind"] == "refund" and e.get("redemption_id") == redemption_id]


# --- approvals -------------------------------------------------------------------------------------

def test_a_redemption_above_the_threshold_waits_and_two_approvals_act_once(stack, api, shop):
    # Given a 400-point redemption (above 300): points and stock taken, not fulfilled
    status, held = redeem(api, shop, shop["voucher"], "big")
    assert (status, held["status"]) == (202, "awaiting_approval")
    assert (balance(api, shop), stock(api, shop)) == (600, 4)
    stack.pump("FulfilmentFunction")
    assert status_of(api, shop, held["id"]) == "awaiting_approval"
    # And a small one goes straight on
    assert redeem(api, shop, shop["sticker"], "small")[1]["status"] == "pending"
    assert [r["id"] for r in awaiting(api, shop)["items"]] == [held["id"]]
    # When two admins approve it
    first, second = act(api, shop, held["id"], "approve"), act(api, shop, held["id"], "approve")
    # Then the first moves it on, the second is refused with where it stands, and it is fulfilled once
    # (merchandise: processing, the goods the partner's to ship)
    assert (first[0], first[1]["status"]) == (200, "pending")
    assert (second[0], second[1]["error"]["code"], second[1]["error"]["details"]) == (409, "conflict",
                                                                                      {"status": "pending"})
    stack.pump("FulfilmentFunction")
    assert status_of(api, shop, held["id"]) == "processing"
    assert awaiting(api, shop)["items"] == []
    assert (balance(api, shop), stock(api, shop)) == (500, 4)


def test_a_rejection_gives_points_stock_and_budget_back_once(stack, api, shop):
    # Given a budget and a redemption awaiting approval that used 10 EUR of it
    assert api.call("PATCH", shop["path"], shop["admin"], {"budget": {"amount": 5000, "currency": "EUR"}})[0] == 200
    held = redeem(api, shop, shop["voucher"], "big")[1]
    assert api.call("GET", f"{shop['path']}/budget", shop["admin"])[1]["used"] == 1000
    # When it is rejected (twice), and then approved
    first = act(api, shop, held["id"], "reject", {"reason": "Too many this month"})
    again = act(api, shop, held["id"], "reject", {"reason": "Again"})
    late = act(api, shop, held["id"], "approve")
    # Then it is rejected with its reason; everything came back exactly once
    assert (first[0], first[1]["status"], first[1]["reason"]) == (200, "rejected", "Too many this month")
    assert (again[0], again[1]["error"]["details"]) == (409, {"status": "rejected"})
    assert (late[0], late[1]["error"]["details"]) == (409, {"status": "rejected"})
    assert (balance(api, shop), stock(api, shop)) == (1000, 5)
    assert len(refunds(api, shop, held["id"])) == 1
    assert api.call("GET", f"{shop['path']}/budget", shop["admin"])[1] == {
        "amount": 5000, "currency": "EUR", "used": 0, "left": 5000, "alert_at_percent": [50, 80, 100]}
    assert awaiting(api, shop)["items"] == []


def test_a_rejection_needs_a_reason(stack, api, shop):
    held = redeem(api, shop, shop["voucher"], "big")[1]
    status, error = act(api, shop, held["id"], "reject", {})
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert status_of(api, shop, held["id"]) == "awaiting_approval"


def test_the_approval_queue_pages_oldest_first(stack, api, shop):
    # Given three redemptions awaiting approval (the member can afford two; top it up)
    api.call("POST", f"{shop['path']}/members/ada/adjustments", shop["admin"], {"points": 1000, "reason": "x"},
             {"Idempotency-Key": "top-up"})
    made = [redeem(api, shop, shop["voucher"], f"big-{n}")[1]["id"] for n in range(3)]
    # When the queue is read two at a time
    first = awaiting(api, shop, "&limit=2")
    rest = awaiting(api, shop, f"&limit=2&cursor={first['next_cursor']}")
    # Then it holds all three, oldest first; other statuses are refused
    assert [r["id"] for r in first["items"] + rest["items"]] == made
    status, error = api.call("GET", f"{shop['path']}/redemptions?status=fulfilled", shop["admin"])
    assert (status, error["error"]["details"]) == (400, {"field": "status"})


# --- cancellation -----------------------------------------------------------------------------------

def test_a_cancel_before_fulfilment_refunds_once_and_fulfilment_then_does_nothing(stack, api, program):
    # Given a pending redemption (no approval policy) of a stocked reward, its fulfilment queued
    path, admin = program["path"], program["admin"]
    assert api.call("PUT", f"{path}/members/bo", admin, {"name": "Bo"})[0] == 201
    api.call("POST", f"{path}/members/bo/adjustments", admin, {"points": 500, "reason": "x"},
             {"Idempotency-Key": "bo"})
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "merchandise", "name": "Mug", "cost": 200,
                                                         "stock": 3})[1]
    made = api.call("POST", f"{path}/members/bo/redemptions", admin,
                    {"reward_id": reward["id"], "delivery": {"address": ADDRESS}},
                    {"Idempotency-Key": "mug"})[1]
    assert made["status"] == "pending"
    # When an admin cancels it (twice), and then its fulfilment message arrives
    first = api.call("POST", f"{path}/redemptions/{made['id']}/cancel", admin, {"reason": "Out of mugs"})
    again = api.call("POST", f"{path}/redemptions/{made['id']}/cancel", admin, {})
    stack.pump("FulfilmentFunction")
    # Then it stays cancelled; points and stock came back exactly once
    assert (first[0], first[1]["status"], first[1]["reason"]) == (200, "cancelled", "Out of mugs")
    assert (again[0], again[1]["error"]["details"]) == (409, {"status": "cancelled"})
    done = api.call("GET", f"{path}/redemptions/{made['id']}", admin)[1]
    assert (done["status"], done.get("fulfillment")) == ("cancelled", {})
    assert api.call("GET", f"{path}/members/bo/balance", admin)[1]["available"] == 500
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 3
    entries = api.call("GET", f"{path}/members/bo/transactions", admin)[1]["items"]
    assert [e["kind"] for e in entries].count("refund") == 1


def test_a_redemption_awaiting_approval_can_be_cancelled(stack, api, shop):
    held = redeem(api, shop, shop["voucher"], "big")[1]
    status, cancelled = act(api, shop, held["id"], "cancel")
    assert (status, cancelled["status"]) == (200, "cancelled")
    assert (balance(api, shop), stock(api, shop)) == (1000, 5)
    assert awaiting(api, shop)["items"] == []


def test_a_cancel_after_fulfilment_is_409_and_changes_nothing(stack, api, shop):
    made = redeem(api, shop, shop["sticker"], "small")[1]
    stack.pump("FulfilmentFunction")
    status, error = act(api, shop, made["id"], "cancel", {"reason": "too late"})
    assert (status, error["error"]["code"], error["error"]["details"]) == (409, "conflict", {"status": "processing"})
    assert status_of(api, shop, made["id"]) == "processing"
    assert balance(api, shop) == 900 and refunds(api, shop, made["id"]) == []


def test_a_cancel_racing_fulfilment_leaves_one_outcome(stack, api, shop):
    # Given several pending redemptions whose fulfilment is queued
    made = [redeem(api, shop, shop["sticker"], f"race-{n}")[1]["id"] for n in range(4)]
    # When each is cancelled while fulfilment runs
    with ThreadPoolExecutor(2) as pool:
        pumped = pool.submit(stack.pump, "FulfilmentFunction")
        cancels = [act(api, shop, rid, "cancel")[0] for rid in made]
        pumped.result()
    stack.pump("FulfilmentFunction")
    # Then each ended either cancelled (200, refunded once) or on its way (409, nothing given back)
    for rid, status in zip(made, cancels):
        final = status_of(api, shop, rid)
        assert (status, final) in ((200, "cancelled"), (409, "processing")), (status, final)
        assert len(refunds(api, shop, rid)) == (final == "cancelled")
    fulfilled = sum(status_of(api, shop, rid) == "processing" for rid in made)
    assert balance(api, shop) == 1000 - 100 * fulfilled


# --- budgets ----------------------------------------------------------------------------------------

def test_many_redemptions_racing_for_the_last_of_a_budget_never_overspend(stack, api, program, receiver):
    # Given a 45 EUR budget with 5 EUR used (announced at 50/80/100 %), and 12 members who can each buy a 10 EUR reward
    path, admin = program["path"], program["admin"]
    assert api.call("PATCH", path, admin, {"budget": {"amount": 4500, "currency": "EUR"}})[0] == 200
    status, endpoint = api.call("POST", W, admin, {"url": receiver.url, "kinds": ["budget.threshold"]})
    assert status == 201
    small = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "5", "cost": 10,
                                                        "value": {"amount": 500, "currency": "EUR"}})[1]
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "10", "cost": 100,
                                                         "value": {"amount": 1000, "currency": "EUR"}})[1]
    for n in [*range(12), "-seed"]:
        api.call("POST", f"{path}/events", admin, {"id": f"join-{n}", "type": "signup", "member": f"m{n}"})
    assert api.call("POST", f"{path}/members/m-seed/redemptions", admin, {"reward_id": small["id"]},
                    {"Idempotency-Key": "small"})[0] == 202

    # When all twelve redeem at once
    results = outcomes([lambda n=n: redemptions.create(program["org_id"], program["id"], f"m{n}",
                                                       {"reward_id": reward["id"]}, f"b-{n}") for n in range(12)])
    # Then exactly four fit (5 + 4 × 10 = 45 EUR), the rest are refused, and the budget is exactly used up
    assert results == ["budget_exceeded"] * 8 + ["ok"] * 4
    budget = api.call("GET", f"{path}/budget", admin)[1]
    assert (budget["used"], budget["left"]) == (4500, 0)
    # And the points add up: four members paid 100 each, nobody else anything
    spent = sum(100 - api.call("GET", f"{path}/members/m{n}/balance", admin)[1]["available"] for n in range(12))
    assert spent == 4 * 100
    # And each level was announced once
    page = api.call("GET", f"{W}/{endpoint['id']}/deliveries?limit=100", admin)[1]["items"]
    levels = sorted(d["event"]["data"]["budget"]["percent"] for d in page)
    assert levels == [50, 80, 100]
    stack.pump("FulfilmentFunction")


def test_a_refused_redemption_says_what_is_left_and_takes_nothing(stack, api, shop):
    assert api.call("PATCH", shop["path"], shop["admin"], {"budget": {"amount": 1500, "currency": "EUR"}})[0] == 200
    assert redeem(api, shop, shop["voucher"], "one")[0] == 202
    status, error = redeem(api, shop, shop["voucher"], "two")
    assert (status, error["error"]["code"]) == (409, "budget_exceeded")
    assert error["error"]["details"] == {"amount": 1500, "used": 1000, "left": 500, "cost": 1000, "currency": "EUR"}
    assert (balance(api, shop), stock(api, shop)) == (600, 4)
    # A reward without a value takes nothing from it
    assert redeem(api, shop, shop["sticker"], "free")[0] == 202
    assert api.call("GET", f"{shop['path']}/budget", shop["admin"])[1]["used"] == 1000
    stack.pump("FulfilmentFunction")


def test_a_reward_valued_in_another_currency_is_refused(stack, api, shop):
    assert api.call("PATCH", shop["path"], shop["admin"], {"budget": {"amount": 1500, "currency": "USD"}})[0] == 200
    status, error = redeem(api, shop, shop["voucher"], "eur")
    assert (status, error["error"]["code"]) == (409, "currency_mismatch")
    assert balance(api, shop) == 1000


def test_a_program_without_a_budget_has_none_to_show(stack, api, program):
    status, error = api.call("GET", f"{program['path']}/budget", program["admin"])
    assert (status, error["error"]["code"]) == (404, "not_found")
