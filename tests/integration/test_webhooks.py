"""Outbound webhooks through the API, the real queues and the delivery function, to a receiver on this
machine that checks every signature as docs/webhooks.md tells receivers to: signed deliveries,
retries after the receiver fails, the DLQ after the last try, and replays through the API."""
import json
from pathlib import Path

import pytest
from given import enrol

from chalicelib.core import db
from chalicelib.rewards import lifecycle
from chalicelib.webhooks import deliveries, events
from local.lambda_runtime import LambdaContext, load_handler

FUNCTION = "WebhookDeliveryFunction"
W = "/v1/webhook-endpoints"


def register(api, program, receiver, kinds=("redemption.status_changed",), **fields):
    status, endpoint = api.call("POST", W, program["admin"], {"url": receiver.url, "kinds": list(kinds), **fields})
    assert status == 201, endpoint
    receiver.secrets.append(endpoint["secret"])
    return endpoint


def deliveries_of(api, program, endpoint_id):
    status, page = api.call("GET", f"{W}/{endpoint_id}/deliveries", program["admin"])
    assert status == 200, page
    return page["items"]


def dead_letters(stack, delivery_id):
    return [m for m in stack.queue_messages(stack.env["WEBHOOKS_DLQ_URL"]) if delivery_id in m["Body"]]


@pytest.fixture
def shop(api, program):
    """A member with 1000 points and a gift card with three codes."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, email="ada@example.com", name="Ada")
    status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 100,
                                                                 "low_stock_threshold": 2})
    assert status == 201
    codes = ["BOOK-SECRET-1", "BOOK-SECRET-2", "BOOK-SECRET-3"]
    assert api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": codes})[0] == 201
    return {**program, "reward_id": reward["id"], "codes": codes}


def redeem(api, shop, key):
    status, redemption = api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"],
                                  {"reward_id": shop["reward_id"]}, {"Idempotency-Key": key})
    assert status == 202, redemption
    return redemption


# --- signed, and nothing secret in the body ------------------------------------------------------

def test_a_fulfilled_gift_card_is_announced_signed_and_without_its_code(stack, api, shop, receiver):
    # Given an endpoint for redemption status changes
    endpoint = register(api, shop, receiver)
    # When a gift card is redeemed and fulfilled, and the webhook delivered
    redemption = redeem(api, shop, "r-1")
    stack.pump("FulfilmentFunction")
    stack.pump(FUNCTION)
    # Then the receiver got one POST whose signature verifies with the endpoint's secret
    (request,) = receiver.requests
    assert request["verified_with"] == [endpoint["secret"]]
    assert request["path"] == "/laurel/hooks?source=test"
    # carrying the redemption's ids and status, and neither its code nor the member's details
    event = json.loads(request["body"])
    assert (event["type"], event["org_id"], event["program_id"]) == ("redemption.status_changed", shop["org_id"],
                                                                    shop["id"])
    assert event["data"]["redemption"]["id"] == redemption["id"]
    assert event["data"]["redemption"]["status"] == "fulfilled"
    assert event["data"]["redemption"]["member"] == "ada"
    raw = request["body"].decode()
    assert not any(code in raw for code in shop["codes"]) and "ada@example.com" not in raw and "Ada" not in raw
    assert "fulfillment" not in raw and "code" not in json.dumps(event["data"])
    assert request["event_id"] == event["id"]
    # And the delivery is listed as delivered on the first try
    (listed,) = deliveries_of(api, shop, endpoint["id"])
    assert (listed["id"], listed["event_id"]) == (request["delivery_id"], event["id"])
    assert (listed["status"], listed["attempts"], listed["last_status_code"]) == ("delivered", 1, 204)
    assert listed["event"] == event


def test_an_endpoint_secret_is_shown_once_and_a_rotation_signs_with_both_for_a_while(stack, api, program,
                                                                                     receiver):
    endpoint = register(api, program, receiver, kinds=["reward.low_stock"])
    # The secret is in the creation's answer only
    for path in (W, f"{W}/{endpoint['id']}"):
        status, answer = api.call("GET", path, program["admin"])
        assert status == 200 and endpoint["secret"] not in json.dumps(answer)
    # When it is rotated
    status, rotated = api.call("POST", f"{W}/{endpoint['id']}/secret", program["admin"])
    assert status == 201 and rotated["secret"] != endpoint["secret"] and rotated["previous_secret_expires_at"]
    receiver.secrets.append(rotated["secret"])
    # Then a ping verifies with the new secret and, for now, with the old one
    status, ping = api.call("POST", f"{W}/{endpoint['id']}/pings", program["admin"])
    assert status == 202 and ping["kind"] == "webhook.ping"
    stack.pump(FUNCTION)
    (request,) = receiver.requests
    assert sorted(request["verified_with"]) == sorted([endpoint["secret"], rotated["secret"]])
    assert json.loads(request["body"])["data"] == {"endpoint_id": endpoint["id"]}


# --- retries, the DLQ, replays -------------------------------------------------------------------

def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(stack, api, shop, receiver):
    # Given a receiver that answers 500 twice
    endpoint = register(api, shop, receiver)
    receiver.failures = 2
    # When a redemption is fulfilled and the queue worked off
    redeem(api, shop, "r-1")
    stack.pump("FulfilmentFunction")
    stack.pump(FUNCTION)
    # Then the same event came three times, each signed, the last one taken
    assert len(receiver.requests) == 3
    assert len({(r["event_id"], r["delivery_id"], r["body"]) for r in receiver.requests}) == 1
    assert all(r["verified_with"] == [endpoint["secret"]] for r in receiver.requests)
    (listed,) = deliveries_of(api, shop, endpoint["id"])
    assert (listed["status"], listed["attempts"], listed["last_status_code"]) == ("delivered", 3, 204)
    assert listed["last_error"] is None and listed["delivered_at"]


def test_a_receiver_that_is_down_fails_the_delivery_into_the_dlq_and_a_replay_delivers_it(stack, api, shop,
                                                                                         receiver):
    # Given a receiver that is down
    endpoint = register(api, shop, receiver)
    receiver.down = True
    # When a redemption is fulfilled and every try is made
    redeem(api, shop, "r-1")
    stack.pump("FulfilmentFunction")
    stack.pump(FUNCTION)
    # Then it was tried ATTEMPTS times, is listed as failed with the last answer, and its message is in the DLQ
    assert len(receiver.requests) == deliveries.ATTEMPTS
    (failed,) = deliveries_of(api, shop, endpoint["id"])
    assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("failed", deliveries.ATTEMPTS, 500)
    assert failed["last_error"] == "the endpoint answered HTTP 500"
    (parked,) = dead_letters(stack, failed["id"])
    assert parked["MessageAttributes"]["error"]["StringValue"] == (
        f"gave up after {deliveries.ATTEMPTS} tries: the endpoint answered HTTP 500")
    assert "BOOK-SECRET" not in parked["Body"] and "redemption" not in parked["Body"]  # ids only
    # When the receiver is back and an admin replays the delivery
    receiver.down = False
    status, replayed = api.call("POST", f"{W}/{endpoint['id']}/deliveries/{failed['id']}/replay", shop["admin"])
    assert status == 202 and replayed["status"] == "pending"
    stack.pump(FUNCTION)
    # Then it is delivered once more, as the same event, and listed as delivered
    assert len(receiver.requests) == deliveries.ATTEMPTS + 1
    last = receiver.requests[-1]
    assert (last["event_id"], last["delivery_id"]) == (failed["event_id"], failed["id"])
    assert last["body"] == receiver.requests[0]["body"] and last["verified_with"] == [endpoint["secret"]]
    status, done = api.call("GET", f"{W}/{endpoint['id']}/deliveries/{failed['id']}", shop["admin"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", deliveries.ATTEMPTS + 1, 204)
    # And a delivered one may be replayed again, while one being tried may not
    assert api.call("POST", f"{W}/{endpoint['id']}/deliveries/{failed['id']}/replay", shop["admin"])[0] == 202
    status, busy = api.call("POST", f"{W}/{endpoint['id']}/deliveries/{failed['id']}/replay", shop["admin"])
    assert (status, busy["error"]["code"]) == (409, "conflict")
    stack.pump(FUNCTION)
    assert len(receiver.requests) == deliveries.ATTEMPTS + 2


def test_a_delivery_that_cannot_even_be_tried_fails_on_the_last_receive_into_the_dlq(stack, api, program, receiver,
                                                                                   monkeypatch):
    # Given an endpoint, and a table that refuses every try's claim
    endpoint = register(api, program, receiver, kinds=["reward.low_stock"])

    def broken(*args):
        raise RuntimeError("the table is unavailable")

    monkeypatch.setattr(deliveries, "_claim", broken)
    # When a ping is sent and its message received as often as the queue allows
    status, ping = api.call("POST", f"{W}/{endpoint['id']}/pings", program["admin"])
    stack.pump(FUNCTION)
    # Then nothing reached the receiver, the delivery failed (replayable), and the message is in the DLQ
    assert receiver.requests == []
    status, failed = api.call("GET", f"{W}/{endpoint['id']}/deliveries/{ping['id']}", program["admin"])
    assert (failed["status"], failed["last_error"]) == ("failed", "could not be tried: RuntimeError")
    assert [m["MessageAttributes"]["error"]["StringValue"] for m in dead_letters(stack, ping["id"])] == [
        "could not be tried: RuntimeError"]


# --- emission ------------------------------------------------------------------------------------

def test_emitting_the_same_fact_again_delivers_it_once(stack, api, shop, receiver):
    # Given a fulfilled redemption announced once
    endpoint = register(api, shop, receiver)
    redemption = redeem(api, shop, "r-1")
    stack.pump("FulfilmentFunction")
    stack.pump(FUNCTION)
    # When it is announced again (a fulfilment retried after the first announcement) and the queue worked off
    item = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption["id"]))
    again = lifecycle.announce(item)
    stack.pump(FUNCTION)
    # Then the same delivery was found, and the receiver got the event once
    assert again == [receiver.requests[0]["delivery_id"]]
    assert len(receiver.requests) == 1 and len(deliveries_of(api, shop, endpoint["id"])) == 1


def test_only_enabled_endpoints_that_want_the_kind_and_the_program_get_the_event(stack, api, program, receiver):
    admin = program["admin"]
    other_program = api.call("POST", "/v1/programs", admin, {"name": "Other"})[1]["id"]
    wanted = register(api, program, receiver, kinds=["tier.changed", "reward.low_stock"])
    this_program = register(api, program, receiver, kinds=["reward.low_stock"], program_id=program["id"])
    other_kind = register(api, program, receiver, kinds=["redemption.status_changed"])
    elsewhere = register(api, program, receiver, kinds=["reward.low_stock"], program_id=other_program)
    disabled = register(api, program, receiver, kinds=["reward.low_stock"], enabled=False)
    # When a low-stock event is emitted for the program
    made = events.emit(program["org_id"], program["id"], "reward.low_stock", {"reward": {"id": "rwd_x", "stock": 1}},
                       event_key="rwd_x:1", occurred_at="2026-03-01T10:00:00.000Z")
    stack.pump(FUNCTION)
    # Then the two endpoints that want it got it, and no other
    assert len(made) == 2
    assert {r["delivery_id"] for r in receiver.requests} == set(made)
    for endpoint, count in ((wanted, 1), (this_program, 1), (other_kind, 0), (elsewhere, 0), (disabled, 0)):
        assert len(deliveries_of(api, program, endpoint["id"])) == count


def test_low_stock_is_announced_once_until_a_restock(stack, api, shop, receiver):
    # Given an endpoint for low stock, and a reward of 3 codes that is low below 2
    endpoint = register(api, shop, receiver, kinds=["reward.low_stock"])
    # When redemptions take it to 2, then 1, then 0
    for key in ("r-1", "r-2", "r-3"):
        redeem(api, shop, key)
    stack.pump(FUNCTION)
    # Then one event said it fell to 1, with no code in it
    assert [e["data"]["reward"] for e in receiver.bodies()] == [{
        "id": shop["reward_id"], "type": "gift_card", "name": "Books", "stock": 1, "low_stock_threshold": 2}]
    assert not any(code.encode() in r["body"] for r in receiver.requests for code in shop["codes"])
    # When codes are added and it falls below the threshold again
    status, _ = api.call("POST", f"{shop['path']}/rewards/{shop['reward_id']}/codes", shop["admin"],
                         {"codes": ["BOOK-SECRET-4", "BOOK-SECRET-5"]})
    redeem(api, shop, "r-4")
    stack.pump(FUNCTION)
    # Then that is news again
    assert [e["data"]["reward"]["stock"] for e in receiver.bodies()] == [1, 1]
    assert len(deliveries_of(api, shop, endpoint["id"])) == 2
    stack.pump("FulfilmentFunction")


def test_a_delivery_to_an_endpoint_disabled_meanwhile_fails_without_a_request(stack, api, program, receiver):
    endpoint = register(api, program, receiver, kinds=["reward.low_stock"])
    status, ping = api.call("POST", f"{W}/{endpoint['id']}/pings", program["admin"])
    status, changed = api.call("PATCH", f"{W}/{endpoint['id']}", program["admin"], {"enabled": False})
    assert status == 200 and changed["enabled"] is False
    stack.pump(FUNCTION)
    assert receiver.requests == []
    status, failed = api.call("GET", f"{W}/{endpoint['id']}/deliveries/{ping['id']}", program["admin"])
    assert (failed["status"], failed["last_error"], failed["attempts"]) == ("failed", "the endpoint is disabled", 0)


# --- the endpoints API ---------------------------------------------------------------------------

def test_endpoints_are_listed_changed_and_deleted_within_their_organisation(stack, api, program, receiver):
    admin = program["admin"]
    endpoint = register(api, program, receiver, kinds=["tier.changed"], description="CRM")
    status, page = api.call("GET", W, admin)
    assert status == 200 and [e["id"] for e in page["items"]] == [endpoint["id"]]
    status, changed = api.call("PATCH", f"{W}/{endpoint['id']}", admin,
                               {"kinds": ["points.expiring", "points.expiring"], "description": None})
    assert status == 200 and (changed["kinds"], changed["description"]) == (["points.expiring"], None)
    # Another organisation's admin sees none of it
    other = api.call("POST", "/v1/orgs", "test-root-key", {"name": "Other org"})[1]["admin_key"]["secret"]
    assert api.call("GET", W, other)[1]["items"] == []
    for method, path in (("GET", f"{W}/{endpoint['id']}"), ("DELETE", f"{W}/{endpoint['id']}"),
                         ("POST", f"{W}/{endpoint['id']}/pings"), ("GET", f"{W}/{endpoint['id']}/deliveries")):
        assert api.call(method, path, other)[0] == 404
    # A store key may not touch webhooks
    store = api.call("POST", "/v1/api-keys", admin, {"name": "till", "role": "store"})[1]["secret"]
    assert api.call("GET", W, store)[0] == 403
    # Deleted, it is gone
    assert api.call("DELETE", f"{W}/{endpoint['id']}", admin)[0] == 204
    assert api.call("GET", f"{W}/{endpoint['id']}", admin)[0] == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "http://example.com/hook", "kinds": ["tier.changed"]}, "url"),
    ({"url": "https://10.0.0.1/hook", "kinds": ["tier.changed"]}, "url"),
    ({"url": "https://169.254.169.254/latest", "kinds": ["tier.changed"]}, "url"),
    ({"url": "https://example.com/hook", "kinds": []}, "kinds"),
    ({"url": "https://example.com/hook", "kinds": ["member.deleted"]}, "kinds.0"),
    ({"url": "https://example.com/hook", "kinds": ["tier.changed"], "secret": "mine"}, "secret"),
])
def test_a_deployed_stack_refuses_endpoints_that_are_not_public_https(api, program, monkeypatch, body, field):
    monkeypatch.delenv("LAUREL_LOCAL_WEBHOOKS", raising=False)
    status, error = api.call("POST", W, program["admin"], body)
    assert (status, error["error"]["code"], error["error"]["details"]["field"]) == (400, "validation_error", field)


def test_a_program_of_another_organisation_cannot_be_chosen(api, program, local_webhooks):
    other = api.call("POST", "/v1/orgs", "test-root-key", {"name": "Other org"})[1]["admin_key"]["secret"]
    other_program = api.call("POST", "/v1/programs", other, {"name": "Theirs"})[1]["id"]
    status, error = api.call("POST", W, program["admin"], {"url": "https://example.com/hook",
                                                           "kinds": ["tier.changed"], "program_id": other_program})
    assert (status, error["error"]["code"]) == (404, "not_found")


def test_deliveries_are_listed_newest_first_a_page_at_a_time(stack, api, program, receiver):
    endpoint = register(api, program, receiver, kinds=["reward.low_stock"])
    made = [api.call("POST", f"{W}/{endpoint['id']}/pings", program["admin"])[1]["id"] for _ in range(3)]
    status, first = api.call("GET", f"{W}/{endpoint['id']}/deliveries?limit=2", program["admin"])
    status, second = api.call("GET", f"{W}/{endpoint['id']}/deliveries?limit=2&cursor={first['next_cursor']}",
                              program["admin"])
    assert [d["id"] for d in first["items"] + second["items"]] == made[::-1]
    stack.pump(FUNCTION)


def test_the_sample_batch_delivers_one_and_dead_letters_the_poison(stack, api, program, receiver):
    # Given the sample batch, its first message naming a real ping's delivery
    endpoint = register(api, program, receiver, kinds=["tier.changed"])
    ping = api.call("POST", f"{W}/{endpoint['id']}/pings", program["admin"])[1]
    event = json.loads((Path(__file__).resolve().parents[2] / "events" / "sqs_webhook_delivery.json").read_text())
    for old, new in (("org_01jd0000000000000000000000", program["org_id"]),
                     ("whe_01jd0000000000000000000000", endpoint["id"]), ("whd_01jd0000000000000000000000", ping["id"])):
        event["Records"][0]["body"] = event["Records"][0]["body"].replace(old, new)
    function = stack.deployment.functions[FUNCTION]
    # When the delivery function takes it, and then the ping's own message comes from the queue
    result = load_handler(function.handler)(event, LambdaContext(function))
    stack.pump(FUNCTION)
    # Then no record failed: the ping was delivered once (its own message found the try made), and the poison
    # message is in the DLQ with its reason
    assert result == {"batchItemFailures": []}
    assert [r["delivery_id"] for r in receiver.requests] == [ping["id"]]
    assert "not a webhook delivery message" in [
        m["MessageAttributes"]["error"]["StringValue"] for m in stack.queue_messages(stack.env["WEBHOOKS_DLQ_URL"])
        if m["Body"] == "not a webhook message"]
