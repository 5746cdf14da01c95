"""Redemption to delivery: points taken at once, codes assigned by the fulfilment function,
the member told by email and SMS through SNS, and a failed fulfilment refunded once."""
import json

import boto3
import pytest
from given import enrol
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends

from chalicelib.core import db


@pytest.fixture
def shop(api, program):
    """A member with 1000 points and a gift-card reward with two codes."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, email="ada@example.com", phone="+393331234567", name="Ada", locale="it")
    status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books 10", "cost": 400})
    assert status == 201
    assert api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": ["BOOK-1", "BOOK-2"]})[1] == {
        "added": 2, "duplicates": 0}
    return {**program, "reward_id": reward["id"]}


def redeem(api, shop, key="r-1", quantity=1):
    return api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"],
                    {"reward_id": shop["reward_id"], "quantity": quantity}, {"Idempotency-Key": key})


def balance(api, shop):
    return api.call("GET", f"{shop['path']}/members/ada/balance", shop["admin"])[1]["available"]


def table_text(stack) -> str:
    """Every item of the table, as stored (the raw DynamoDB JSON), for looking for what must not be there."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=stack.env["LAUREL_TABLE"])
    return json.dumps([item for page in pages for item in page["Items"]], default=str)  # binary (sketches) as text


def sent_emails_to(address):
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages if address in m.destinations["ToAddresses"]]


def sent_sms_to(phone):
    return [text for number, text in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
            if number == phone]


def test_a_gift_card_is_fulfilled_and_the_member_told_on_every_channel_once(stack, api, shop):
    # Given a redemption: the points are taken at once
    status, redemption = redeem(api, shop)
    assert (status, redemption["status"], redemption["points"]) == (202, "pending", 400)
    assert balance(api, shop) == 600
    emails_before, sms_before = len(sent_emails_to("ada@example.com")), len(sent_sms_to("+393331234567"))
    # When fulfilment runs, and its message is delivered again
    stack.pump("FulfilmentFunction")
    boto3.client("sqs").send_message(QueueUrl=stack.env["FULFILMENT_QUEUE_URL"],
                                     MessageBody=f'{{"redemption_id": "{redemption["id"]}"}}')
    stack.pump("FulfilmentFunction")
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")
    # Then the redemption carries one code, shown to the admin and the member only, and stock went down by one
    path = f"{shop['path']}/redemptions/{redemption['id']}"
    status, done = api.call("GET", path, shop["admin"])
    assert done["status"] == "fulfilled" and done["fulfillment"]["code"] in ("BOOK-1", "BOOK-2")
    assert done["fulfillment"] == {"type": "gift_card", "code": done["fulfillment"]["code"],
                                   "codes": [done["fulfillment"]["code"]]}
    session = api.call("POST", f"{shop['path']}/members/ada/sessions", shop["admin"], {})[1]["token"]
    assert api.call("GET", path, session)[1]["fulfillment"] == done["fulfillment"]
    for role in ("store", "analyst"):
        key = api.call("POST", "/v1/api-keys", shop["admin"], {"name": role, "role": role})[1]["secret"]
        assert api.call("GET", path, key)[1]["fulfillment"] == {"type": "gift_card"}
    assert api.call("GET", f"{shop['path']}/rewards/{shop['reward_id']}", shop["admin"])[1]["stock"] == 1
    # And SES and SNS were handed exactly one message each, in the member's language, with the code
    # (the address is shared with other tests, whose messages may be delivered by the same pumps)
    code = done["fulfillment"]["code"]
    emails = [e for e in sent_emails_to("ada@example.com")[emails_before:] if code in e.body]
    sms = [text for text in sent_sms_to("+393331234567")[sms_before:] if code in text]
    assert len(emails) == 1 and len(sms) == 1
    assert done["fulfillment"]["code"] in emails[0].body and "Il tuo premio" in emails[0].subject
    assert done["fulfillment"]["code"] in sms[0]
    # And the table never held either code in clear, uploaded or assigned
    assert "BOOK-1" not in table_text(stack) and "BOOK-2" not in table_text(stack)


def test_the_same_idempotency_key_replays_and_a_different_body_conflicts(stack, api, shop):
    first = redeem(api, shop, key="same")
    again = redeem(api, shop, key="same")
    other = redeem(api, shop, key="same", quantity=2)
    assert first[0] == 202 and again == (200, first[1])
    assert other[0] == 409 and other[1]["error"]["code"] == "idempotency_conflict"
    assert balance(api, shop) == 600
    stack.pump("FulfilmentFunction")


def test_redemptions_beyond_the_balance_or_the_stock_take_nothing(stack, api, shop):
    assert redeem(api, shop, key="a", quantity=3)[1]["error"]["code"] == "out_of_stock"
    api.call("POST", f"{shop['path']}/rewards/{shop['reward_id']}/codes", shop["admin"], {"codes": ["BOOK-3"]})
    assert redeem(api, shop, key="b")[0] == 202
    assert redeem(api, shop, key="c")[0] == 202
    status, refused = redeem(api, shop, key="d")
    assert (status, refused["error"]["code"]) == (409, "insufficient_points")
    assert balance(api, shop) == 200
    assert api.call("GET", f"{shop['path']}/rewards/{shop['reward_id']}", shop["admin"])[1]["stock"] == 1
    stack.pump("FulfilmentFunction")


def test_a_fulfilment_that_keeps_failing_is_refunded_once(stack, api, shop):
    # Given a redemption whose codes have vanished from the pool (a provider or data fault)
    status, redemption = redeem(api, shop, quantity=2)
    assert status == 202 and balance(api, shop) == 200
    for code in ("BOOK-1", "BOOK-2"):
        db.CodeItem(*db.CodeItem.key(shop["reward_id"], code)).delete()
    # When fulfilment is tried as often as the queue allows
    stack.pump("FulfilmentFunction")
    # Then the redemption failed, its points came back once as a refund, and the queue is empty
    status, failed = api.call("GET", f"{shop['path']}/redemptions/{redemption['id']}", shop["admin"])
    assert failed["status"] == "failed"
    assert balance(api, shop) == 1000
    kinds = [t["kind"] for t in api.call("GET", f"{shop['path']}/members/ada/transactions", shop["admin"])[1]["items"]]
    assert kinds == ["refund", "redeem", "adjust"]
    assert stack.queue_messages(stack.env["FULFILMENT_QUEUE_URL"]) == []
