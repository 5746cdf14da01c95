"""Fault injection: AWS failing in the ways it does, and every time the books still balance.

Faults are injected at the HTTP layer of botocore (`Endpoint._do_get_response`), before moto sees
the request, so the SDK's own retries (standard mode) and pynamodb's retry settings run exactly as
they would against AWS, and a failed call has no effect on the emulator. Back-off sleeps (the SDK's
and the ledger's) are recorded instead of slept. Each test shows that after recovery no points are
lost or doubled, every redemption reaches a final status, and every failure is visible in a DLQ
or refunded.

The last fault of the brief, a fulfilment that fails on every try, is refunded once on its last
try: tests/integration/test_redemptions.py::test_a_fulfilment_that_keeps_failing_is_refunded_once.
"""
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional
from unittest import mock

import boto3
import botocore.endpoint
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from given import enrol
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends

from chalicelib.core import aws, clock, db, transact
from chalicelib.earning.partner_messages import sign
from chalicelib.rewards import recovery
from local import lambda_runtime
from local.lambda_runtime import LambdaContext, load_handler, sqs_event

REGION = "us-east-1"
SDK_ATTEMPTS = aws._CONFIG.retries["max_attempts"] + 1  # the SQS/SNS/SES clients: the first try and 3 retries


# --- the fault injector --------------------------------------------------------------------

class LambdaDied(BaseException):
    """The function instance stopped mid-call (timeout, out of memory): nothing after it runs."""


@dataclass
class Fault:
    service: str
    operation: str
    code: Optional[str] = None  # an AWS error code to answer with
    status: int = 400
    times: Optional[int] = None  # None: until stopped
    when: Optional[Callable[[str], bool]] = None  # on the request body
    reasons: Optional[Callable[[dict], list]] = None  # CancellationReasons, from the request
    before: Optional[Callable[[], None]] = None  # run, then let the request through
    after: bool = False  # let the request through to the emulator, then answer the error
    die: bool = False  # raise LambdaDied
    connection_error: bool = False  # the endpoint could not be reached
    hits: int = 0

    def matches(self, service: str, operation: str, body: str) -> bool:
        return (service, operation) == (self.service, self.operation) and (
            self.times is None or self.hits < self.times) and (self.when is None or self.when(body))


class AwsFaults:
    """Answers chosen AWS calls with an error at the HTTP layer (see the module docstring)."""

    def __init__(self):
        self.faults: list[Fault] = []
        self.sdk_backoffs: list[float] = []
        self.ledger_backoffs: list[float] = []
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, code: Optional[str] = None, **options) -> Fault:
        fault = Fault(service, operation, code, **options)
        self.faults.append(fault)
        return fault

    def stop(self) -> None:
        self.faults.clear()

    def hits(self, operation: str) -> int:
        return sum(f.hits for f in self.faults if f.operation == operation)

    def patched(self, original):
        injector = self

        def _do_get_response(endpoint, request, operation_model, context):
            service, operation = operation_model.service_model.service_name, operation_model.name
            body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
            with injector._lock:
                fault = next((f for f in injector.faults if f.matches(service, operation, body)), None)
                if fault is not None:
                    fault.hits += 1
            if fault is None:
                return original(endpoint, request, operation_model, context)
            if fault.die:
                raise LambdaDied(f"{service}.{operation}")
            if fault.before is not None:
                fault.before()
                return original(endpoint, request, operation_model, context)
            if fault.connection_error:
                return None, EndpointConnectionError(endpoint_url=request.url)
            if fault.after:
                original(endpoint, request, operation_model, context)
            parsed = {"Error": {"Code": fault.code, "Message": f"injected {fault.code}"},
                      "ResponseMetadata": {"HTTPStatusCode": fault.status, "HTTPHeaders": {},
                                           "RequestId": "injected-fault"}}
            if fault.reasons is not None:
                parsed["CancellationReasons"] = fault.reasons(json.loads(body))
            raw = _Raw(json.dumps({"__type": fault.code, "message": parsed["Error"]["Message"]}).encode())
            return (AWSResponse(request.url, fault.status, {}, raw), parsed), None

        return _do_get_response


class _Raw:
    """The body of an injected answer, as botocore reads it."""

    def __init__(self, content: bytes):
        self.content = content

    def stream(self, **_):
        yield self.content


class NoSleep:
    """The `time` module, except that sleeping (a back-off) is recorded instead of slept."""

    def __init__(self, record: list):
        self.sleep = record.append

    def __getattr__(self, name):
        return getattr(time, name)


def fresh_clients() -> None:
    """New SDK clients, as a new Lambda instance would have (each carries its own retry quota)."""
    aws.reset()
    for model in [db.Item, *db.Item.__subclasses__()]:
        model._connection = None


@pytest.fixture
def faults(stack):
    injector = AwsFaults()
    fresh_clients()
    with mock.patch.object(botocore.endpoint.Endpoint, "_do_get_response",
                           injector.patched(botocore.endpoint.Endpoint._do_get_response)), \
            mock.patch.object(botocore.endpoint, "time", NoSleep(injector.sdk_backoffs)), \
            mock.patch.object(transact, "time", NoSleep(injector.ledger_backoffs)), \
            mock.patch.object(lambda_runtime, "_RECEIVE_WAIT_SECONDS", 0):
        yield injector
    fresh_clients()


def conflict_on_member(request: dict) -> list:
    """Cancellation reasons naming a TransactionConflict on the member item, None for the others."""
    return [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            if item.get("Put", {}).get("Item", {}).get("sk", {}).get("S") == "MEMBER" else {"Code": "None"}
            for item in request["TransactItems"]]


def writes_member(body: str) -> bool:
    return '"S": "MEMBER"' in body or '"S":"MEMBER"' in body


# --- the world the tests run in ------------------------------------------------------------

@pytest.fixture
def shop(api, program):
    """A member with 1000 points, an email address and a phone; a gift card with two codes; cashback."""
    path, admin = program["path"], program["admin"]
    tag = uuid.uuid4().hex[:8]
    email, phone = f"ada-{tag}@example.com", f"+1415{int(tag, 16) % 10**7:07d}"
    enrol(api, program, email=email, phone=phone, name="Ada", key=f"welcome-{tag}")
    gift = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 400})[1]
    codes = [f"BOOK-{tag}-1", f"BOOK-{tag}-2"]
    assert api.call("POST", f"{path}/rewards/{gift['id']}/codes", admin, {"codes": codes})[1]["added"] == 2
    cash = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cash", "cost": 100})[1]
    return {**program, "email": email, "phone": phone, "gift": gift["id"], "cash": cash["id"], "codes": codes}


@pytest.fixture
def partner(api, program):
    key = api.call("POST", "/v1/api-keys", program["admin"], {"name": "shop", "role": "partner"})[1]
    return {**program, "key_id": key["id"], "secret": key["secret"]}


def send_partner_event(stack, partner, event: dict) -> None:
    body = json.dumps({"org_id": partner["org_id"], "program_id": partner["id"], "event": event})
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=stack.env["PARTNER_EVENTS_QUEUE_URL"], MessageBody=body, MessageAttributes={
            "key_id": {"DataType": "String", "StringValue": partner["key_id"]},
            "signature": {"DataType": "String", "StringValue": sign(partner["secret"], body.encode())}})


def redeem(api, shop, reward="gift", key=None):
    return api.call("POST", f"{shop['path']}/members/ada/redemptions", shop["admin"], {"reward_id": shop[reward]},
                    {"Idempotency-Key": key or uuid.uuid4().hex})


def balance(api, program, member="ada") -> Optional[int]:
    status, answer = api.call("GET", f"{program['path']}/members/{member}/balance", program["admin"])
    return answer["available"] if status == 200 else None


def ledger(api, program, member="ada") -> list[dict]:
    items, cursor = [], None
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", f"{program['path']}/members/{member}/transactions{query}", program["admin"])[1]
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def assert_books(api, program, available: int, kinds: list[str], member="ada") -> None:
    """The balance is as expected and the ledger (its kinds, newest first) adds up to it."""
    entries = ledger(api, program, member)
    assert balance(api, program, member) == available
    assert sum(t["points"] for t in entries) == available
    assert [t["kind"] for t in entries] == kinds


def redemption(api, program, redemption_id) -> dict:
    return api.call("GET", f"{program['path']}/redemptions/{redemption_id}", program["admin"])[1]


def stock(api, shop) -> int:
    return api.call("GET", f"{shop['path']}/rewards/{shop['gift']}", shop["admin"])[1]["stock"]


def free_codes(shop) -> int:
    return len(db.index_keys("gsi2", f"CODEPOOL#{shop['gift']}", 100))


def emails_to(address) -> list:
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
            if address in m.destinations["ToAddresses"]]


def sms_to(phone) -> list:
    return [text for number, text in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values()
            if number == phone]


def delivery_record(redemption_id, channel) -> Optional[db.DeliveryItem]:
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    return db.get(db.DeliveryItem, db.DeliveryItem.key(redemption.program_id, redemption.external_id,
                                                       f"reward_delivered:{redemption_id}", channel))


def delivery_status(redemption_id, channel) -> Optional[str]:
    record = delivery_record(redemption_id, channel)
    return record.status if record else None


def dlq_url(stack, function_id) -> str:
    queue_url = stack.poller(function_id).trigger.queue_url
    sqs = boto3.client("sqs", region_name=REGION)
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    return sqs.get_queue_url(QueueName=policy["deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]


def messages_about(stack, url, text) -> list[dict]:
    return [m for m in stack.queue_messages(url) if text in m["Body"]]


def waiting(url) -> int:
    counts = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in counts["Attributes"].values())


def deliver_twice(stack, function_id, about: list[str]) -> int:
    """Lambda gets every message of the function's queue twice (SQS is at-least-once), then deletes it.

    Neither delivery of a message naming one of `about` may fail; returns how many of those there were.
    """
    poller = stack.poller(function_id)
    function = stack.deployment.functions[function_id]
    handler = load_handler(function.handler)
    sqs = boto3.client("sqs", region_name=REGION)
    delivered = 0
    while True:
        messages = sqs.receive_message(QueueUrl=poller.trigger.queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"], MessageAttributeNames=["All"],
                                       VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return delivered
        event = sqs_event(messages, poller.trigger.queue_arn, REGION)
        again = copy.deepcopy(event)
        for record in again["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = "2"
        failed = set()
        for batch in (event, again):
            failed |= {f["itemIdentifier"] for f in handler(batch, LambdaContext(function))["batchItemFailures"]}
        ours = [m for m in messages if any(text in m["Body"] for text in about)]
        assert not [m for m in ours if m["MessageId"] in failed], failed
        sqs.delete_message_batch(QueueUrl=poller.trigger.queue_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
        delivered += len(ours)


def both_at_once(stack, function_id, module) -> list[Exception]:
    """Two instances of the function get the same message at the same moment (SQS can do that too)."""
    poller = stack.poller(function_id)
    messages = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=poller.trigger.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
        MessageAttributeNames=["All"], VisibilityTimeout=60).get("Messages", [])
    assert messages
    records = sqs_event(messages, poller.trigger.queue_arn, REGION)["Records"]
    barrier, errors = threading.Barrier(2), []

    def consumer():
        barrier.wait()
        for record in records:
            try:
                module.record_handler(SQSRecord(record))
            except Exception as error:  # noqa: BLE001 - a failed record is redelivered: we count them
                errors.append(error)

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    boto3.client("sqs", region_name=REGION).delete_message_batch(QueueUrl=poller.trigger.queue_url, Entries=[
        {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
    return errors


# --- DynamoDB throttling -------------------------------------------------------------------

def test_a_throttled_earn_is_retried_by_the_sdk_and_credited_once(stack, api, program, faults):
    # Given DynamoDB throttles the next two TransactWriteItems calls
    faults.add("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", times=2)
    # When an event is sent over HTTP
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"],
                              {"id": "thr-1", "type": "signup", "member": "tom"})
    # Then the SDK backed off and retried, and the event is credited once
    assert (status, answer["points"]) == (201, 100)
    assert faults.hits("TransactWriteItems") == 2 and len(faults.sdk_backoffs) == 2
    assert_books(api, program, 100, ["earn"], member="tom")


def test_throttling_that_outlasts_every_retry_answers_busy_and_the_client_retry_is_credited_once(
        stack, api, program, faults):
    # Given DynamoDB throttles every TransactWriteItems call
    faults.add("dynamodb", "TransactWriteItems", "ThrottlingException")
    event = {"id": "thr-2", "type": "signup", "member": "tim"}
    # When an event is sent over HTTP
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"], event)
    # Then, once the SDK's and the ledger's retries are spent, it answers 503 busy and nothing was written
    assert (status, answer["error"]["code"]) == (503, "busy")
    assert faults.hits("TransactWriteItems") >= transact.ATTEMPTS
    assert balance(api, program, "tim") is None
    # And when DynamoDB recovers, the client's retry with the same event id is credited once, and a
    # second retry is a replay
    faults.stop()
    assert api.call("POST", f"{program['path']}/events", program["admin"], event)[0] == 201
    assert api.call("POST", f"{program['path']}/events", program["admin"], event)[0] == 200
    assert_books(api, program, 100, ["earn"], member="tim")


def test_a_throttled_partner_event_is_retried_by_sqs_and_credited_once(stack, api, partner, faults):
    # Given a signed partner event, and DynamoDB throttling every transaction during its first delivery
    send_partner_event(stack, partner, {"id": "p-thr", "type": "purchase", "member": "pat",
                                        "properties": {"amount": 2500}})
    faults.add("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException")
    # When the partner function takes it: it fails and the message goes back to the queue
    assert stack.poller("PartnerEventsFunction").poll_once() >= 1
    assert balance(api, partner, "pat") is None
    assert waiting(stack.env["PARTNER_EVENTS_QUEUE_URL"]) >= 1
    # And DynamoDB recovers before SQS delivers it again
    faults.stop()
    stack.pump("PartnerEventsFunction")
    # Then it is credited once, the queue is empty and nothing went to the DLQ
    assert_books(api, partner, 25, ["earn"], member="pat")
    assert waiting(stack.env["PARTNER_EVENTS_QUEUE_URL"]) == 0
    assert messages_about(stack, stack.env["PARTNER_EVENTS_DLQ_URL"], partner["id"]) == []


# --- contention on the member item ---------------------------------------------------------

@pytest.mark.parametrize("change", ["event", "adjustment", "redemption"])
def test_a_transaction_conflict_on_the_member_write_is_retried_and_applied_once(stack, api, shop, faults, change):
    # Given DynamoDB cancels the next transaction that writes the member, with TransactionConflict on it
    faults.add("dynamodb", "TransactWriteItems", "TransactionCanceledException", times=1, when=writes_member,
               reasons=conflict_on_member)
    path, admin = shop["path"], shop["admin"]
    # When the change is made
    if change == "event":
        status, _ = api.call("POST", f"{path}/events", admin, {"id": "tc-1", "type": "purchase", "member": "ada",
                                                               "properties": {"amount": 5000}})
        expected, kinds = 201, (1050, ["earn", "adjust"])
    elif change == "adjustment":
        status, _ = api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": -300, "reason": "fix"},
                             {"Idempotency-Key": "tc-2"})
        expected, kinds = 201, (700, ["adjust", "adjust"])
    else:
        status, _ = redeem(api, shop, "gift", key="tc-3")
        expected, kinds = 202, (600, ["redeem", "adjust"])
    # Then the ledger re-read the member and applied the change exactly once
    assert status == expected
    assert faults.hits("TransactWriteItems") == 1
    assert_books(api, shop, *kinds)
    if change == "redemption":
        assert stock(api, shop) == 1
        stack.pump("FulfilmentFunction")
        assert free_codes(shop) == 1
        assert [r["status"] for r in (redemption(api, shop, t["redemption_id"]) for t in ledger(api, shop)
                                      if t["kind"] == "redeem")] == ["fulfilled"]


def test_a_writer_that_commits_between_read_and_write_makes_the_ledger_read_again(stack, api, shop, faults):
    # Given an adjustment of the same member that commits just before the event's transaction arrives
    path, admin = shop["path"], shop["admin"]
    sneak = lambda: api.call("POST", f"{path}/members/ada/adjustments", admin,  # noqa: E731
                             {"points": 50, "reason": "sneaky"}, {"Idempotency-Key": "sneak"})
    faults.add("dynamodb", "TransactWriteItems", times=1, when=writes_member, before=sneak)
    # When the event is sent (its transaction fails the member's version check, for real)
    status, answer = api.call("POST", f"{path}/events", admin, {"id": "race-1", "type": "purchase", "member": "ada",
                                                                 "properties": {"amount": 5000}})
    # Then both changes are applied, each once, and the event's answer shows the balance after both
    assert (status, answer["balance"]["available"]) == (201, 1100)
    assert_books(api, shop, 1100, ["earn", "adjust", "adjust"])


def test_a_commit_whose_answer_is_lost_is_not_applied_twice(stack, api, shop, faults):
    # Given DynamoDB commits the next transaction but its answer is lost (a 500 the SDK retries)
    faults.add("dynamodb", "TransactWriteItems", "InternalServerError", status=500, times=1, after=True,
               when=writes_member)
    # When an event is sent
    status, answer = api.call("POST", f"{shop['path']}/events", shop["admin"],
                              {"id": "lost-ack", "type": "purchase", "member": "ada", "properties": {"amount": 5000}})
    # Then the retried write is refused by the entry's condition and the first result is answered: credited once
    assert status in (200, 201) and answer["points"] == 50
    assert_books(api, shop, 1050, ["earn", "adjust"])


# --- a fulfilment message that was never sent ----------------------------------------------

@pytest.mark.parametrize("how", ["the send fails", "the function dies"])
def test_a_lost_fulfilment_send_is_recovered_and_fulfilled_once(stack, api, shop, faults, how):
    fulfilment_queue = stack.env["FULFILMENT_QUEUE_URL"]
    to_fulfilment = lambda body: fulfilment_queue in body  # noqa: E731
    if how == "the send fails":
        # Given SQS refuses every send to the fulfilment queue
        faults.add("sqs", "SendMessage", "InternalError", status=500, when=to_fulfilment)
        # When the member redeems: the points are taken and the answer is still 202
        status, answer = redeem(api, shop, key="lost-1")
        assert (status, answer["status"]) == (202, "pending")
        assert faults.hits("SendMessage") == SDK_ATTEMPTS
    else:
        # Given the API function dies right after the redemption's transaction, before the send
        faults.add("sqs", "SendMessage", when=to_fulfilment, times=1, die=True)
        with pytest.raises(LambdaDied):
            redeem(api, shop, key="lost-1")
        # When the client retries with the same key: the first result, the points taken once
        status, answer = redeem(api, shop, key="lost-1")
        assert (status, answer["status"]) == (200, "pending")
    faults.stop()
    redemption_id = answer["id"]
    assert_books(api, shop, 600, ["redeem", "adjust"])
    assert messages_about(stack, fulfilment_queue, redemption_id) == []
    # When the recovery job runs after the grace period (twice, as two overlapping runs could)
    later = clock.now() + timedelta(minutes=3)
    assert recovery.recover_redemptions(later)["resent"] >= 1
    assert recovery.recover_redemptions(later)["resent"] >= 1
    stack.pump("FulfilmentFunction")
    # Then it is fulfilled exactly once: one code used, stock right, points taken once
    done = redemption(api, shop, redemption_id)
    assert done["status"] == "fulfilled" and done["fulfillment"]["code"] in shop["codes"]
    assert (stock(api, shop), free_codes(shop)) == (1, 1)
    assert_books(api, shop, 600, ["redeem", "adjust"])
    # And the recovery job has nothing more to send for it
    recovery.recover_redemptions(later)
    assert messages_about(stack, fulfilment_queue, redemption_id) == []


# --- every message delivered twice ---------------------------------------------------------

def test_every_fulfilment_and_notification_delivered_twice_takes_effect_once(stack, api, shop, faults):
    # Given two gift-card redemptions
    first, second = redeem(api, shop)[1]["id"], redeem(api, shop)[1]["id"]
    # When SQS delivers every fulfilment, email and SMS message twice
    assert deliver_twice(stack, "FulfilmentFunction", [first, second]) == 2
    assert deliver_twice(stack, "EmailDeliveryFunction", [first, second]) == 2
    assert deliver_twice(stack, "SmsDeliveryFunction", [first, second]) == 2
    # Then each redemption is fulfilled with its own code, the stock is spent once, the points taken once
    codes = {redemption(api, shop, rid)["fulfillment"]["code"] for rid in (first, second)}
    assert codes == set(shop["codes"])
    assert (stock(api, shop), free_codes(shop)) == (0, 0)
    assert_books(api, shop, 200, ["redeem", "redeem", "adjust"])
    # And the member got one email and one SMS per redemption, each recorded as sent
    assert len(emails_to(shop["email"])) == 2 and len(sms_to(shop["phone"])) == 2
    assert {delivery_status(rid, channel) for rid in (first, second) for channel in ("email", "sms")} == {"sent"}


def test_the_same_fulfilment_and_partner_message_taken_by_two_instances_at_once_takes_effect_once(
        stack, api, shop, faults):
    from functions import fulfilment, partner_events

    # Given a gift-card redemption and a signed partner event waiting in their queues
    stack.pump("FulfilmentFunction")
    rid = redeem(api, shop)[1]["id"]
    key = api.call("POST", "/v1/api-keys", shop["admin"], {"name": "shop", "role": "partner"})[1]
    send_partner_event(stack, {**shop, "key_id": key["id"], "secret": key["secret"]},
                       {"id": "twice", "type": "purchase", "member": "ada", "properties": {"amount": 5000}})
    # When two function instances take each message at the same moment
    errors = both_at_once(stack, "FulfilmentFunction", fulfilment) + both_at_once(
        stack, "PartnerEventsFunction", partner_events)
    # Then the redemption holds one code, the event is credited once (a loser may fail and be retried, harmlessly)
    assert all("Too many concurrent" in str(error) or "codes" in str(error) for error in errors), errors
    stack.pump("FulfilmentFunction")
    done = redemption(api, shop, rid)
    assert done["status"] == "fulfilled" and len(done["fulfillment"]["codes"]) == 1
    assert (stock(api, shop), free_codes(shop)) == (1, 1)
    assert_books(api, shop, 650, ["earn", "redeem", "adjust"])
    # And however many notifications were published (both instances may publish), the member is told once
    # per channel
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")
    assert len(emails_to(shop["email"])) == 1 and len(sms_to(shop["phone"])) == 1


def test_a_partner_message_delivered_twice_is_credited_once(stack, api, partner, faults):
    # Given a signed partner event
    send_partner_event(stack, partner, {"id": "dup", "type": "signup", "member": "dot"})
    # When SQS delivers it twice
    assert deliver_twice(stack, "PartnerEventsFunction", [partner["id"]]) == 1
    # Then it is credited once and nothing went to the DLQ
    assert_books(api, partner, 100, ["earn"], member="dot")
    assert messages_about(stack, stack.env["PARTNER_EVENTS_DLQ_URL"], partner["id"]) == []


# --- SNS failing in fulfilment -------------------------------------------------------------

def test_a_failed_notification_publish_retries_the_fulfilment_which_completes_once(stack, api, shop, faults):
    # Given SNS fails one publish to the notifications topic (all of the SDK's attempts)
    stack.pump("FulfilmentFunction")
    faults.add("sns", "Publish", "InternalError", status=500, times=SDK_ATTEMPTS,
               when=lambda body: "TopicArn=" in body)
    rid = redeem(api, shop)[1]["id"]
    # When fulfilment consumes its queue
    stack.pump("FulfilmentFunction")
    # Then the message was retried and the redemption fulfilled once, with one code
    assert faults.hits("Publish") == SDK_ATTEMPTS
    done = redemption(api, shop, rid)
    assert done["status"] == "fulfilled" and len(done["fulfillment"]["codes"]) == 1
    assert (stock(api, shop), free_codes(shop)) == (1, 1)
    assert waiting(stack.env["FULFILMENT_QUEUE_URL"]) == 0
    # And the member is told once on each channel
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")
    assert len(emails_to(shop["email"])) == 1 and len(sms_to(shop["phone"])) == 1
    assert_books(api, shop, 600, ["redeem", "adjust"])


def test_a_notification_published_but_not_recorded_reaches_the_member_once(stack, api, shop, faults):
    # Given the publish succeeds but recording it (`notified`) fails, so the fulfilment is retried and
    # publishes again
    stack.pump("FulfilmentFunction")
    faults.add("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", times=4,
               when=lambda body: "notified" in body)
    rid = redeem(api, shop)[1]["id"]
    # When fulfilment and delivery consume their queues
    stack.pump("FulfilmentFunction")
    assert faults.hits("UpdateItem") == 4
    assert len(messages_about(stack, stack.poller("EmailDeliveryFunction").trigger.queue_url, rid)) == 2
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")
    # Then the member got one email and one SMS: the delivery records make the second publish a no-op
    assert len(emails_to(shop["email"])) == 1 and len(sms_to(shop["phone"])) == 1
    assert redemption(api, shop, rid)["status"] == "fulfilled"


def test_a_notification_that_never_publishes_ends_in_the_fulfilment_dlq(stack, api, shop, faults):
    # Given SNS refuses every publish to the notifications topic
    stack.pump("FulfilmentFunction")
    faults.add("sns", "Publish", "InternalError", status=500, when=lambda body: "TopicArn=" in body)
    rid = redeem(api, shop)[1]["id"]
    # When fulfilment is tried as often as the queue allows
    stack.pump("FulfilmentFunction")
    faults.stop()
    # Then the redemption is fulfilled (the code is the member's), but the untold member is a failure
    # that must stay visible: the message is in the fulfilment DLQ
    assert redemption(api, shop, rid)["status"] == "fulfilled"
    assert db.get(db.RedemptionItem, db.RedemptionItem.key(rid)).notified is not True
    kept = messages_about(stack, dlq_url(stack, "FulfilmentFunction"), rid)
    assert len(kept) == 1


# --- SES failing ---------------------------------------------------------------------------

def fulfilled_and_notified(stack, api, shop) -> str:
    stack.pump("FulfilmentFunction")
    rid = redeem(api, shop)[1]["id"]
    stack.pump("FulfilmentFunction")
    assert redemption(api, shop, rid)["status"] == "fulfilled"
    return rid


def test_a_transient_ses_failure_is_retried_and_the_email_sent_once(stack, api, shop, faults):
    # Given SES throttles one send (all of the SDK's attempts)
    rid = fulfilled_and_notified(stack, api, shop)
    faults.add("ses", "SendEmail", "Throttling", times=SDK_ATTEMPTS)
    # When the email function consumes its queue
    stack.pump("EmailDeliveryFunction")
    # Then the message was retried by SQS and the email sent once
    assert faults.hits("SendEmail") == SDK_ATTEMPTS
    assert len(emails_to(shop["email"])) == 1 and delivery_status(rid, "email") == "sent"
    assert waiting(stack.poller("EmailDeliveryFunction").trigger.queue_url) == 0
    assert messages_about(stack, dlq_url(stack, "EmailDeliveryFunction"), rid) == []


def test_a_rejected_email_is_recorded_and_not_retried(stack, api, shop, faults):
    # Given SES rejects the message for good
    rid = fulfilled_and_notified(stack, api, shop)
    faults.add("ses", "SendEmail", "MessageRejected")
    # When the email and SMS functions consume their queues
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")
    # Then the email was tried once (no SDK retry, no redelivery), recorded as failed for that reason, and not
    # dead-lettered; the SMS still went
    assert faults.hits("SendEmail") == 1
    record = delivery_record(rid, "email")
    assert (record.status, record.reason) == ("failed", "rejected: MessageRejected") and emails_to(shop["email"]) == []
    assert waiting(stack.poller("EmailDeliveryFunction").trigger.queue_url) == 0
    assert messages_about(stack, dlq_url(stack, "EmailDeliveryFunction"), rid) == []
    assert len(sms_to(shop["phone"])) == 1


def test_an_email_that_keeps_failing_ends_in_the_email_dlq(stack, api, shop, faults):
    # Given SES throttles every send
    rid = fulfilled_and_notified(stack, api, shop)
    faults.add("ses", "SendEmail", "Throttling")
    # When the email function consumes its queue as often as SQS allows
    stack.pump("EmailDeliveryFunction")
    # Then after maxReceiveCount tries the message is in the EmailDLQ, recorded as failed, never sent
    kept = messages_about(stack, dlq_url(stack, "EmailDeliveryFunction"), rid)
    assert len(kept) == 1
    assert faults.hits("SendEmail") == 5 * SDK_ATTEMPTS  # maxReceiveCount deliveries, each with the SDK's retries
    record = delivery_record(rid, "email")
    assert record.status == "failed" and record.reason == "gave up after 5 tries: Throttling"
    assert emails_to(shop["email"]) == []
    boto3.client("sqs", region_name=REGION).delete_message(QueueUrl=dlq_url(stack, "EmailDeliveryFunction"),
                                                           ReceiptHandle=kept[0]["ReceiptHandle"])


def test_an_email_whose_send_times_out_is_retried_and_sent_once(stack, api, shop, faults):
    # Given SES cannot be reached for one send (all of the SDK's attempts)
    rid = fulfilled_and_notified(stack, api, shop)
    faults.add("ses", "SendEmail", times=SDK_ATTEMPTS, connection_error=True)
    # When the email function consumes its queue (SQS redelivers the failed message)
    stack.pump("EmailDeliveryFunction")
    # Then the email is sent once, or at least the message is kept in the DLQ
    assert faults.hits("SendEmail") == SDK_ATTEMPTS
    sent = len(emails_to(shop["email"]))
    kept = messages_about(stack, dlq_url(stack, "EmailDeliveryFunction"), rid)
    assert (sent, delivery_status(rid, "email")) == (1, "sent") or len(kept) == 1, (
        sent, delivery_status(rid, "email"), kept)
