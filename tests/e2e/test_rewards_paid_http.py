"""The rewards that pay out, each through its whole life on the local stack, over HTTP and its queues:
gift cards (codes, low stock, out of stock, a failed fulfilment), cashback and payouts, points transfers
through the reward provider (a stand-in for Tremendous on this machine), approvals and cancellation.

Every test checks that the points and the money add up: each transaction follows from the one before,
they sum to the balance, and nothing is refunded twice."""
import hashlib
import json
import time
import uuid

import pytest

from fake_tremendous import FakeTremendous
from given_http import add_reward, enrol, ledger, redemption, refunds_of
from laurel_http import Http, new_tenant

W = "/v1/webhook-endpoints"
IBAN = "DE89370400440532013000"
BANK = {"type": "bank_transfer", "iban": IBAN, "account_name": "Ada Lovelace"}
PAYPAL = {"type": "paypal", "email": "ada.private@example.org"}


# --- Given steps ---------------------------------------------------------------------------------------

@pytest.fixture
def tenant(http, stack):
    """An organisation of this test's own on the session's stack (so its policies change nothing else)."""
    return new_tenant(http, stack.root_key)








def redeem(http, tenant, member, reward_id, key, key_of=None, **request):
    return http.call("POST", f"{tenant['path']}/members/{member}/redemptions", key_of or tenant["admin"],
                     {"reward_id": reward_id, **request}, headers={"Idempotency-Key": key})




def session(http, tenant, member):
    return http.call("POST", f"{tenant['path']}/members/{member}/sessions", tenant["admin"], {}).body["token"]


def role_key(http, tenant, role):
    made = http.call("POST", "/v1/api-keys", tenant["admin"], {"name": role, "role": role})
    assert made.status == 201, made
    return made.body["secret"]


def upload_code(http, tenant, reward_id, prefix):
    code = f"{prefix}-{uuid.uuid4().hex[:10].upper()}"
    uploaded = http.call("POST", f"{tenant['path']}/rewards/{reward_id}/codes", tenant["admin"], {"codes": [code]})
    assert uploaded.status == 201, uploaded
    return code


def vanish_codes(stack, reward_id, codes):
    """The codes disappear behind Laurel's back (a data fault): fulfilment can never take them."""
    dynamodb = stack.client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    for code in codes:
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": f"CODE#{reward_id}"},
                                                   "sk": {"S": hashlib.sha256(code.encode()).hexdigest()}})


def until(condition, failure, timeout=30):
    """Wait for something outside the stack's queues (a request reaching the stand-in provider)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def redeliver_fulfilment(stack, redemption_id):
    """What SQS may do at any time: deliver a redemption's fulfilment message once more."""
    sqs = stack.sqs()
    url = sqs.get_queue_url(QueueName="laurel-FulfilmentQueue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"redemption_id": redemption_id}))


# --- Then steps: the points and the money add up -----------------------------------------------------





def wallet(http, tenant, member, key=None):
    """The member's cash wallet, once checked: its transactions sum to its one balance, each following
    from the one before."""
    answer = http.call("GET", f"{tenant['path']}/members/{member}/wallet?limit=100", key or tenant["admin"])
    assert answer.status == 200, answer
    entries = list(reversed(answer.body["transactions"]))
    running = 0
    for entry in entries:
        running += entry["amount"]
        assert entry["balance_after"] == running, entries
    assert [b["balance"] for b in answer.body["balances"]] == ([running] if entries else []), answer.body
    return answer.body


def balance_of(answer):
    (only,) = answer["balances"]
    return only["balance"]


# --- gift cards -----------------------------------------------------------------------------------------

def test_a_gift_card_is_fulfilled_with_its_codes_announced_low_and_refused_when_they_run_out(
        http, stack, tenant, receiver):
    path, admin = tenant["path"], tenant["admin"]
    # Given an endpoint for low stock, and a 200-point gift card of three codes, low below two
    endpoint = http.call("POST", W, admin, {"url": receiver.url, "kinds": ["reward.low_stock"]})
    assert endpoint.status == 201, endpoint
    receiver.secrets.append(endpoint.body["secret"])
    card = add_reward(http, tenant, type="gift_card", name="Books", cost=200, low_stock_threshold=2)
    codes = [f"BOOK-{uuid.uuid4().hex[:10].upper()}" for _ in range(3)]
    uploaded = http.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": codes})
    assert (uploaded.status, uploaded.body) == (201, {"added": 3, "duplicates": 0})
    enrol(http, tenant, "ada", 1000, name="Ada", email="ada@example.com")
    token = session(http, tenant, "ada")
    # When Ada redeems it three times (once from her own session) and the platform settles
    made = [redeem(http, tenant, "ada", card["id"], f"card-{n}", key_of=token if n == 0 else None)
            for n in range(3)]
    assert [(r.status, r.body["status"]) for r in made] == [(202, "pending")] * 3
    assert stack.drain()
    # Then each is fulfilled with one of the codes, all different, shown to the admin and to Ada only
    shown = [redemption(http, tenant, r.body["id"]) for r in made]
    assert [r["status"] for r in shown] == ["fulfilled"] * 3
    assert sorted(r["fulfillment"]["code"] for r in shown) == sorted(codes)
    assert redemption(http, tenant, made[0].body["id"], token)["fulfillment"] == shown[0]["fulfillment"]
    for role in ("analyst", "store"):
        assert redemption(http, tenant, made[0].body["id"], role_key(http, tenant, role))["fulfillment"] == {
            "type": "gift_card"}
    # And the endpoint was told once, signed, when one code was left, without any code
    low = [b for b in receiver.bodies() if b["type"] == "reward.low_stock"]
    assert [b["data"]["reward"] for b in low] == [{"id": card["id"], "type": "gift_card", "name": "Books",
                                                   "stock": 1, "low_stock_threshold": 2}]
    assert all(r["verified_with"] == [endpoint.body["secret"]] for r in receiver.requests)
    assert not any(code.encode() in r["body"] for r in receiver.requests for code in codes)
    # When she redeems once more, with no code left
    refused = redeem(http, tenant, "ada", card["id"], "card-3")
    # Then it is refused and takes nothing
    assert (refused.status, refused.code) == (409, "out_of_stock")
    assert http.call("GET", f"{path}/rewards/{card['id']}", admin).body["stock"] == 0
    assert [(e["kind"], e["points"]) for e in ledger(http, tenant, "ada")] == [
        ("adjust", 1000), ("redeem", -200), ("redeem", -200), ("redeem", -200)]


def test_a_gift_card_whose_code_vanished_fails_and_is_refunded_once(http, stack, tenant):
    # Given a gift card whose only code disappears behind Laurel's back (a data fault): fulfilment cannot succeed
    card = add_reward(http, tenant, type="gift_card", name="Gone", cost=300)
    vanish_codes(stack, card["id"], [upload_code(http, tenant, card["id"], "GONE")])
    enrol(http, tenant, "sam", 500, name="Sam")
    # When Sam redeems it: the points are taken at once
    made = redeem(http, tenant, "sam", card["id"], "gone-1")
    assert made.status == 202
    assert ledger(http, tenant, "sam")[-1]["balance_after"] == 200
    # And fulfilment is tried as often as the queue allows, and its message is then delivered once more
    assert stack.drain(timeout=60)
    redeliver_fulfilment(stack, made.body["id"])
    assert stack.drain()
    # Then the redemption failed and its points came back exactly once
    assert redemption(http, tenant, made.body["id"])["status"] == "failed"
    entries = ledger(http, tenant, "sam")
    assert [(e["kind"], e["points"]) for e in entries] == [("adjust", 500), ("redeem", -300), ("refund", 300)]
    assert refunds_of(entries, made.body["id"]) == [entries[-1]]


# --- cashback and payouts ---------------------------------------------------------------------------

@pytest.fixture
def cash(http, stack, tenant):
    """Ada with 1000 points and a 400-point cashback reward worth 5.00 EUR."""
    enrol(http, tenant, "ada", 1000, name="Ada")
    reward = add_reward(http, tenant, type="cashback", name="5 EUR", cost=400, value={"amount": 500, "currency": "EUR"})
    return {**tenant, "reward_id": reward["id"]}


def earn_cashback(http, stack, cash, key="cb-1", quantity=1):
    made = redeem(http, cash, "ada", cash["reward_id"], key, quantity=quantity)
    assert made.status == 202, made
    assert stack.drain()
    return made.body


def request_payout(http, cash, amount, key, method=BANK, token=None):
    return http.call("POST", f"{cash['path']}/members/ada/payouts", token or cash["admin"],
                     {"amount": amount, "currency": "EUR", "method": method}, headers={"Idempotency-Key": key})


def act(http, cash, payout_id, action, body=None, key=None):
    return http.call("POST", f"{cash['path']}/payouts/{payout_id}/{action}", key or cash["admin"], body or {})


def test_a_cashback_redemption_credits_the_wallet_once_however_often_it_is_delivered(http, stack, cash):
    # Given a cashback redemption of two, fulfilled by the queue
    made = earn_cashback(http, stack, cash, quantity=2)
    # When its fulfilment message is delivered again
    redeliver_fulfilment(stack, made["id"])
    assert stack.drain()
    # Then the wallet holds 2 x 5.00 EUR, from one credit naming the redemption; the points were taken once
    shown = redemption(http, cash, made["id"])
    assert (shown["status"], shown["fulfillment"]) == ("fulfilled", {"type": "cashback", "amount": 1000,
                                                                     "currency": "EUR"})
    answer = wallet(http, cash, "ada")
    assert balance_of(answer) == 1000
    assert [(t["kind"], t["redemption_id"]) for t in answer["transactions"]] == [("credit", made["id"])]
    assert [(e["kind"], e["points"]) for e in ledger(http, cash, "ada")] == [("adjust", 1000), ("redeem", -800)]


def test_a_payout_reserves_at_once_and_is_approved_and_paid_once(http, stack, cash):
    # Given 5.00 EUR in the wallet
    earn_cashback(http, stack, cash)
    # When Ada asks for 3.00 EUR by bank transfer from her own session (twice, as a retry)
    token = session(http, cash, "ada")
    asked = request_payout(http, cash, 300, "po-1", token=token)
    again = request_payout(http, cash, 300, "po-1", token=token)
    # Then it is requested and reserved once
    assert (asked.status, asked.body["status"], asked.body["method"]) == (201, "requested", BANK)
    assert (again.status, again.body["id"]) == (200, asked.body["id"])
    assert balance_of(wallet(http, cash, "ada")) == 200
    # When an admin approves it and marks it paid, twice, then rejects it
    approved = act(http, cash, asked.body["id"], "approve")
    paid = act(http, cash, asked.body["id"], "mark-paid", {"external_reference": "SEPA-123"})
    paid_again = act(http, cash, asked.body["id"], "mark-paid", {"external_reference": "SEPA-456"})
    late_reject = act(http, cash, asked.body["id"], "reject", {"reason": "too late"})
    # Then it is paid once, and never returned once paid
    assert (approved.status, approved.body["status"]) == (200, "approved")
    assert (paid.status, paid.body["status"], paid.body["external_reference"]) == (200, "paid", "SEPA-123")
    assert (paid_again.status, paid_again.code, paid_again.body["error"]["details"]) == (
        409, "conflict", {"status": "paid"})
    assert late_reject.status == 409
    answer = wallet(http, cash, "ada")
    assert [(t["kind"], t["amount"]) for t in reversed(answer["transactions"])] == [
        ("credit", 500), ("payout_reserved", -300), ("payout_paid", 0)]
    assert balance_of(answer) == 200


def test_a_rejected_or_cancelled_payout_returns_its_money_once_and_none_goes_beyond_the_wallet(
        http, stack, cash):
    # Given 5.00 EUR in the wallet and two payouts of 2.00 EUR, by bank and by PayPal
    earn_cashback(http, stack, cash)
    bank = request_payout(http, cash, 200, "po-a").body
    paypal = request_payout(http, cash, 200, "po-b", method=PAYPAL).body
    assert balance_of(wallet(http, cash, "ada")) == 100
    # When one more is asked for beyond what is left
    beyond = request_payout(http, cash, 101, "po-c")
    # Then it is refused and reserves nothing
    assert (beyond.status, beyond.code) == (409, "insufficient_funds")
    assert balance_of(wallet(http, cash, "ada")) == 100
    # When the admin rejects the first twice and Ada cancels the second twice
    token = session(http, cash, "ada")
    rejected = [act(http, cash, bank["id"], "reject", {"reason": "Name does not match"}) for _ in range(2)]
    cancelled = [act(http, cash, paypal["id"], "cancel", key=token) for _ in range(2)]
    # Then each acts once, and each amount came back once
    assert [(r.status, r.body.get("status")) for r in rejected] == [(200, "rejected"), (409, None)]
    assert [(c.status, c.body.get("status")) for c in cancelled] == [(200, "cancelled"), (409, None)]
    answer = wallet(http, cash, "ada")
    assert balance_of(answer) == 500
    assert sorted((t["kind"], t["amount"]) for t in answer["transactions"]) == [
        ("credit", 500), ("payout_reserved", -200), ("payout_reserved", -200),
        ("payout_returned", 200), ("payout_returned", 200)]


def test_the_payout_method_is_masked_to_analysts_and_never_in_the_stacks_logs(http, stack, cash):
    # Given two payouts, by bank and by PayPal, and the first approved
    earn_cashback(http, stack, cash)
    bank = request_payout(http, cash, 100, "po-m1").body
    paypal = request_payout(http, cash, 100, "po-m2", method=PAYPAL).body
    assert act(http, cash, bank["id"], "approve").status == 200
    # When an analyst, the admin and Ada look at them
    analyst = role_key(http, cash, "analyst")
    seen = [http.call("GET", f"{cash['path']}/payouts/{p['id']}", analyst).body for p in (bank, paypal)]
    own = http.call("GET", f"{cash['path']}/payouts/{bank['id']}", session(http, cash, "ada")).body
    admin = http.call("GET", f"{cash['path']}/payouts/{paypal['id']}", cash["admin"]).body
    # Then the analyst sees them masked, the admin and Ada in full, and the analyst may not act on them
    assert [s["method"] for s in seen] == [{"type": "bank_transfer", "iban": "****3000", "account_name": "A***"},
                                           {"type": "paypal", "email": "a***@example.org"}]
    assert (own["method"], admin["method"]) == (BANK, PAYPAL)
    assert act(http, cash, paypal["id"], "approve", key=analyst).status == 403
    # And the stack, which logged the requests that made, approved and showed them, never logged the method
    assert stack.drain()
    assert f"/payouts/{bank['id']}/approve" in stack.output
    assert IBAN not in stack.output and "ada.private" not in stack.output and "Lovelace" not in stack.output


# --- approvals -------------------------------------------------------------------------------------

@pytest.fixture
def held(http, stack, tenant):
    """A program holding redemptions above 300 points for approval; Ada with 1000 points; a 400-point
    gift card of two codes."""
    path, admin = tenant["path"], tenant["admin"]
    assert http.call("PATCH", path, admin, {"redemption_policy": {"approval_above_points": 300}}).status == 200
    enrol(http, tenant, "ada", 1000, name="Ada")
    card = add_reward(http, tenant, type="gift_card", name="Books", cost=400)
    codes = [f"HELD-{uuid.uuid4().hex[:10].upper()}" for _ in range(2)]
    assert http.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": codes}).status == 201
    return {**tenant, "reward_id": card["id"], "codes": codes}


def awaiting(http, held):
    page = http.call("GET", f"{held['path']}/redemptions?status=awaiting_approval", held["admin"])
    assert page.status == 200, page
    return [r["id"] for r in page.body["items"]]


def test_a_redemption_above_the_threshold_waits_for_approval_and_is_then_fulfilled_by_the_queue(
        http, stack, held):
    # Given a 400-point redemption: above 300, so its points are taken and it waits
    made = redeem(http, held, "ada", held["reward_id"], "big")
    assert (made.status, made.body["status"]) == (202, "awaiting_approval")
    assert stack.drain()
    assert redemption(http, held, made.body["id"])["status"] == "awaiting_approval"
    assert awaiting(http, held) == [made.body["id"]]
    # When an admin approves it, twice
    approved = [http.call("POST", f"{held['path']}/redemptions/{made.body['id']}/approve", held["admin"], {})
                for _ in range(2)]
    assert stack.drain()
    # Then the first sends it on and the queue fulfils it with a code; the second is refused
    assert [(a.status, a.body.get("status")) for a in approved] == [(200, "pending"), (409, None)]
    done = redemption(http, held, made.body["id"])
    assert done["status"] == "fulfilled" and done["fulfillment"]["code"] in held["codes"]
    assert awaiting(http, held) == []
    assert [(e["kind"], e["points"]) for e in ledger(http, held, "ada")] == [("adjust", 1000), ("redeem", -400)]


def test_a_rejected_redemption_gives_its_points_and_stock_back_once(http, stack, held):
    # Given a redemption awaiting approval
    made = redeem(http, held, "ada", held["reward_id"], "big").body
    assert http.call("GET", f"{held['path']}/rewards/{held['reward_id']}", held["admin"]).body["stock"] == 1
    # When it is rejected twice, then approved, and the queue settles
    reject = f"{held['path']}/redemptions/{made['id']}/reject"
    first = http.call("POST", reject, held["admin"], {"reason": "Too many this month"})
    again = http.call("POST", reject, held["admin"], {"reason": "Again"})
    late = http.call("POST", f"{held['path']}/redemptions/{made['id']}/approve", held["admin"], {})
    assert stack.drain()
    # Then it is rejected with its reason; the points and the code came back exactly once
    assert (first.status, first.body["status"], first.body["reason"]) == (200, "rejected", "Too many this month")
    assert [(r.status, r.body["error"]["details"]) for r in (again, late)] == [(409, {"status": "rejected"})] * 2
    assert redemption(http, held, made["id"])["status"] == "rejected"
    entries = ledger(http, held, "ada")
    assert [(e["kind"], e["points"]) for e in entries] == [("adjust", 1000), ("redeem", -400), ("refund", 400)]
    assert len(refunds_of(entries, made["id"])) == 1
    assert http.call("GET", f"{held['path']}/rewards/{held['reward_id']}", held["admin"]).body["stock"] == 2
    assert awaiting(http, held) == []


# --- points transfers through the provider -----------------------------------------------------------

@pytest.fixture(scope="module")
def provider():
    with FakeTremendous(api_key="e2e-provider-key") as fake:
        yield fake


@pytest.fixture(scope="module")
def provider_stack(stack_with, provider):
    """A stack of this module's own, whose provider is the stand-in."""
    with stack_with(LAUREL_PROVIDER_URL=provider.url, LAUREL_PROVIDER_API_KEY=provider.api_key) as private:
        yield private


@pytest.fixture
def miles(provider_stack, provider):
    """On the provider's stack: Ada with 1000 points, a 500-point transfer to SkyMiles at half a mile a
    point, and an account number of this test's own; the provider's unused faults are dropped after."""
    http = Http(provider_stack.base_url)
    tenant = new_tenant(http, provider_stack.root_key)
    enrol(http, tenant, "ada", 1000, name="Ada", email="ada@example.com")
    reward = add_reward(http, tenant, type="points_transfer", name="SkyMiles", cost=500,
                        value={"partner": "skymiles", "rate": 0.5})
    yield {**tenant, "http": http, "reward_id": reward["id"], "account": f"SM-{uuid.uuid4().hex[:12]}"}
    with provider.lock:
        provider.faults.clear()


def transfer(miles, key="t1"):
    made = redeem(miles["http"], miles, "ada", miles["reward_id"], key, delivery={"account": miles["account"]})
    assert (made.status, made.body["status"]) == (202, "pending"), made
    return made.body


def asked(provider, miles):
    """The order requests the provider received for this test's account."""
    return [r["body"] for r in provider.requests if r["body"]["reward"]["recipient"]["account"] == miles["account"]]


TRANSIENT = {
    "a 503": ("status", 503, {}),
    "no answer within the timeout": ("hang", 6),  # PROVIDER_TIMEOUT_SECONDS is 5: the order is placed all the same
    "a 429 to wait out": ("status", 429, {"Retry-After": "1"}),
    "a 429 for the queue to wait out": ("status", 429, {"Retry-After": "60"}),
}


@pytest.mark.parametrize("first", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transfer_is_ordered_once_whatever_the_provider_answers_first(provider_stack, provider, miles, first):
    http = miles["http"]
    # Given the provider's first answer is a transient failure
    provider.fail_next(first)
    # When Ada transfers 500 points and the platform settles
    made = transfer(miles)
    assert provider_stack.drain(timeout=60)
    # Then it is fulfilled with the provider's one order for 250 miles, asked for again under the same id
    sent = asked(provider, miles)
    assert len(sent) == 2 and {s["external_id"] for s in sent} == {made["id"]}
    order = provider.orders[made["id"]]
    assert redemption(http, miles, made["id"])["fulfillment"] == {
        "type": "points_transfer", "partner": "skymiles", "units": 250, "account_last4": miles["account"][-4:],
        "provider_order_id": order["id"]}
    assert (order["reward"]["value"], order["reward"]["recipient"]) == (
        {"denomination": 250, "currency_code": "PTS"}, {"name": "Ada", "email": "ada@example.com",
                                                        "account": miles["account"]})
    assert [(e["kind"], e["points"]) for e in ledger(http, miles, "ada")] == [("adjust", 1000), ("redeem", -500)]


def test_a_refused_transfer_gives_the_points_back_at_once(provider_stack, provider, miles):
    # Given the provider refuses the order
    provider.fail_next(("status", 422, {}))
    # When Ada transfers, the platform settles, and the fulfilment message comes once more
    made = transfer(miles)
    assert provider_stack.drain()
    redeliver_fulfilment(provider_stack, made["id"])
    assert provider_stack.drain()
    # Then it failed after one request, nothing was ordered, and the points came back once
    assert redemption(miles["http"], miles, made["id"])["status"] == "failed"
    assert (len(asked(provider, miles)), made["id"] in provider.orders) == (1, False)
    entries = ledger(miles["http"], miles, "ada")
    assert [(e["kind"], e["points"]) for e in entries] == [("adjust", 1000), ("redeem", -500), ("refund", 500)]


def test_a_lasting_outage_is_refunded_after_the_last_try_once(provider_stack, provider, miles):
    # Given the provider fails every request
    provider.fail_next(*[("status", 503, {})] * 100)
    # When Ada transfers and the queue tries until it gives up
    made = transfer(miles)
    assert provider_stack.drain(timeout=60)
    # Then every receive (5) tried three times, nothing was ordered, and the points came back once
    assert (len(asked(provider, miles)), made["id"] in provider.orders) == (3 * 5, False)
    assert redemption(miles["http"], miles, made["id"])["status"] == "failed"
    entries = ledger(miles["http"], miles, "ada")
    assert [(e["kind"], e["points"]) for e in entries] == [("adjust", 1000), ("redeem", -500), ("refund", 500)]


# --- cancellation -----------------------------------------------------------------------------------

def test_an_admin_cancels_a_pending_redemption_once_and_its_fulfilment_then_does_nothing(http, stack, tenant):
    path, admin = tenant["path"], tenant["admin"]
    # Given a redemption kept pending: its gift card's only code vanished, so fulfilment keeps retrying
    card = add_reward(http, tenant, type="gift_card", name="Stuck", cost=300)
    vanish_codes(stack, card["id"], [upload_code(http, tenant, card["id"], "STUCK")])
    enrol(http, tenant, "bo", 500, name="Bo")
    made = redeem(http, tenant, "bo", card["id"], "stuck-1").body
    # When an admin cancels it, twice, while the queue goes on trying it
    cancel = f"{path}/redemptions/{made['id']}/cancel"
    first = http.call("POST", cancel, admin, {"reason": "Out of codes"})
    again = http.call("POST", cancel, admin, {})
    assert stack.drain(timeout=60)
    # Then it is cancelled with its reason, the second cancel refused, and the points came back exactly once
    assert (first.status, first.body["status"], first.body["reason"]) == (200, "cancelled", "Out of codes")
    assert (again.status, again.code, again.body["error"]["details"]) == (409, "conflict", {"status": "cancelled"})
    assert redemption(http, tenant, made["id"])["status"] == "cancelled"
    entries = ledger(http, tenant, "bo")
    assert [(e["kind"], e["points"]) for e in entries] == [("adjust", 500), ("redeem", -300), ("refund", 300)]


def test_a_transfer_sent_to_the_provider_cannot_be_cancelled_and_is_fulfilled_with_its_one_order(
        provider_stack, provider, miles):
    http = miles["http"]
    # Given a transfer whose first order request the provider takes but never answers in time
    provider.fail_next(("hang", 6), ("status", 503, {}), ("status", 503, {}))
    made = transfer(miles)
    until(lambda: asked(provider, miles), "the transfer was never sent")
    # When an admin cancels it, and the queue retries it
    cancel = http.call("POST", f"{miles['path']}/redemptions/{made['id']}/cancel", miles["admin"], {})
    assert provider_stack.drain(timeout=60)
    # Then the cancel is refused (the partner may have the units already), and the retry finds the one
    # order and fulfils it; the points are not given back
    assert (cancel.status, cancel.code, cancel.body["error"]["details"]) == (409, "conflict", {"status": "pending"})
    done = redemption(http, miles, made["id"])
    assert (done["status"], done["fulfillment"]["provider_order_id"]) == (
        "fulfilled", provider.orders[made["id"]]["id"])
    assert [(e["kind"], e["points"]) for e in ledger(http, miles, "ada")] == [("adjust", 1000), ("redeem", -500)]
