"""Probe finding 7: poison partner messages (a Binary attribute, deeply nested JSON) go to the DLQ at once,
with their reason, and are never retried as transient."""
import json

import boto3
import pytest
from test_partner_events import FUNCTION

from chalicelib.earning.partner_messages import sign


def nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def poison(partner, case: str) -> tuple[str, dict]:
    event = {"id": f"e-{case}", "type": "purchase", "member": "bob", "properties": {"amount": 500}}
    body = {"org_id": partner["org_id"], "program_id": partner["id"], "event": event}
    attributes = {"key_id": {"DataType": "String", "StringValue": partner["key_id"]}}
    if case == "binary attribute":
        raw = json.dumps(body)
        attributes["signature"] = {"DataType": "Binary", "BinaryValue": sign(partner["secret"], raw.encode()).encode()}
        return raw, attributes
    if case == "too deep for the parser":  # json.loads raises RecursionError, which is no ValueError
        raw = json.dumps(body)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    else:  # deep enough for every parser, too deep for an event
        body["event"]["properties"]["nested"] = nested(100)
        raw = json.dumps(body)
    attributes["signature"] = {"DataType": "String", "StringValue": sign(partner["secret"], raw.encode())}
    return raw, attributes


@pytest.mark.parametrize("case, reason", [
    ("binary attribute", "message attribute signature is Binary"),
    ("too deep for the parser", "body is nested too deeply"),
    ("deeply nested", "body is nested more than 32 levels deep"),
])
def test_a_poison_message_lands_in_the_dlq_at_once_with_its_reason(stack, api, partner, case, reason):
    # Given a poison message on the partner queue
    raw, attributes = poison(partner, case)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.env["PARTNER_EVENTS_QUEUE_URL"], MessageBody=raw, MessageAttributes=attributes)
    # When it is consumed once
    stack.pump(FUNCTION)
    # Then it is not left for another try: the DLQ holds it, with its attributes and the reason
    assert stack.queue_messages(stack.env["PARTNER_EVENTS_QUEUE_URL"]) == []
    kept = [m for m in stack.queue_messages(stack.env["PARTNER_EVENTS_DLQ_URL"]) if partner["id"] in m["Body"]]
    assert len(kept) == 1
    error = kept[0]["MessageAttributes"]["error"]["StringValue"]
    assert reason in error and "transient" not in error and "gave up" not in error
    assert kept[0]["MessageAttributes"]["key_id"]["StringValue"] == partner["key_id"]
    sqs.delete_message(QueueUrl=stack.env["PARTNER_EVENTS_DLQ_URL"], ReceiptHandle=kept[0]["ReceiptHandle"])
