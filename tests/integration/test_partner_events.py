"""Partner events through the real queue and the real handler: exactly once, poison to the DLQ with a reason."""
import json

import boto3
import pytest

from chalicelib.earning import earn
from chalicelib.earning.partner_messages import sign

FUNCTION = "PartnerEventsFunction"


def send(stack, partner, event, *, secret=None, body=None, attributes=None):
    raw = body if body is not None else json.dumps(
        {"org_id": partner["org_id"], "program_id": partner["id"], "event": event})
    signature = sign(secret or partner["secret"], raw.encode())
    attrs = attributes if attributes is not None else {"key_id": partner["key_id"], "signature": signature}
    boto3.client("sqs").send_message(
        QueueUrl=stack.env["PARTNER_EVENTS_QUEUE_URL"], MessageBody=raw,
        MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in attrs.items()})


def balance(api, partner, member):
    status, answer = api.call("GET", f"{partner['path']}/members/{member}/balance", partner["admin"])
    return answer["available"] if status == 200 else None


def dead_letters(stack, partner):
    return [m for m in stack.queue_messages(stack.env["PARTNER_EVENTS_DLQ_URL"])
            if partner["id"] in m["Body"] or partner["key_id"] in json.dumps(m.get("MessageAttributes", {}))]


def test_a_signed_event_sent_twice_is_credited_once(stack, api, partner):
    # Given the same signed event delivered as two messages
    event = {"id": "order-1", "type": "purchase", "member": "ada", "properties": {"amount": 2500}}
    send(stack, partner, event)
    send(stack, partner, event)
    # When the partner events function consumes the queue
    stack.pump(FUNCTION)
    # Then the member was enrolled and credited once
    assert balance(api, partner, "ada") == 25
    status, page = api.call("GET", f"{partner['path']}/members/ada/transactions", partner["admin"])
    assert [t["event_id"] for t in page["items"]] == ["order-1"]


@pytest.mark.parametrize("case, reason", [
    ("bad signature", "bad signature"),
    ("not json", "body is not JSON"),
    ("no attributes", "missing message attribute"),
    ("unknown program", "not_found"),
    ("wrong shape", "wrong shape: event.member"),
])
def test_a_message_that_can_never_succeed_lands_in_the_dlq_with_its_reason(stack, api, partner, case, reason):
    # Given a message that can never succeed
    event = {"id": f"e-{case.replace(' ', '-')}", "type": "purchase", "member": "bob", "properties": {"amount": 500}}
    if case == "bad signature":
        send(stack, partner, event, secret="not-the-secret")
    elif case == "not json":
        send(stack, partner, event, body=f"{partner['id']} is not json")
    elif case == "no attributes":
        send(stack, partner, event, body=json.dumps({"org_id": partner["org_id"], "program_id": partner["id"],
                                                      "event": event}), attributes={"note": partner["key_id"]})
    elif case == "unknown program":
        send(stack, partner, event, body=json.dumps({"org_id": partner["org_id"], "program_id": "prg_missing",
                                                      "event": event}))
    else:
        send(stack, partner, {**event, "member": "bad member!"})
    # When it is consumed
    stack.pump(FUNCTION)
    # Then nothing is credited, the queue is empty and the DLQ holds it with the reason
    assert balance(api, partner, "bob") is None
    assert stack.queue_messages(stack.env["PARTNER_EVENTS_QUEUE_URL"]) == []
    kept = dead_letters(stack, partner)
    assert len(kept) == 1
    assert reason in kept[0]["MessageAttributes"]["error"]["StringValue"]
    boto3.client("sqs").delete_message(QueueUrl=stack.env["PARTNER_EVENTS_DLQ_URL"],
                                       ReceiptHandle=kept[0]["ReceiptHandle"])


def test_a_transient_failure_is_retried_alone_and_credited_once(stack, api, partner, monkeypatch):
    # Given a batch of three events, one of which fails once for a transient reason
    real, failures = earn.record_event, []

    def flaky(org_id, program_id, event):
        if event["id"] == "e-2" and not failures:
            failures.append(event["id"])
            raise TimeoutError("DynamoDB did not answer")
        return real(org_id, program_id, event)

    monkeypatch.setattr(earn, "record_event", flaky)
    for n in (1, 2, 3):
        send(stack, partner, {"id": f"e-{n}", "type": "signup", "member": f"m{n}"})
    # When the function consumes the queue (the failed message comes back for another try)
    stack.pump(FUNCTION)
    # Then every member got its points exactly once
    assert failures == ["e-2"]
    assert [balance(api, partner, f"m{n}") for n in (1, 2, 3)] == [100, 100, 100]


def test_a_failure_that_lasts_ends_in_the_dlq_after_the_last_try(stack, api, partner, monkeypatch):
    # Given an event whose processing keeps failing transiently
    def down(*args):
        raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(earn, "record_event", down)
    send(stack, partner, {"id": "e-down", "type": "signup", "member": "carol"})
    # When SQS delivers it as many times as the queue allows
    stack.pump(FUNCTION)
    # Then it is kept in the DLQ, with how many tries and why
    kept = dead_letters(stack, partner)
    assert len(kept) == 1
    error = kept[0]["MessageAttributes"]["error"]["StringValue"]
    assert error.startswith(f"gave up after {stack.env['PARTNER_EVENTS_MAX_RECEIVES']} tries")
    assert "ConnectionError" in error
    boto3.client("sqs").delete_message(QueueUrl=stack.env["PARTNER_EVENTS_DLQ_URL"],
                                       ReceiptHandle=kept[0]["ReceiptHandle"])
