"""Runs the functions as Lambda would, in this process: SQS and DynamoDB stream event source mappings, schedules.

Queue semantics are Lambda's, so what works locally works deployed: a batch of up to BatchSize
messages in a real-shaped SQS event; with ReportBatchItemFailures only the listed messages stay,
an exception keeps the whole batch; what stays comes back after the visibility timeout and the
queue's own redrive policy moves it to the DLQ after maxReceiveCount receives.

Stream semantics too: each shard is read in order by one poller, a batch at a time; with ReportBatchItemFailures
the batch is retried from the first failed sequence number, an exception retries it whole (halved first with
BisectBatchOnFunctionError), and after MaximumRetryAttempts Lambda's record of the batch (shard, sequence
numbers, condition) goes to the on-failure destination and the shard moves on.
"""
import base64
import contextlib
import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from local.resources import Deployment, Function, QueueTrigger, ScheduleTrigger, StreamTrigger

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


def stream_event(records: list[dict], stream_arn: str, region: str) -> dict:
    """The event Lambda builds from a GetRecords answer (it adds the stream's ARN and the region)."""
    return {"Records": [{**record, "awsRegion": region, "eventSourceARN": stream_arn,
                         "dynamodb": {**record["dynamodb"], "ApproximateCreationDateTime":
                                      _epoch(record["dynamodb"].get("ApproximateCreationDateTime"))}}
                        for record in records]}


def _epoch(moment: Any) -> Any:
    return moment.timestamp() if isinstance(moment, datetime) else moment


def streams_client(region: str):
    """boto3 now signs stream calls to an account endpoint that moto does not route; the regional one works on both."""
    return boto3.client("dynamodbstreams", region_name=region, config=Config(account_id_endpoint_mode="disabled"))


def failed_sequence_number(result: Any, sequence_numbers: list[str]) -> str | None:
    """The first failed record of a partial batch response (Lambda retries from it); a malformed answer, the first."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return None
    failed = []
    for failure in result["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in sequence_numbers:
            log.warning("invalid batchItemFailures entry %r: the whole batch failed", failure)
            return sequence_numbers[0]
        failed.append(identifier)
    return min(failed, key=sequence_numbers.index)


class StreamPoller(threading.Thread):
    """One DynamoDB stream event source mapping: every shard, oldest first, each in sequence order."""

    def __init__(self, trigger: StreamTrigger, invoke: Invoker, region: str, stopping: threading.Event) -> None:
        super().__init__(name=f"stream-{trigger.function.logical_id}", daemon=True)
        self.trigger = trigger
        self._invoke = invoke
        self._region = region
        self._stopping = stopping
        self._streams = streams_client(region)
        self._sqs = boto3.client("sqs", region_name=region)
        self._checkpoints: dict[str, str] = {}  # shard -> last sequence number done (from TRIM_HORIZON)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.poll_once():
                    self._stopping.wait(_RECEIVE_WAIT_SECONDS)
            except Exception:  # the endpoint hiccuped: keep polling, as Lambda does
                log.exception("polling %s failed", self.trigger.stream_arn)
                self._stopping.wait(1)

    def poll_once(self) -> int:
        """One batch from each shard (parents before children); returns how many records came."""
        handled = 0
        shards = self._shards()
        present = {shard["ShardId"] for shard in shards}
        for shard in shards:
            parent = shard.get("ParentShardId")
            if parent in present and self._unread(parent, limit=1):
                continue  # a split shard's children wait until their parent is read to its end
            records = self._unread(shard["ShardId"], limit=self.trigger.batch_size)
            if records:
                self._deliver(shard["ShardId"], records, attempts=0)
                handled += len(records)
        return handled

    def skip_to_end(self) -> int:
        """Mark every record so far as done without invoking (a test that reads only its own records); how many."""
        skipped = 0
        for shard in self._shards():
            while records := self._unread(shard["ShardId"], limit=1000):
                self._checkpoints[shard["ShardId"]] = records[-1]["dynamodb"]["SequenceNumber"]
                skipped += len(records)
        return skipped

    def caught_up(self) -> bool:
        return not any(self._unread(shard["ShardId"], limit=1) for shard in self._shards())

    def _shards(self) -> list[dict]:
        return self._streams.describe_stream(StreamArn=self.trigger.stream_arn)["StreamDescription"]["Shards"]

    def _unread(self, shard_id: str, limit: int) -> list[dict]:
        done = self._checkpoints.get(shard_id)
        position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": done} if done
                    else {"ShardIteratorType": "TRIM_HORIZON"})
        iterator = self._streams.get_shard_iterator(StreamArn=self.trigger.stream_arn, ShardId=shard_id,
                                                    **position)["ShardIterator"]
        return self._streams.get_records(ShardIterator=iterator, Limit=limit)["Records"]

    def _deliver(self, shard_id: str, records: list[dict], attempts: int) -> None:
        """Invoke until the batch is done, retrying as Lambda does; a batch given up on goes to the destination."""
        function = self.trigger.function.logical_id
        while records:
            numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
            try:
                result = self._invoke(stream_event(records, self.trigger.stream_arn, self._region))
                failed = failed_sequence_number(result, numbers) if self.trigger.report_batch_item_failures else None
                error = None
            except Exception as raised:
                log.exception("%s raised on %d stream record(s) of %s", function, len(records), shard_id)
                failed, error = numbers[0], type(raised).__name__
            if failed is None:
                self._checkpoints[shard_id] = numbers[-1]
                return
            done = numbers.index(failed)
            if done:
                self._checkpoints[shard_id] = numbers[done - 1]
            records, attempts = records[done:], attempts + 1
            if 0 <= self.trigger.max_retries < attempts:
                self._give_up(shard_id, records, attempts)
                self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                return
            if error and self.trigger.bisect_on_error and len(records) > 1:
                half = len(records) // 2
                self._deliver(shard_id, records[:half], attempts)
                self._deliver(shard_id, records[half:], attempts)
                return

    def _give_up(self, shard_id: str, records: list[dict], attempts: int) -> None:
        """Lambda's on-failure record of a stream batch: where it is in the stream, not its data."""
        log.warning("%s gave up on %d stream record(s) of %s after %d tries", self.trigger.function.logical_id,
                    len(records), shard_id, attempts)
        if self.trigger.on_failure_queue_url is None:
            return
        arrivals = [_epoch(record["dynamodb"].get("ApproximateCreationDateTime")) for record in records]
        self._sqs.send_message(QueueUrl=self.trigger.on_failure_queue_url, MessageBody=json.dumps({
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.trigger.function.arn,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id, "streamArn": self.trigger.stream_arn, "batchSize": len(records),
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrivals[0], "approximateArrivalOfLastRecord": arrivals[-1]}},
            default=str))


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
    """Every queue and stream consumer and schedule of a deployment."""

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
        self.streams = [StreamPoller(trigger, invoker(trigger.function), deployment.region, self._stopping)
                        for trigger in deployment.stream_triggers]
        self.schedules = {logical_id: Schedule(trigger, invoker(trigger.function), deployment, self._stopping,
                                               schedule_scale)
                          for logical_id, trigger in deployment.schedules.items()}
        self._sqs = boto3.client("sqs", region_name=deployment.region)

    def start(self) -> None:
        for thread in [*self.pollers, *self.streams, *self.schedules.values()]:
            thread.start()

    def stop(self) -> None:
        """Pollers finish their current batch, a running job finishes; nothing new starts."""
        self._stopping.set()
        for thread in [*self.pollers, *self.streams, *self.schedules.values()]:
            if thread.is_alive():
                thread.join()

    def run_job(self, logical_id: str) -> Any:
        """Run a scheduled function now and return its result (KeyError if it has no schedule)."""
        return self.schedules[logical_id].run_now()

    def drain(self, timeout: float) -> bool:
        """Wait until no consumer queue holds a message (visible, in flight or delayed), every stream consumer has
        read its stream to the end, and nothing runs."""
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
        if not all(stream.caught_up() for stream in self.streams):
            return False
        # Nothing started or finished while the queues were read: the snapshot is consistent.
        return self._activity.generation == generation and not self._activity.running
