"""The integration tier: Laurel's handlers against moto, in this process.

Resources come from infra/template.yaml through the local stack's own deployer, and queue
consumers run through its Lambda runtime (one poll at a time, synchronously), so these tests
exercise exactly what `make run` and a deployment do.
"""
import hashlib
import json
import os
import uuid

import pytest
from moto import mock_aws

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
PUBLIC_API_URL = "https://rewards.example.com"


@pytest.fixture(scope="session")
def stack():
    from local import atomic_dynamodb

    atomic_dynamodb.install()
    with mock_aws():
        from local import resources, template
        from local.lambda_runtime import Runtime

        parameters = {"RootKeyHash": hashlib.sha256(ROOT_KEY.encode()).hexdigest(),
                      "SigningKey": os.environ["LAUREL_SIGNING_KEY"], "EmailSender": "rewards@example.com",
                      "PublicApiUrl": PUBLIC_API_URL}
        deployment = resources.deploy(template.load(), parameters, "us-east-1")
        os.environ.update(deployment.environment)
        resources.verify_email_sender("us-east-1", deployment.environment["EMAIL_SENDER"])
        from chalicelib.core import aws, db

        assert db.Item.Meta.table_name == deployment.environment["LAUREL_TABLE"]
        aws.reset()
        yield Stack(deployment, Runtime(deployment, retry_seconds=0))


class Stack:
    def __init__(self, deployment, runtime):
        self.deployment = deployment
        self.runtime = runtime
        self.env = deployment.environment

    def poller(self, function_id: str):
        return next(p for p in self.runtime.pollers if p.trigger.function.logical_id == function_id)

    def pump(self, function_id: str, rounds: int = 20) -> int:
        """Let the function consume its queue as Lambda would, until the queue is empty."""
        handled = 0
        for _ in range(rounds):
            count = self.poller(function_id).poll_once()
            handled += count
            if not count:
                break
        return handled

    def queue_messages(self, url: str) -> list[dict]:
        import boto3

        sqs = boto3.client("sqs", region_name="us-east-1")
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                        VisibilityTimeout=0).get("Messages", [])
            new = [m for m in batch if m["MessageId"] not in {f["MessageId"] for f in found}]
            if not new:
                return found
            found += new


class Api:
    """The Chalice app through its test client, with the contract's auth header."""

    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, key: str | None = None, body=None, headers=None):
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key:
            sent["Authorization"] = f"Bearer {key}"
        raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        response = self.client.http.request(method, path, headers=sent, body=raw or b"")
        return response.status_code, (json.loads(response.body) if response.body else None)


@pytest.fixture(scope="session")
def api(stack):
    from chalice.test import Client

    import app

    with Client(app.app) as client:
        yield Api(client)


@pytest.fixture
def program(api):
    """A fresh organisation with one program (rules, tiers, 365-day expiry) and its admin key."""
    status, org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Org {uuid.uuid4().hex[:6]}"})
    assert status == 201
    admin = org["admin_key"]["secret"]
    status, created = api.call("POST", "/v1/programs", admin, {
        "name": "Coffee Club", "points_expiry_days": 365,
        "earn_rules": [{"event_type": "signup", "points": 100},
                       {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}}],
        "tiers": [{"name": "Silver", "min_points": 1000, "multiplier": 1.25}]})
    assert status == 201
    return {"org_id": org["id"], "admin": admin, "id": created["id"], "path": f"/v1/programs/{created['id']}"}


@pytest.fixture
def local_webhooks(monkeypatch):
    """What the local stack sets: a receiver on 127.0.0.1 over http, and retries without waiting."""
    monkeypatch.setenv("LAUREL_LOCAL_WEBHOOKS", "1")
    monkeypatch.setenv("WEBHOOKS_BACKOFF_SCALE", "0")


@pytest.fixture
def receiver(local_webhooks):
    """A webhook receiver on this machine that verifies every signature (tests/webhook_receiver.py)."""
    from webhook_receiver import Receiver

    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def fresh_stream(stack):
    """The table's stream consumed from here on only: the records of earlier tests are passed over unread (the
    stream keeps every test's writes; a test that reads the stream wants its own)."""
    for poller in stack.runtime.streams:
        poller.skip_to_end()


@pytest.fixture
def partner(api, program):
    """The program with a partner key of its own (`key_id`, `secret`): what signs partner-queue messages."""
    status, key = api.call("POST", "/v1/api-keys", program["admin"], {"name": "shop", "role": "partner"})
    assert status == 201
    return {**program, "key_id": key["id"], "secret": key["secret"]}
