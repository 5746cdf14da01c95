"""Every handler invoked with the real-shaped sample events in events/, as Lambda would call it."""
import copy
import json
from pathlib import Path

import pytest

from chalicelib.earning.partner_messages import sign
from local.lambda_runtime import LambdaContext, load_handler

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def invoke(stack, function_id: str, event: dict):
    function = stack.deployment.functions[function_id]
    return load_handler(function.handler)(event, LambdaContext(function))


def http_event(name: str, program: dict, secret: str, member: str = "member-42") -> dict:
    event = sample(name)
    text = json.dumps(event).replace("prg_01jd0000000000000000000000", program["id"]).replace(
        "member-42", member).replace("<secret>", secret)
    return json.loads(text)


@pytest.fixture
def partner(api, program):
    key = api.call("POST", "/v1/api-keys", program["admin"], {"name": "shop", "role": "partner"})[1]
    return {**program, "key_id": key["id"], "secret": key["secret"]}


def test_http_api_events_reach_their_routes(stack, program):
    # Given API Gateway HTTP API (payload 1.0) events for a POST and a GET
    post = http_event("http_api_post_event.json", program, program["admin"])
    get = http_event("http_api_get_balance.json", program, program["admin"])
    # When the API function handles them
    created = invoke(stack, "ApiFunction", post)
    balance = invoke(stack, "ApiFunction", get)
    # Then the event is credited and the balance read back, in the contract's shape
    assert created["statusCode"] == 201 and json.loads(created["body"])["points"] == 25
    assert balance["statusCode"] == 200 and json.loads(balance["body"])["available"] == 25
    assert balance["headers"]["Content-Type"] == "application/json"


def test_the_partner_batch_sample_credits_one_and_dead_letters_the_poison(stack, api, partner):
    # Given the sample batch, its first message signed with a real partner key
    event = sample("sqs_partner_events.json")
    good = event["Records"][0]
    body = json.loads(good["body"])
    body.update(org_id=partner["org_id"], program_id=partner["id"])
    good["body"] = json.dumps(body)
    good["messageAttributes"]["key_id"]["stringValue"] = partner["key_id"]
    good["messageAttributes"]["signature"]["stringValue"] = sign(partner["secret"], good["body"].encode())
    # When the partner events handler takes the batch
    result = invoke(stack, "PartnerEventsFunction", event)
    # Then no record is reported failed: one was credited, the poison one went to the DLQ with its reason
    assert result == {"batchItemFailures": []}
    assert api.call("GET", f"{partner['path']}/members/member-42/balance", partner["admin"])[1]["available"] == 25
    reasons = [m["MessageAttributes"]["error"]["StringValue"]
               for m in stack.queue_messages(stack.env["PARTNER_EVENTS_DLQ_URL"]) if m["Body"] == "not json at all"]
    assert "body is not JSON" in reasons


def test_fulfilment_and_email_samples_deliver_a_redemption(stack, api, program):
    # Given a cashback redemption by a member with an email address
    admin, path = program["admin"], program["path"]
    api.call("PUT", f"{path}/members/member-42", admin, {"email": "m42@example.com"})
    api.call("POST", f"{path}/members/member-42/adjustments", admin, {"points": 500, "reason": "x"},
             {"Idempotency-Key": "sample"})
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "5 EUR", "cost": 500})[1]
    redemption = api.call("POST", f"{path}/members/member-42/redemptions", admin, {"reward_id": reward["id"]},
                          {"Idempotency-Key": "sample"})[1]
    ids = {"org_01jd0000000000000000000000": program["org_id"], "prg_01jd0000000000000000000000": program["id"],
           "rdm_01jd0000000000000000000000": redemption["id"]}
    fulfil, email = sample("sqs_fulfilment.json"), sample("sqs_email_notification.json")
    for event in (fulfil, email):
        for old, new in ids.items():
            event["Records"][0]["body"] = event["Records"][0]["body"].replace(old, new)
    # When the fulfilment and email handlers take the sample events (the email one twice)
    assert invoke(stack, "FulfilmentFunction", fulfil) == {"batchItemFailures": []}
    assert invoke(stack, "EmailDeliveryFunction", copy.deepcopy(email)) == {"batchItemFailures": []}
    assert invoke(stack, "EmailDeliveryFunction", email) == {"batchItemFailures": []}
    # Then the redemption is fulfilled and the email was recorded as sent once
    assert api.call("GET", f"{path}/redemptions/{redemption['id']}", admin)[1]["status"] == "fulfilled"
    from chalicelib.core import db
    record = db.get(db.DeliveryItem, db.DeliveryItem.key(program["id"], "member-42", f"reward_delivered:{redemption['id']}",
                                                         "email"))
    assert record.status == "sent" and record.provider_message_id


def test_the_broadcast_sample_runs_a_slice(stack, api, program, monkeypatch):
    # Given a broadcast to a program with one member, the sample naming it
    monkeypatch.setenv("BROADCAST_SENDS_PER_SECOND", "1000")
    api.call("PUT", f"{program['path']}/members/sample-1", program["admin"], {"email": "sample-1@example.com"})
    started = api.call("POST", f"{program['path']}/broadcasts", program["admin"],
                       {"content": {"en": {"title": "Hello", "body": "News"}}}, {"Idempotency-Key": "sample"})[1]
    event = sample("sqs_broadcast.json")
    event["Records"][0]["body"] = event["Records"][0]["body"].replace(
        "org_01jd0000000000000000000000", program["org_id"]).replace(
        "prg_01jd0000000000000000000000", program["id"]).replace("brd_01jd0000000000000000000000", started["id"])
    # When the broadcast handler takes it
    assert invoke(stack, "BroadcastFunction", event) == {"batchItemFailures": []}
    # Then the slice ran to the end of the members: one reached, by email
    done = api.call("GET", f"{program['path']}/broadcasts/{started['id']}", program["admin"])[1]
    assert done["status"] == "done" and (done["counts"]["members"], done["counts"]["targeted"]) == (1, 1)
    # and the API's own message for that slice, when it comes, finds it done
    stack.pump("BroadcastFunction")
    stack.pump("EmailDeliveryFunction")
    assert api.call("GET", f"{program['path']}/broadcasts/{started['id']}", program["admin"])[1]["counts"]["sent"] == 1


def test_the_inbound_sms_sample_stops_the_phone(stack):
    from chalicelib.messaging import preferences

    assert invoke(stack, "SmsInboundFunction", sample("sqs_inbound_sms.json")) == {"batchItemFailures": []}
    assert preferences.stopped("+14155550100")
    preferences.start("+14155550100")


@pytest.mark.parametrize("function_id", ["PointsExpiryFunction", "TierRecalculationFunction",
                                         "RedemptionRecoveryFunction"])
def test_scheduled_jobs_take_the_eventbridge_sample(stack, function_id):
    result = invoke(stack, function_id, sample("eventbridge_scheduled.json"))
    assert isinstance(result, dict) and all(isinstance(value, int) for value in result.values())
