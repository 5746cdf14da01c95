"""points_transfer rewards through the API: points sent to a partner program through the provider (a
stand-in for Tremendous), fulfilled with its order id; a refusal or a lasting outage gives them back once."""
import pytest
from given import enrol

from fake_tremendous import FakeTremendous


@pytest.fixture
def provider(monkeypatch):
    with FakeTremendous() as fake:
        monkeypatch.setenv("PROVIDER_BASE_URL", fake.url)
        monkeypatch.setenv("PROVIDER_API_KEY", fake.api_key)
        monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", "0.3")
        yield fake


@pytest.fixture
def miles(api, program, provider):
    """A member with 1000 points and a 500-point transfer to SkyMiles at half a mile a point."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, email="ada@example.com", name="Ada")
    status, reward = api.call("POST", f"{path}/rewards", admin, {
        "type": "points_transfer", "name": "SkyMiles", "cost": 500, "value": {"partner": "skymiles", "rate": 0.5}})
    assert status == 201, reward
    return {**program, "reward": reward["id"]}


def redeem(api, shop, key, delivery=None):
    body = {"reward_id": shop["reward"], "delivery": {"account": "SM-12345678"} if delivery is None else delivery}
    return api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"], body, {"Idempotency-Key": key})


def redemption(api, shop, redemption_id):
    return api.call("GET", f"{shop['path']}/redemptions/{redemption_id}", shop["admin"])[1]


def balance(api, shop):
    return api.call("GET", f"{shop['path']}/members/ada/balance", shop["admin"])[1]["available"]


def refunds(api, shop, redemption_id):
    entries = api.call("GET", f"{shop['path']}/members/ada/transactions?limit=100", shop["admin"])[1]["items"]
    return [e for e in entries if e["kind"] == "refund" and e.get("redemption_id") == redemption_id]


def test_only_a_transfer_reward_names_a_partner_and_the_contracts_plain_one_still_works(stack, api, program):
    path, admin = program["path"], program["admin"]
    # When a gift card is added with a partner, or a transfer with a rate of 0
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Card", "cost": 10,
                                                     "value": {"partner": "skymiles", "rate": 1}})
    bad_rate = api.call("POST", f"{path}/rewards", admin, {"type": "points_transfer", "name": "Miles", "cost": 10,
                                                         "value": {"partner": "skymiles", "rate": 0}})
    # Then each is refused naming the value
    assert [(s, b["error"]["code"]) for s, b in (card, bad_rate)] == [(400, "validation_error")] * 2
    assert card[1]["error"]["details"]["field"] == "value"
    # And a transfer as the contract has it (a money value, no partner) is taken and fulfilled at once
    status, plain = api.call("POST", f"{path}/rewards", admin, {"type": "points_transfer", "name": "Miles", "cost": 10,
                                                               "value": {"amount": 100, "currency": "EUR"}})
    assert status == 201
    enrol(api, program, "plain", points=10, key="plain")
    status, redemption = api.call("POST", f"{path}/members/plain/redemptions", admin, {"reward_id": plain["id"]},
                                  {"Idempotency-Key": "plain"})
    assert status == 202
    stack.pump("FulfilmentFunction")
    assert api.call("GET", f"{path}/redemptions/{redemption['id']}", admin)[1]["status"] == "fulfilled"


def test_a_transfer_needs_a_valid_partner_account(api, miles):
    # When the member redeems without an account, or with a malformed one
    missing, malformed = redeem(api, miles, "none", {}), redeem(api, miles, "bad", {"account": "no spaces!"})
    # Then both are refused and nothing is taken
    assert (missing[0], missing[1]["error"]["details"]["field"]) == (400, "delivery.account")
    assert (malformed[0], malformed[1]["error"]["code"]) == (400, "validation_error")
    assert balance(api, miles) == 1000


def test_a_transfer_is_ordered_once_and_fulfilled_with_the_provider_order(stack, api, miles, provider):
    # Given a redemption, pending
    status, made = redeem(api, miles, "t1")
    assert (status, made["status"], balance(api, miles)) == (202, "pending", 500)
    # And the provider's first answer lost to a timeout and the next three 500s (the order placed all the same)
    provider.fail_next(("hang", 1.0), ("status", 500, {}), ("status", 500, {}), ("status", 500, {}))
    # When fulfilment runs (retried by the queue)
    stack.pump("FulfilmentFunction")
    # Then it is fulfilled with the provider's order for 250 miles to the member's account, ordered once
    done = redemption(api, miles, made["id"])
    assert done["status"] == "fulfilled"
    assert done["fulfillment"] == {"type": "points_transfer", "partner": "skymiles", "units": 250,
                                   "account_last4": "5678", "provider_order_id": "ORD000001"}
    assert list(provider.orders) == [made["id"]]
    assert {r["body"]["external_id"] for r in provider.requests} == {made["id"]}
    sent = provider.requests[-1]["body"]["reward"]
    assert (sent["value"], sent["products"], sent["recipient"]) == (
        {"denomination": 250, "currency_code": "PTS"}, ["skymiles"],
        {"name": "Ada", "email": "ada@example.com", "account": "SM-12345678"})
    assert balance(api, miles) == 500


def test_a_refused_transfer_gives_the_points_back_once(stack, api, miles, provider):
    # Given the provider refuses the order
    made = redeem(api, miles, "t2")[1]
    provider.fail_next(("status", 422, {}))
    # When fulfilment runs, twice
    stack.pump("FulfilmentFunction")
    stack.pump("FulfilmentFunction")
    # Then the redemption failed after one request, and its points came back once
    assert redemption(api, miles, made["id"])["status"] == "failed"
    assert (len(provider.requests), provider.orders) == (1, {})
    assert (balance(api, miles), len(refunds(api, miles, made["id"]))) == (1000, 1)


def test_a_lasting_outage_is_refunded_on_the_last_try(stack, api, miles, provider):
    # Given the provider fails every request
    made = redeem(api, miles, "t3")[1]
    provider.fail_next(*[("status", 503, {})] * 100)
    # When fulfilment runs until the queue gives up
    stack.pump("FulfilmentFunction")
    # Then it was tried on every receive, nothing was ordered, and the points came back once
    assert len(provider.requests) == 3 * 5
    assert redemption(api, miles, made["id"])["status"] == "failed"
    assert (balance(api, miles), len(refunds(api, miles, made["id"]))) == (1000, 1)


def test_a_transfer_the_provider_may_have_placed_cannot_be_cancelled(stack, api, miles, provider):
    # Given a transfer whose order the provider placed but whose answers were lost: its first try failed
    made = redeem(api, miles, "t4")[1]
    provider.fail_next(("hang", 1.0), ("status", 500, {}), ("status", 500, {}))
    stack.pump("FulfilmentFunction", rounds=1)
    assert (redemption(api, miles, made["id"])["status"], list(provider.orders)) == ("pending", [made["id"]])
    # When an admin cancels it
    status, refused = api.call("POST", f"{miles['path']}/redemptions/{made['id']}/cancel", miles["admin"], {})
    # Then it is refused (the partner may have the points already), and nothing is given back
    assert (status, refused["error"]["code"], refused["error"]["details"]) == (409, "conflict", {"status": "pending"})
    assert balance(api, miles) == 500
    # And the queue's retry fulfils it with that one order
    stack.pump("FulfilmentFunction")
    done = redemption(api, miles, made["id"])
    assert (done["status"], done["fulfillment"]["provider_order_id"]) == ("fulfilled", provider.orders[made["id"]]["id"])
    assert (balance(api, miles), refunds(api, miles, made["id"]), len(provider.orders)) == (500, [], 1)


def test_a_transfer_cancelled_before_it_was_sent_is_never_ordered(stack, api, miles, provider):
    # Given a pending transfer not yet sent to the provider
    made = redeem(api, miles, "t5")[1]
    # When an admin cancels it, and then its fulfilment message arrives
    status, cancelled = api.call("POST", f"{miles['path']}/redemptions/{made['id']}/cancel", miles["admin"], {})
    stack.pump("FulfilmentFunction")
    # Then it is cancelled, its points back once, and the provider was never asked
    assert (status, cancelled["status"]) == (200, "cancelled")
    assert redemption(api, miles, made["id"])["status"] == "cancelled"
    assert (provider.requests, balance(api, miles), len(refunds(api, miles, made["id"]))) == ([], 1000, 1)
