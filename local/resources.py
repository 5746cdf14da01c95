"""Creates the template's tables (and their streams), queues, topics, subscriptions, buckets and KMS keys on the AWS endpoint, and describes
the functions (settings, queue triggers, schedules) exactly as the deployed stack would see them.

Creation is idempotent (a resource that already exists is reused and brought in line with the
template), so `make run` works against an emulator that outlives it.
"""
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local import template as cfn

log = logging.getLogger("local.resources")

_QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                     "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy")
_TABLE_ARGUMENTS = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput")
_INDEX_ARGUMENTS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
_SUBSCRIPTION_ATTRIBUTES = ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# Lambda's defaults when neither the function nor Globals say otherwise.
_DEFAULT_TIMEOUT = 3
_DEFAULT_MEMORY = 128
_DEFAULT_BATCH_SIZE = 10
_DEFAULT_STREAM_BATCH_SIZE = 100


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str
    arn: str
    handler: str  # dotted path, e.g. functions.partner_events.handler
    timeout: int
    memory_size: int
    environment: dict[str, str]


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source mapping."""
    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB stream event source mapping, with Lambda's retry settings."""
    function: Function
    stream_arn: str
    batch_size: int
    report_batch_item_failures: bool
    bisect_on_error: bool
    max_retries: int  # -1: until the record expires from the stream, as on AWS
    on_failure_queue_url: str | None  # an SQS on-failure destination: the batch's record info goes there


@dataclass(frozen=True)
class ScheduleTrigger:
    """An EventBridge schedule; `interval` is None for cron expressions (run on demand only)."""
    function: Function
    expression: str
    interval: float | None
    rule_arn: str


@dataclass(frozen=True)
class Deployment:
    region: str
    account: str
    functions: dict[str, Function]
    queue_triggers: list[QueueTrigger]
    schedules: dict[str, ScheduleTrigger]  # by function logical id
    environment: dict[str, str]  # every function's settings (all functions share one local process)
    stream_triggers: list[StreamTrigger] = field(default_factory=list)


def rate_seconds(expression: str) -> float | None:
    match = _RATE.fullmatch(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class _Stack:
    """Creates resources on demand, so a reference (a DLQ's ARN in a redrive policy) creates its target first."""

    def __init__(self, template: dict, parameters: dict[str, Any], region: str) -> None:
        self.template = template
        self.region = region
        self.resources: dict[str, dict] = template.get("Resources", {})
        self._sqs = boto3.client("sqs", region_name=region)
        self._sns = boto3.client("sns", region_name=region)
        self._dynamodb = boto3.client("dynamodb", region_name=region)
        self._s3 = boto3.client("s3", region_name=region)
        self._kms = boto3.client("kms", region_name=region)
        self.account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        pseudo = {"AWS::Region": region, "AWS::AccountId": self.account, "AWS::StackName": cfn.STACK_NAME,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                  "AWS::StackId": f"arn:aws:cloudformation:{region}:{self.account}:stack/{cfn.STACK_NAME}/local"}
        self.resolver = cfn.Resolver(template, self._parameter_values(parameters), pseudo,
                                     self.ref, self.get_att)
        self._created: dict[str, tuple[Any, dict[str, Any]]] = {}  # logical id -> (Ref value, attributes)
        self._creating: set[str] = set()
        self._creators = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::S3::Bucket": self._bucket,
            "AWS::KMS::Key": self._kms_key,
            "AWS::Serverless::Function": self._function,
        }

    def _parameter_values(self, overrides: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for name, spec in self.template.get("Parameters", {}).items():
            if name not in overrides and "Default" not in spec:
                raise cfn.TemplateError(f"parameter {name} has no default and no local value")
            values[name] = overrides.get(name, spec.get("Default"))
        return values

    def physical_name(self, logical_id: str, explicit: Any = None) -> str:
        return explicit or f"{cfn.STACK_NAME}-{logical_id}"

    def deploy_all(self) -> None:
        for logical_id, resource in self.resources.items():
            if resource["Type"] in self._creators and self.included(logical_id):
                self.ref(logical_id)
        skipped = sorted({r["Type"] for r in self.resources.values() if r["Type"] not in self._creators})
        log.debug("not emulated locally: %s", ", ".join(skipped))

    def included(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(condition)

    def ref(self, logical_id: str) -> Any:
        return self._create(logical_id)[0]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attributes = self._create(logical_id)[1]
        if attribute not in attributes:
            raise cfn.TemplateError(f"the local stack does not know !GetAtt {logical_id}.{attribute}")
        return attributes[attribute]

    def _create(self, logical_id: str) -> tuple[Any, dict[str, Any]]:
        if logical_id in self._created:
            return self._created[logical_id]
        if logical_id not in self.resources:
            raise cfn.TemplateError(f"!Ref {logical_id}: no such parameter or resource")
        if not self.included(logical_id):
            raise cfn.TemplateError(f"{logical_id} is referenced but its condition is false")
        resource = self.resources[logical_id]
        creator = self._creators.get(resource["Type"])
        if creator is None:  # e.g. an HTTP API or a queue policy: a stable name is all a reference needs
            return self.physical_name(logical_id), {}
        if logical_id in self._creating:
            raise cfn.TemplateError(f"circular reference through {logical_id}")
        self._creating.add(logical_id)
        try:
            self._created[logical_id] = creator(logical_id, resource.get("Properties", {}))
        finally:
            self._creating.discard(logical_id)
        return self._created[logical_id]

    def _table(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        props = self.resolver.resolve(properties)
        name = self.physical_name(logical_id, props.get("TableName"))
        arguments = {key: props[key] for key in _TABLE_ARGUMENTS if key in props}
        if props.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = [
                {key: index[key] for key in _INDEX_ARGUMENTS if key in index}
                for index in props["GlobalSecondaryIndexes"]]
        try:
            self._dynamodb.create_table(TableName=name, **arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
        self._dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        log.info("table %s ready", name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            current = self._dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                self._dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
        table = self._stream(name, props.get("StreamSpecification"))
        return name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn")}

    def _stream(self, name: str, specification: dict | None) -> dict:
        """Turn the table's stream on as the template says (also on a table an earlier run created without it)."""
        table = self._dynamodb.describe_table(TableName=name)["Table"]
        if specification and not table.get("StreamSpecification", {}).get("StreamEnabled"):
            self._dynamodb.update_table(TableName=name, StreamSpecification={
                "StreamEnabled": True, "StreamViewType": specification["StreamViewType"]})
            table = self._dynamodb.describe_table(TableName=name)["Table"]
        return table

    def _queue(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        props = self.resolver.resolve(properties)
        name = self.physical_name(logical_id, props.get("QueueName"))
        attributes = {key: cfn.as_env_string(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        try:
            url = self._sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self._sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        log.info("queue %s ready", name)
        return url, {"Arn": arn, "QueueUrl": url, "QueueName": name}

    def _topic(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        props = self.resolver.resolve(properties)
        name = self.physical_name(logical_id, props.get("TopicName"))
        arn = self._sns.create_topic(Name=name)["TopicArn"]
        return arn, {"TopicArn": arn, "TopicName": name}

    def _subscription(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        props = self.resolver.resolve(properties)
        arn = self._sns.subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                                  Endpoint=props["Endpoint"], ReturnSubscriptionArn=True)["SubscriptionArn"]
        # Set one by one: subscribing again with different attributes is an error on AWS.
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key in props:
                self._sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=key,
                                                      AttributeValue=cfn.as_env_string(props[key]))
        return arn, {}

    def _bucket(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        """The bucket, its versioning and its notifications to queues (what changes behaviour locally;
        encryption, public access and lifecycle rules are AWS's to enforce)."""
        props = self.resolver.resolve(properties)
        name = self.physical_name(logical_id, props.get("BucketName")).lower()
        try:
            arguments = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            self._s3.create_bucket(Bucket=name, **arguments)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        status = props.get("VersioningConfiguration", {}).get("Status")
        if status:
            self._s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        notifications = props.get("NotificationConfiguration", {})
        if notifications.get("LambdaConfigurations") or notifications.get("TopicConfigurations"):
            log.warning("%s: only notifications to SQS queues are emulated locally", logical_id)
        queues = [{"QueueArn": rule["Queue"], "Events": [rule["Event"]],
                   **({"Filter": {"Key": {"FilterRules": rule["Filter"]["S3Key"]["Rules"]}}}
                      if rule.get("Filter", {}).get("S3Key") else {})}
                  for rule in notifications.get("QueueConfigurations", [])]
        if queues:
            self._s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": queues})
        log.info("bucket %s ready", name)
        return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                      "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com"}

    def _kms_key(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        """The key, found again by an alias named after it (a key has no name of its own), so data it
        encrypted on an emulator that outlives `make run` stays readable (its key policy is AWS's to enforce)."""
        props = self.resolver.resolve(properties)
        alias = f"alias/{self.physical_name(logical_id)}"
        try:
            key_id = self._kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NotFoundException":
                raise
            key_id = self._kms.create_key(
                Description=props.get("Description", ""), KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"))["KeyMetadata"]["KeyId"]
            self._kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        if cfn.as_env_string(props.get("EnableKeyRotation", False)) == "true":
            self._kms.enable_key_rotation(KeyId=key_id)
        arn = self._kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        log.info("key %s ready", alias)
        return key_id, {"Arn": arn, "KeyId": key_id}

    def _function(self, logical_id: str, properties: dict) -> tuple[Any, dict]:
        """Functions run in this process, not on the emulator: a reference gets what a deployment gives."""
        name = self.physical_name(logical_id, self.resolver.resolve(properties.get("FunctionName")))
        return name, {"Arn": f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"}


def deploy(template: dict, parameters: dict[str, Any], region: str) -> Deployment:
    """Create every resource the template defines and read its functions' settings and triggers."""
    stack = _Stack(template, parameters, region)
    stack.deploy_all()
    queues_by_arn = {stack.get_att(logical_id, "Arn"): stack.ref(logical_id)
                     for logical_id, resource in stack.resources.items()
                     if resource["Type"] == "AWS::SQS::Queue" and stack.included(logical_id)}
    defaults = template.get("Globals", {}).get("Function", {})
    deployment = Deployment(region=region, account=stack.account, functions={}, queue_triggers=[], schedules={},
                            environment={})
    for logical_id, resource in stack.resources.items():
        if resource["Type"] == "AWS::Serverless::Function" and stack.included(logical_id):
            properties = cfn.merge_globals(defaults, resource.get("Properties", {}))
            function = _function(stack, logical_id, properties)
            deployment.functions[logical_id] = function
            for key, value in function.environment.items():
                if deployment.environment.get(key, value) != value:
                    log.warning("%s differs between functions; locally all share %s=%s", key, key, value)
                deployment.environment[key] = value
            for event_name, event in properties.get("Events", {}).items():
                _add_trigger(deployment, stack, function, event_name, event, queues_by_arn)
    return deployment


def _function(stack: _Stack, logical_id: str, properties: dict) -> Function:
    variables = stack.resolver.resolve(properties.get("Environment", {}).get("Variables", {}))
    return Function(
        logical_id=logical_id,
        name=stack.ref(logical_id),
        arn=stack.get_att(logical_id, "Arn"),
        handler=properties["Handler"],
        timeout=int(stack.resolver.resolve(properties.get("Timeout", _DEFAULT_TIMEOUT))),
        memory_size=int(stack.resolver.resolve(properties.get("MemorySize", _DEFAULT_MEMORY))),
        environment={key: cfn.as_env_string(value) for key, value in variables.items()},
    )


def _add_trigger(deployment: Deployment, stack: _Stack, function: Function, event_name: str, event: dict,
                 queues_by_arn: dict[str, str]) -> None:
    """SQS, DynamoDB stream and Schedule events; HttpApi events are the API server's, and exist only once packaged."""
    properties = stack.resolver.resolve(event.get("Properties", {}))
    if cfn.as_env_string(properties.get("Enabled", True)) != "true":
        return
    if event["Type"] == "SQS":
        deployment.queue_triggers.append(QueueTrigger(
            function=function,
            queue_url=queues_by_arn[properties["Queue"]],
            queue_arn=properties["Queue"],
            batch_size=int(properties.get("BatchSize", _DEFAULT_BATCH_SIZE)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        ))
    elif event["Type"] == "Schedule":
        interval = rate_seconds(properties["Schedule"])
        if interval is None:
            log.warning("%s: %s does not run on a timer locally; run it with POST /jobs/%s on the control port",
                        function.logical_id, properties["Schedule"], function.logical_id)
        deployment.schedules[function.logical_id] = ScheduleTrigger(
            function=function,
            expression=properties["Schedule"],
            interval=interval,
            rule_arn=f"arn:aws:events:{deployment.region}:{deployment.account}:rule/{function.name}-{event_name}",
        )
    elif event["Type"] == "DynamoDB":
        if properties["StartingPosition"] != "TRIM_HORIZON":
            raise cfn.TemplateError(f"{function.logical_id}: the local stack reads streams from TRIM_HORIZON only")
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        deployment.stream_triggers.append(StreamTrigger(
            function=function,
            stream_arn=properties["Stream"],
            batch_size=int(properties.get("BatchSize", _DEFAULT_STREAM_BATCH_SIZE)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            bisect_on_error=cfn.as_env_string(properties.get("BisectBatchOnFunctionError", False)) == "true",
            max_retries=int(properties.get("MaximumRetryAttempts", -1)),
            on_failure_queue_url=queues_by_arn[destination] if destination else None,
        ))


def verify_email_sender(region: str, sender: str) -> None:
    """SES (and moto's SES) only sends from a verified identity."""
    boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=sender)
