"""Outbound webhooks end to end: the local stack (`make run`) over HTTP, its queues and its delivery
function, posting to a receiver on this machine that verifies every signature. Its own stack, with
the retry delays at 0, so a receiver's failures are retried at once."""
import json

from laurel_http import Http, new_tenant

W = "/v1/webhook-endpoints"
ATTEMPTS = 8  # chalicelib.webhooks.deliveries.ATTEMPTS




def dead_letters(stack, delivery_id):
    sqs = stack.sqs()
    url = sqs.get_queue_url(QueueName="laurel-WebhooksDLQ")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   VisibilityTimeout=0).get("Messages", [])
    return [m["MessageAttributes"]["error"]["StringValue"] for m in messages if delivery_id in m["Body"]]


def test_signed_deliveries_retries_the_dlq_and_a_replay_over_http(launch_stack, receiver):
    fast_stack = launch_stack(WEBHOOKS_BACKOFF_SCALE="0")
    http = Http(fast_stack.base_url)
    tenant = new_tenant(http, fast_stack.root_key)
    admin, path = tenant["admin"], tenant["path"]
    # Given an endpoint on this machine for redemptions, whose receiver fails twice, and a gift card
    made = http.call("POST", W, admin, {"url": receiver.url, "kinds": ["redemption.status_changed"],
                                        "description": "e2e"})
    assert made.status == 201, made
    endpoint = made.body
    receiver.secrets.append(endpoint["secret"])
    receiver.failures = 2
    assert http.call("PUT", f"{path}/members/eve", admin, {"email": "eve@example.com"}).status == 201
    assert http.call("POST", f"{path}/members/eve/adjustments", admin, {"points": 500, "reason": "x"},
                     headers={"Idempotency-Key": "e2e-float"}).status == 201
    reward = http.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Film", "cost": 100}).body
    assert http.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": ["FILM-E2E-1"]}).status == 201
    # When Eve redeems it and the platform settles
    redemption = http.call("POST", f"{path}/members/eve/redemptions", admin, {"reward_id": reward["id"]},
                           headers={"Idempotency-Key": "e2e-film"}).body
    assert fast_stack.drain()
    # Then the receiver got the fulfilled redemption on the third try, each try signed, no code in it
    assert len(receiver.requests) == 3
    assert all(r["verified_with"] == [endpoint["secret"]] for r in receiver.requests)
    event = json.loads(receiver.requests[-1]["body"])
    assert event["data"]["redemption"]["id"] == redemption["id"]
    assert event["data"]["redemption"]["status"] == "fulfilled"
    assert all(b"FILM-E2E-1" not in r["body"] for r in receiver.requests)
    (listed,) = http.call("GET", f"{W}/{endpoint['id']}/deliveries", admin).body["items"]
    assert (listed["status"], listed["attempts"], listed["event_id"]) == ("delivered", 3, event["id"])
    # When the receiver goes down and an admin pings it
    receiver.down = True
    ping = http.call("POST", f"{W}/{endpoint['id']}/pings", admin)
    assert ping.status == 202
    assert fast_stack.drain()
    # Then every try failed, the delivery is listed as failed, and its message waits in the DLQ with the reason
    failed = http.call("GET", f"{W}/{endpoint['id']}/deliveries/{ping.body['id']}", admin).body
    assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("failed", ATTEMPTS, 500)
    assert dead_letters(fast_stack, ping.body["id"]) == [
        f"gave up after {ATTEMPTS} tries: the endpoint answered HTTP 500"]
    # When it is back and the admin replays the delivery
    receiver.down = False
    assert http.call("POST", f"{W}/{endpoint['id']}/deliveries/{ping.body['id']}/replay", admin).status == 202
    assert fast_stack.drain()
    # Then the same event arrives once more, signed, and the delivery is delivered
    last = receiver.requests[-1]
    assert (last["delivery_id"], last["event_id"]) == (ping.body["id"], ping.body["event_id"])
    assert last["verified_with"] == [endpoint["secret"]]
    done = http.call("GET", f"{W}/{endpoint['id']}/deliveries/{ping.body['id']}", admin).body
    assert (done["status"], done["attempts"]) == ("delivered", ATTEMPTS + 1)
