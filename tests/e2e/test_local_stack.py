"""The local stack itself: resources from the template, Lambda's queue and schedule semantics, control, shutdown.

The runtime tests run in-process on moto with fake handlers (this module's functions) and a small
template; the `stack` tests run `python -m local` on the real template and app.
"""
import base64
import json
import socket
import time

import boto3
import pytest
import requests
from moto import mock_aws

from local import template as cfn
from local.control import ControlServer
from local.lambda_runtime import QueuePoller, Runtime
from local.resources import deploy

REGION = "us-east-1"
CALLS: list[tuple[dict, object]] = []  # (event, context) of every fake handler call

FIXTURE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Sender: {Type: String, Default: sender@example.com}
  Secret: {Type: String, NoEcho: true}
Conditions:
  WithExtras: !Not [!Equals [!Ref Sender, sender@example.com]]
Globals:
  Function:
    Timeout: 7
    MemorySize: 256
    Environment:
      Variables:
        TABLE: !Ref Table
        WORK_QUEUE_URL: !Ref WorkQueue
        WORK_DLQ_URL: !GetAtt WorkDLQ.QueueUrl
        TOPIC_ARN: !Ref Topic
        SECRET: !Ref Secret
        SENDER: !Sub "${Sender}"
        TABLE_INDEXES: !Sub "${Table.Arn}/index/*"
        FLAG: true
        SENDER_DOMAIN: !Select [1, !Split ["@", !Ref Sender]]
        QUEUES: !Join [",", [!GetAtt WorkQueue.QueueName, !GetAtt PlainQueue.QueueName]]
        EXTRA_QUEUE_URL: !If [WithExtras, !Ref ExtraQueue, !Ref AWS::NoValue]
        ESCAPED: !Sub "${!NotAVariable}"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
        - {AttributeName: gsi1sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: gsi1
          KeySchema: [{AttributeName: gsi1pk, KeyType: HASH}, {AttributeName: gsi1sk, KeyType: RANGE}]
          Projection: {ProjectionType: KEYS_ONLY}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDLQ.Arn
        maxReceiveCount: 2
  WorkDLQ:
    Type: AWS::SQS::Queue
  ExtraQueue:
    Type: AWS::SQS::Queue
    Condition: WithExtras
  PlainQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 30}
  Topic:
    Type: AWS::SNS::Topic
  PlainSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt PlainQueue.Arn
      RawMessageDelivery: true
      FilterPolicy: {channels: [plain]}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: HANDLERS.partial_handler
      Timeout: 2
      Environment:
        Variables: {OWN: mine}
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Handler: HANDLERS.partial_handler
      Events:
        Plain:
          Type: SQS
          Properties: {Queue: !GetAtt PlainQueue.Arn}
  Job:
    Type: AWS::Serverless::Function
    Properties:
      Handler: HANDLERS.job_handler
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
"""


def partial_handler(event, context):
    """Each message's body says what to do with it: ok, fail (reported), raise, or bogus (a malformed answer)."""
    CALLS.append((event, context))
    outcomes = {record["messageId"]: json.loads(record["body"])["outcome"] for record in event["Records"]}
    if "raise" in outcomes.values():
        raise RuntimeError("the handler failed")
    if "bogus" in outcomes.values():
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    return {"batchItemFailures": [{"itemIdentifier": message_id}
                                  for message_id, outcome in outcomes.items() if outcome == "fail"]}


def job_handler(event, context):
    """Fails on its first run, to show a failing job runs again on the next tick."""
    CALLS.append((event, context))
    if len(CALLS) == 1:
        raise RuntimeError("first run fails")
    return {"runs": len(CALLS)}


def _wait(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    CALLS.clear()
    with mock_aws():
        yield


@pytest.fixture
def fixture_template(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(FIXTURE_TEMPLATE.replace("HANDLERS", __name__))
    return cfn.load(path)


@pytest.fixture
def deployment(aws, fixture_template):
    return deploy(fixture_template, {"Secret": "s3cret"}, REGION)


def _queue_url(name: str) -> str:
    return boto3.client("sqs", region_name=REGION).get_queue_url(QueueName=f"laurel-{name}")["QueueUrl"]


def _counts(name: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=_queue_url(name), AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _send(name: str, *outcomes: str) -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return [sqs.send_message(QueueUrl=_queue_url(name), MessageBody=json.dumps({"outcome": outcome}))["MessageId"]
            for outcome in outcomes]


def _poller(deployment, function: str, retry_seconds=None) -> QueuePoller:
    runtime = Runtime(deployment, retry_seconds=retry_seconds)
    return next(poller for poller in runtime.pollers if poller.trigger.function.logical_id == function)


# --- resources and settings from the template -------------------------------------------------

def test_deploy_creates_the_templates_resources(deployment):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.describe_table(TableName="laurel-Table")["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName="laurel-Table")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")

    sqs = boto3.client("sqs", region_name=REGION)
    work = sqs.get_queue_attributes(QueueUrl=_queue_url("WorkQueue"), AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=_queue_url("WorkDLQ"), AttributeNames=["QueueArn"])
    assert json.loads(work["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                                                 "maxReceiveCount": 2}
    assert work["VisibilityTimeout"] == "30"
    assert not any(url.endswith("ExtraQueue") for url in sqs.list_queues()["QueueUrls"])  # its condition is false

    sns = boto3.client("sns", region_name=REGION)
    topic_arn = deployment.environment["TOPIC_ARN"]
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"channels": ["plain"]}
    assert attributes["RawMessageDelivery"] == "true"
    assert subscription["Endpoint"].endswith(":laurel-PlainQueue")


def test_function_settings_are_globals_merged_with_the_functions_own(deployment):
    worker = deployment.functions["Worker"]
    assert worker.environment == {
        "TABLE": "laurel-Table",
        "WORK_QUEUE_URL": _queue_url("WorkQueue"),
        "WORK_DLQ_URL": _queue_url("WorkDLQ"),
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:laurel-Topic",
        "SECRET": "s3cret",
        "SENDER": "sender@example.com",
        "TABLE_INDEXES": f"arn:aws:dynamodb:{REGION}:123456789012:table/laurel-Table/index/*",
        "FLAG": "true",
        "SENDER_DOMAIN": "example.com",
        "QUEUES": "laurel-WorkQueue,laurel-PlainQueue",
        "ESCAPED": "${NotAVariable}",
        "OWN": "mine",
    }
    assert (worker.timeout, worker.memory_size) == (2, 256)
    assert (deployment.functions["Plain"].timeout, "OWN" in deployment.functions["Plain"].environment) == (7, False)
    assert deployment.environment["OWN"] == "mine"  # one process locally: the union of every function's
    [work, plain] = deployment.queue_triggers
    assert (work.batch_size, work.report_batch_item_failures) == (5, True)
    assert (plain.batch_size, plain.report_batch_item_failures) == (10, False)
    assert deployment.schedules["Job"].interval == 60


def test_deploy_is_idempotent_and_brings_resources_back_in_line(deployment, fixture_template):
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.set_queue_attributes(QueueUrl=_queue_url("WorkQueue"), Attributes={"VisibilityTimeout": "5"})
    again = deploy(fixture_template, {"Secret": "s3cret"}, REGION)
    assert again.environment == deployment.environment
    attributes = sqs.get_queue_attributes(QueueUrl=_queue_url("WorkQueue"), AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"
    assert len(boto3.client("sns", region_name=REGION).list_subscriptions()["Subscriptions"]) == 1


def test_a_parameter_without_default_needs_a_local_value(aws, fixture_template):
    with pytest.raises(cfn.TemplateError, match="Secret"):
        deploy(fixture_template, {}, REGION)


def test_a_condition_brings_its_resources_and_settings_in(aws, fixture_template):
    deployment = deploy(fixture_template, {"Secret": "s3cret", "Sender": "other@example.org"}, REGION)
    assert deployment.environment["EXTRA_QUEUE_URL"] == _queue_url("ExtraQueue")
    assert deployment.environment["SENDER_DOMAIN"] == "example.org"


# --- queue consumers: Lambda's semantics --------------------------------------------------------

def test_the_handler_gets_a_lambda_shaped_sqs_event_and_context(deployment):
    sqs = boto3.client("sqs", region_name=REGION)
    message_id = sqs.send_message(QueueUrl=_queue_url("WorkQueue"), MessageBody='{"outcome": "ok"}',
                                  MessageAttributes={
                                      "key_id": {"DataType": "String", "StringValue": "key_1"},
                                      "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
    assert _poller(deployment, "Worker").poll_once() == 1

    [(event, context)] = CALLS
    [record] = event["Records"]
    assert record["messageId"] == message_id
    assert record["body"] == '{"outcome": "ok"}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == deployment.queue_triggers[0].queue_arn
    assert record["awsRegion"] == REGION
    assert record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "key_id": {"stringValue": "key_1", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": base64.b64encode(b"\x00\x01").decode(), "stringListValues": [],
                 "binaryListValues": [], "dataType": "Binary"}}
    assert context.function_name == "laurel-Worker"
    assert context.memory_limit_in_mb == 256
    assert context.invoked_function_arn == f"arn:aws:lambda:{REGION}:123456789012:function:laurel-Worker"
    assert context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 2000
    assert _counts("WorkQueue") == (0, 0)


def test_a_partial_batch_failure_keeps_only_the_failed_messages(deployment):
    _send("WorkQueue", "ok", "fail", "ok")
    assert _poller(deployment, "Worker").poll_once() == 3
    assert _counts("WorkQueue") == (0, 1)  # the failed one waits for its visibility timeout


def test_an_exception_keeps_the_whole_batch(deployment):
    _send("WorkQueue", "ok", "raise", "ok")
    assert _poller(deployment, "Worker").poll_once() == 3
    assert _counts("WorkQueue") == (0, 3)


def test_a_malformed_partial_response_keeps_the_whole_batch(deployment):
    _send("WorkQueue", "ok", "bogus")
    _poller(deployment, "Worker").poll_once()
    assert _counts("WorkQueue") == (0, 2)


def test_without_report_batch_item_failures_the_answer_is_ignored(deployment):
    _send("PlainQueue", "ok", "fail")
    _poller(deployment, "Plain").poll_once()
    assert _counts("PlainQueue") == (0, 0)


def test_retry_seconds_bring_a_failed_message_back_sooner(deployment):
    [message_id] = _send("WorkQueue", "fail")
    poller = _poller(deployment, "Worker", retry_seconds=1)
    poller.poll_once()
    _wait(lambda: poller.poll_once() == 1, timeout=5)
    assert [event["Records"][0]["attributes"]["ApproximateReceiveCount"] for event, _ in CALLS] == ["1", "2"]
    assert {event["Records"][0]["messageId"] for event, _ in CALLS} == {message_id}


def test_a_message_that_always_fails_ends_in_the_dlq_after_max_receive_count(deployment):
    runtime = Runtime(deployment, retry_seconds=0)
    runtime.start()
    try:
        [message_id] = _send("WorkQueue", "raise")
        _send("WorkQueue", "ok")
        assert runtime.drain(timeout=15)
    finally:
        runtime.stop()
    sqs = boto3.client("sqs", region_name=REGION)
    [dead] = sqs.receive_message(QueueUrl=_queue_url("WorkDLQ"), MaxNumberOfMessages=10)["Messages"]
    assert dead["MessageId"] == message_id
    tries = [event for event, _ in CALLS if event["Records"][0]["messageId"] == message_id]
    assert len(tries) == 2  # maxReceiveCount
    assert _counts("WorkQueue") == (0, 0)


def test_messages_published_to_the_topic_reach_the_subscribed_consumer(deployment):
    runtime = Runtime(deployment)
    runtime.start()
    try:
        sns = boto3.client("sns", region_name=REGION)
        topic = deployment.environment["TOPIC_ARN"]
        attributes = {"channels": {"DataType": "String", "StringValue": "plain"}}
        sns.publish(TopicArn=topic, Message='{"outcome": "ok"}', MessageAttributes=attributes)
        sns.publish(TopicArn=topic, Message='{"outcome": "ok"}',
                    MessageAttributes={"channels": {"DataType": "String", "StringValue": "other"}})
        assert runtime.drain(timeout=10)
    finally:
        runtime.stop()
    [(event, _)] = CALLS
    assert event["Records"][0]["body"] == '{"outcome": "ok"}'  # raw delivery


# --- schedules and control ------------------------------------------------------------------------

def test_a_schedule_runs_on_its_rate_and_again_after_a_failure(deployment):
    runtime = Runtime(deployment, schedule_scale=600)  # rate(1 minute) every 0.1 s
    runtime.start()
    try:
        _wait(lambda: len(CALLS) >= 3, timeout=5)
    finally:
        runtime.stop()
    event, context = CALLS[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [f"arn:aws:events:{REGION}:123456789012:rule/laurel-Job-Tick"]
    assert (event["version"], event["detail"], event["region"], event["account"]) == ("0", {}, REGION,
                                                                                      "123456789012")
    assert event["time"].endswith("Z") and event["id"]
    assert context.function_name == "laurel-Job"


def test_the_control_port_runs_jobs_and_drains(deployment):
    CALLS.append(({}, None))  # so the job's first run succeeds
    runtime = Runtime(deployment)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    control = ControlServer(runtime, "127.0.0.1", port, None)
    control.start()
    try:
        base = f"http://127.0.0.1:{port}"
        assert requests.post(f"{base}/jobs/Job", timeout=10).json() == {"runs": 2}
        assert requests.post(f"{base}/jobs/Job", timeout=10).json() == {"runs": 3}
        assert requests.post(f"{base}/jobs/Worker", timeout=10).status_code == 404
        assert requests.post(f"{base}/drain", json={"timeout": 5}, timeout=10).json() == {"drained": True}
        _send("WorkQueue", "ok")  # no poller runs: the queue cannot drain
        assert requests.post(f"{base}/drain", json={"timeout": 0.5}, timeout=10).json() == {"drained": False}
    finally:
        control.stop()


# --- the real stack: `python -m local` on infra/template.yaml ----------------------------------------

def test_the_stack_answers_health(stack):
    response = requests.get(f"{stack.base_url}/v1/health", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_the_stack_created_the_templates_resources(stack):
    resources = cfn.load()["Resources"]
    table = stack.client("dynamodb").describe_table(TableName="laurel-Table")["Table"]
    assert sorted(index["IndexName"] for index in table["GlobalSecondaryIndexes"]) == ["gsi1", "gsi2", "gsi3"]

    sqs = stack.sqs()
    queues = [name for name, resource in resources.items() if resource["Type"] == "AWS::SQS::Queue"]
    for name in queues:
        url = sqs.get_queue_url(QueueName=f"laurel-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        expected = resources[name]["Properties"].get("RedrivePolicy")
        if expected:
            policy = json.loads(attributes["RedrivePolicy"])
            dlq = expected["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert policy["deadLetterTargetArn"].endswith(f":laurel-{dlq}")
            assert policy["maxReceiveCount"] == expected["maxReceiveCount"]

    sns = stack.client("sns")
    topic = next(topic["TopicArn"] for topic in sns.list_topics()["Topics"]
                 if topic["TopicArn"].endswith(":laurel-NotificationsTopic"))
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert len(subscriptions) == 2
    for subscription in subscriptions:
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
        assert json.loads(attributes["FilterPolicy"])
        assert attributes["RawMessageDelivery"] == "true"


def test_the_stack_runs_scheduled_jobs_on_request(stack):
    resources = cfn.load()["Resources"]
    scheduled = [name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"
                 and any(e["Type"] == "Schedule" for e in resource["Properties"].get("Events", {}).values())]
    assert len(scheduled) == 4
    for name in scheduled:
        stack.run_job(name)
    assert requests.post(f"{stack.control_url}/jobs/ApiFunction", timeout=10).status_code == 404
    assert stack.drain(timeout=30)


def test_ctrl_c_stops_the_stack_cleanly(launch_stack):
    private = launch_stack()
    assert private.stop() == 0
    assert "Traceback" not in private.output


def test_the_demo_data_is_made_through_the_api(launch_stack):
    seeded = launch_stack(LAUREL_SEED="1")
    assert "could not be made" not in seeded.output, seeded.output

    def printed(label: str) -> str:
        return next(line.split()[-1] for line in seeded.output.splitlines() if line.strip().startswith(label))

    balance = requests.get(f"{seeded.base_url}/v1/programs/{printed('program id')}/members/alice/balance",
                           headers={"Authorization": f"Bearer {printed('store key')}"}, timeout=10)
    assert balance.status_code == 200, balance.text
    assert balance.json()["available"] > 0
    assert printed("partner queue").endswith("/laurel-PartnerEventsQueue")
