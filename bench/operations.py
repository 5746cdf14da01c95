"""A. DynamoDB requests and capacity per operation, measured on moto in this process.

The stack is deployed from infra/template.yaml exactly as tests/integration/conftest.py does, the
API is called through Chalice's test client and the partner queue is consumed by the real
PartnerEventsFunction handler through the local Lambda runtime (one batch of ten).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.dynamo import Measurement, Meter, Recorder, Table

# What tests/conftest.py sets before any Laurel module is imported.
TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "LAUREL_TABLE": "laurel-Table", "LAUREL_SIGNING_KEY": "test-signing-key-0123456789abcdef0123456789",
    "LAUREL_ROOT_KEY": "test-root-key", "LAUREL_VALIDATE_ANSWERS": "1", "POWERTOOLS_SERVICE_NAME": "laurel-test",
}
REGION = "us-east-1"
PARTNER_FUNCTION = "PartnerEventsFunction"
BATCH = 10
PRIOR_EARNS = 2  # history each member has before it is measured (lots, tier window, version)


class BenchError(Exception):
    """The scenario did not go as it must for its figures to mean anything."""


def _environment() -> None:
    os.environ.update(TEST_ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("LAUREL_ROOT_KEY_HASH", None)
    # Keep Powertools' per-request INFO lines out of the report; warnings still show.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"


@dataclass
class Api:
    """The Chalice app through its test client, answering (status, body)."""

    client: Any

    def call(self, method: str, path: str, key: str, body: Any = None, headers: dict | None = None,
             expect: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {key}", **(headers or {})}
        response = self.client.http.request(method, path, headers=sent,
                                            body=json.dumps(body) if body is not None else b"")
        answer = json.loads(response.body) if response.body else None
        if response.status_code not in expect:
            raise BenchError(f"{method} {path} answered {response.status_code}: {answer}")
        return answer


class Scenario:
    """One organisation, program, members, keys and rewards, and the operations measured on them."""

    def __init__(self, api: Api, meter: Meter, deployment, runtime, sqs) -> None:
        self.api = api
        self.meter = meter
        self.deployment = deployment
        self.runtime = runtime
        self.sqs = sqs
        self.results: list[Measurement] = []
        self._events = 0

    # setup

    def setup(self) -> None:
        api = self.api
        org = api.call("POST", "/v1/orgs", TEST_ENVIRONMENT["LAUREL_ROOT_KEY"], {"name": "Bench Coffee"})
        self.org_id, self.admin = org["id"], org["admin_key"]["secret"]
        program = api.call("POST", "/v1/programs", self.admin, {
            "name": "Coffee Club", "points_expiry_days": 365,
            "earn_rules": [{"event_type": "signup", "points": 100},
                           {"event_type": "purchase", "points_per": {"property": "amount", "every": 100,
                                                                      "points": 1}}],
            "tiers": [{"name": "Silver", "min_points": 1000, "multiplier": 1.25},
                      {"name": "Gold", "min_points": 5000, "multiplier": 1.5}]})
        self.program_id, self.path = program["id"], f"/v1/programs/{program['id']}"
        self.http_key = self._key("till-api", "partner")
        self.queue_key = self._key("shop-queue", "partner")
        self.members = ["ada"] + [f"member-{n:02d}" for n in range(BATCH)]
        for number, member in enumerate(self.members):
            api.call("PUT", f"{self.path}/members/{member}", self.admin, {
                "email": f"{member}@example.com", "phone": f"+39333{number:07d}", "name": member.title(),
                "locale": "it"})
            for _ in range(PRIOR_EARNS):
                self._earn(self.admin, member)
        api.call("POST", f"{self.path}/members/ada/adjustments", self.admin,
                 {"points": 10_000, "reason": "bench budget"}, {"Idempotency-Key": "bench-budget"})
        self.gift_card = api.call("POST", f"{self.path}/rewards", self.admin,
                                  {"type": "gift_card", "name": "Books 10", "cost": 100,
                                   "value": {"amount": 1000, "currency": "EUR"}})["id"]
        api.call("POST", f"{self.path}/rewards/{self.gift_card}/codes", self.admin,
                 {"codes": [f"BOOK-{n:04d}-XYZW" for n in range(10)]})
        self.cashback = api.call("POST", f"{self.path}/rewards", self.admin,
                                 {"type": "cashback", "name": "5 EUR back", "cost": 100,
                                  "value": {"amount": 500, "currency": "EUR"}})["id"]

    def _key(self, name: str, role: str) -> dict:
        key = self.api.call("POST", "/v1/api-keys", self.admin, {"name": name, "role": role})
        return {"id": key["id"], "secret": key["secret"]}

    def _event(self, member: str) -> dict:
        self._events += 1
        return {"id": f"order-{self._events:05d}", "type": "purchase", "member": member,
                "properties": {"amount": 2350 + self._events, "store": "milano-01"}}

    def _earn(self, key: str, member: str) -> dict:
        return self.api.call("POST", f"{self.path}/events", key, self._event(member), expect=(201,))

    # measured operations

    def measure(self, name: str, action: Callable[[], Any], per: int = 1) -> Measurement:
        measurement, _ = self.meter.measure(name, action, per)
        self.results.append(measurement)
        return measurement

    def earn_over_http(self) -> None:
        key = self.http_key["secret"]  # never used before: its first call reads the key
        self.measure("earn_http_first_call", lambda: self._earn(key, "ada"))
        self.measure("earn_http", lambda: self._earn(key, "ada"))

    def earn_over_queue(self) -> None:
        self._batch(self.members[1:2])  # warm-up: a running container has checked the key already
        self.measure("earn_queue", lambda: self._batch(self.members[1:]), per=BATCH)

    def _batch(self, members: list[str]) -> None:
        from chalicelib.earning.partner_messages import sign

        sqs = self.sqs
        url = self.deployment.environment["PARTNER_EVENTS_QUEUE_URL"]
        for member in members:
            body = json.dumps({"org_id": self.org_id, "program_id": self.program_id,
                               "event": self._event(member)})
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
                "key_id": {"DataType": "String", "StringValue": self.queue_key["id"]},
                "signature": {"DataType": "String",
                              "StringValue": sign(self.queue_key["secret"], body.encode())}})
        poller = next(p for p in self.runtime.pollers if p.trigger.function.logical_id == PARTNER_FUNCTION)
        handled = poller.poll_once()
        if handled != len(members):
            raise BenchError(f"{PARTNER_FUNCTION} got {handled} messages in its batch, not {len(members)}")
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dead = sqs.get_queue_attributes(QueueUrl=self.deployment.environment["PARTNER_EVENTS_DLQ_URL"],
                                        AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        if int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) or \
                int(dead["ApproximateNumberOfMessages"]):
            raise BenchError(f"{PARTNER_FUNCTION} did not consume its batch cleanly: {left} / DLQ {dead}")

    def balance(self) -> None:
        key, path = self.http_key["secret"], f"{self.path}/members/ada/balance"
        self.api.call("GET", path, key)  # warm-up
        self.measure("balance", lambda: self.api.call("GET", path, key))

    def redemptions(self) -> None:
        for name, reward in (("redeem_gift_card", self.gift_card), ("redeem_cashback", self.cashback)):
            self._redeem(reward, f"{name}-warm-up")
            self.measure(name, lambda reward=reward, name=name: self._redeem(reward, name))

    def catalog(self) -> None:
        """What a member's app reads to show the catalog: the rewards, or the member's own view of them; and its
        rewards: Ada's redemptions (those above, among her earns and adjustment)."""
        for name, path in (("rewards_list", f"{self.path}/rewards"),
                           ("member_catalog", f"{self.path}/members/ada/catalog"),
                           ("member_redemptions", f"{self.path}/members/ada/redemptions")):
            self.api.call("GET", path, self.admin)  # warm-up
            self.measure(name, lambda path=path: self.api.call("GET", path, self.admin))

    def insight(self) -> None:
        """What a program manager and a member's app read of the program's insight: a member found by email,
        what the program owes, a member's predictions, the member's catalog in recommended order."""
        for name, path in (("directory_email", f"{self.path}/members?email=Ada%40Example.com"),
                           ("liability", f"{self.path}/liability"),
                           ("predictions", f"{self.path}/members/ada/predictions"),
                           ("member_catalog_recommended", f"{self.path}/members/ada/catalog?order=recommended")):
            self.api.call("GET", path, self.admin)  # warm-up
            self.measure(name, lambda path=path: self.api.call("GET", path, self.admin))

    def _redeem(self, reward: str, idempotency_key: str) -> dict:
        return self.api.call("POST", f"{self.path}/members/ada/redemptions", self.admin,
                             {"reward_id": reward, "quantity": 1}, {"Idempotency-Key": idempotency_key},
                             expect=(202,))


@contextlib.contextmanager
def deployed() -> Iterator[tuple[Any, Any]]:
    """The stack deployed from infra/template.yaml on moto in this process, and its Lambda runtime
    (DynamoDB serialised per item as on the local stack, so threads race as on AWS)."""
    _environment()
    from moto import mock_aws

    from local import atomic_dynamodb

    atomic_dynamodb.install()
    with mock_aws():
        from local import resources, template
        from local.lambda_runtime import Runtime

        parameters = {"RootKeyHash": hashlib.sha256(TEST_ENVIRONMENT["LAUREL_ROOT_KEY"].encode()).hexdigest(),
                      "SigningKey": TEST_ENVIRONMENT["LAUREL_SIGNING_KEY"], "EmailSender": "rewards@example.com"}
        deployment = resources.deploy(template.load(), parameters, REGION)
        os.environ.update(deployment.environment)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        from chalicelib.core import aws, db

        if db.Item.Meta.table_name != deployment.environment["LAUREL_TABLE"]:
            raise BenchError(f"chalicelib uses table {db.Item.Meta.table_name}, the stack made "
                             f"{deployment.environment['LAUREL_TABLE']}")
        aws.reset()
        yield deployment, Runtime(deployment, retry_seconds=0)


def measure() -> list[Measurement]:
    """Deploy on moto, set the scene and measure every operation (in this process)."""
    with deployed() as (deployment, runtime):
        import boto3
        from chalice.test import Client

        import app

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        recorder = Recorder()
        recorder.install()
        try:
            meter = Meter(recorder, Table.describe(dynamodb, deployment.environment["LAUREL_TABLE"]), dynamodb)
            with Client(app.app) as client:
                scenario = Scenario(Api(client), meter, deployment, runtime,
                                    boto3.client("sqs", region_name=REGION))
                scenario.setup()
                scenario.earn_over_http()
                scenario.earn_over_queue()
                scenario.balance()
                scenario.redemptions()
                scenario.catalog()
                scenario.insight()
        finally:
            recorder.uninstall()
        return scenario.results
