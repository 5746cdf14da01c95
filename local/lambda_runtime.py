"""Runs the functions as Lambda would, in this process: SQS event source mappings and schedules.

Queue semantics are Lambda's, so what works locally works deployed: a batch of up to BatchSize
messages in a real-shaped SQS event; with ReportBatchItemFailures only the listed messages stay,
an exception keeps the whole batch; what stays comes back after the visibility timeout and the
queue's own redrive policy moves it to the DLQ after maxReceiveCount receives.
"""
import base64
import contextlib
import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3

from local.resources import Deployment, Function, QueueTrigger, ScheduleTrigger

log = logging.getLogger("local.lambda")

_MAX_BATCH = 10
_RECEIVE_WAIT_SECONDS = 1
_QUEUE_COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]


class LambdaContext:
    """The context object handed to a handler (what Powertools and handlers read)."""

    def __init__(self, function: Function) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(dotted_path: str) -> Callable[[Any, Any], Any]:
    module, _, name = dotted_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _message_attribute(value: dict) -> dict:
    attribute = {"stringListValues": value.get("StringListValues", []),
                 "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
                 "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    """The event Lambda builds from an SQS ReceiveMessage answer."""
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {name: _message_attribute(value)
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for message in messages]}


def scheduled_event(schedule: ScheduleTrigger, region: str, account: str) -> dict:
    """The event an EventBridge schedule rule sends."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


def failed_message_ids(result: Any, message_ids: list[str]) -> set[str]:
    """Lambda's reading of a partial batch response: a malformed one fails the whole batch."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failed = set()
    for failure in result["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            log.warning("invalid batchItemFailures entry %r: the whole batch failed", failure)
            return set(message_ids)
        failed.add(identifier)
    return failed


class Activity:
    """Counts invocations, so a drain can tell that nothing ran while it looked at the queues."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.generation = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self._lock:
            self.running += 1
            self.generation += 1
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
                self.generation += 1


class Invoker:
    """One function: its handler, called with a fresh context per invocation."""

    def __init__(self, function: Function, activity: Activity) -> None:
        self.function = function
        self._handler = load_handler(function.handler)
        self._activity = activity

    def __call__(self, event: Any) -> Any:
        context = LambdaContext(self.function)
        with self._activity.track():
            started = time.monotonic()
            try:
                return self._handler(event, context)
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.function.timeout:
                    log.warning("%s took %.1f s, over its %d s timeout: Lambda would have stopped it",
                                self.function.logical_id, elapsed, self.function.timeout)


class QueuePoller(threading.Thread):
    """One SQS event source mapping."""

    def __init__(self, trigger: QueueTrigger, invoke: Invoker, region: str, stopping: threading.Event,
                 retry_seconds: int | None) -> None:
        super().__init__(name=f"sqs-{trigger.function.logical_id}", daemon=True)
        self.trigger = trigger
        self._invoke = invoke
        self._region = region
        self._stopping = stopping
        self._retry_seconds = retry_seconds
        self._sqs = boto3.client("sqs", region_name=region)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # the endpoint hiccuped: keep polling, as Lambda does
                log.exception("polling %s failed", self.trigger.queue_url)
                self._stopping.wait(1)

    def poll_once(self) -> int:
        """Receive one batch, invoke, settle it; returns how many messages came."""
        messages = self._sqs.receive_message(
            QueueUrl=self.trigger.queue_url,
            MaxNumberOfMessages=min(self.trigger.batch_size, _MAX_BATCH),
            WaitTimeSeconds=_RECEIVE_WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self._process(messages)
        return len(messages)

    def _process(self, messages: list[dict]) -> None:
        ids = [message["MessageId"] for message in messages]
        function = self.trigger.function.logical_id
        queue = self.trigger.queue_arn.rsplit(":", 1)[-1]
        started = time.monotonic()
        try:
            result = self._invoke(sqs_event(messages, self.trigger.queue_arn, self._region))
        except Exception:
            log.exception("%s raised on %d message(s) from %s %s: all stay on the queue",
                          function, len(messages), queue, ids)
            failed = set(ids)
        else:
            failed = failed_message_ids(result, ids) if self.trigger.report_batch_item_failures else set()
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self.trigger.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(done)])
        retry = [message for message in messages if message["MessageId"] in failed]
        if retry and self._retry_seconds is not None:
            self._sqs.change_message_visibility_batch(QueueUrl=self.trigger.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"],
                 "VisibilityTimeout": self._retry_seconds} for index, message in enumerate(retry)])
        # Message ids only: bodies can hold personal data.
        log.info("%s: %d message(s) from %s in %d ms, %d failed%s", function, len(messages), queue,
                 (time.monotonic() - started) * 1000, len(failed), f" {sorted(failed)}" if failed else "")


class Schedule(threading.Thread):
    """One EventBridge rate schedule; runs can also be asked for at once (`run_now`)."""

    def __init__(self, trigger: ScheduleTrigger, invoke: Invoker, deployment: Deployment,
                 stopping: threading.Event, scale: float) -> None:
        super().__init__(name=f"schedule-{trigger.function.logical_id}", daemon=True)
        self.trigger = trigger
        self._invoke = invoke
        self._deployment = deployment
        self._stopping = stopping
        self._scale = scale
        self._one_at_a_time = threading.Lock()

    def run(self) -> None:
        if self.trigger.interval is None:
            return
        while not self._stopping.wait(self.trigger.interval / self._scale):
            try:
                self.run_now()
            except Exception:  # as on AWS: logged, and the next tick runs again
                log.exception("%s failed (schedule %s)", self.trigger.function.logical_id, self.trigger.expression)

    def run_now(self) -> Any:
        with self._one_at_a_time:
            started = time.monotonic()
            result = self._invoke(scheduled_event(self.trigger, self._deployment.region, self._deployment.account))
            log.info("%s: scheduled run in %d ms", self.trigger.function.logical_id,
                     (time.monotonic() - started) * 1000)
            return result


class Runtime:
    """Every queue consumer and schedule of a deployment."""

    def __init__(self, deployment: Deployment, retry_seconds: int | None = None,
                 schedule_scale: float = 1.0) -> None:
        self._stopping = threading.Event()
        self._activity = Activity()
        invokers: dict[str, Invoker] = {}

        def invoker(function: Function) -> Invoker:
            if function.logical_id not in invokers:
                invokers[function.logical_id] = Invoker(function, self._activity)
            return invokers[function.logical_id]

        self.pollers = [QueuePoller(trigger, invoker(trigger.function), deployment.region, self._stopping,
                                    retry_seconds) for trigger in deployment.queue_triggers]
        self.schedules = {logical_id: Schedule(trigger, invoker(trigger.function), deployment, self._stopping,
                                               schedule_scale)
                          for logical_id, trigger in deployment.schedules.items()}
        self._sqs = boto3.client("sqs", region_name=deployment.region)

    def start(self) -> None:
        for thread in [*self.pollers, *self.schedules.values()]:
            thread.start()

    def stop(self) -> None:
        """Pollers finish their current batch, a running job finishes; nothing new starts."""
        self._stopping.set()
        for thread in [*self.pollers, *self.schedules.values()]:
            if thread.is_alive():
                thread.join()

    def run_job(self, logical_id: str) -> Any:
        """Run a scheduled function now and return its result (KeyError if it has no schedule)."""
        return self.schedules[logical_id].run_now()

    def drain(self, timeout: float) -> bool:
        """Wait until no consumer queue holds a message (visible, in flight or delayed) and nothing runs."""
        deadline = time.monotonic() + timeout
        while True:
            if self._idle():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _idle(self) -> bool:
        generation = self._activity.generation
        if self._activity.running:
            return False
        for poller in self.pollers:
            counts = self._sqs.get_queue_attributes(QueueUrl=poller.trigger.queue_url,
                                                    AttributeNames=_QUEUE_COUNTS)["Attributes"]
            if any(int(counts.get(name, 0)) for name in _QUEUE_COUNTS):
                return False
        # Nothing started or finished while the queues were read: the snapshot is consistent.
        return self._activity.generation == generation and not self._activity.running
