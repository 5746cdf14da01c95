"""infra/template.yaml holds what docs/architecture.md promises, configured to fail safely."""

import re
from typing import Any, Iterator

from infra.package import ROOT, SOURCE_TEMPLATE
from infra_support import cfn_lint_errors, functions, referenced, resources_of

ARCHITECTURE = ROOT / "docs" / "architecture.md"
QUEUE_TYPE = "AWS::SQS::Queue"


def doc_table(heading: str) -> list[list[str]]:
    """The body rows of the table under `## heading` in docs/architecture.md."""
    section = ARCHITECTURE.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines()
            if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM policy statement anywhere in the template."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def test_source_template_passes_cfn_lint():
    """A template error should fail here, not halfway through a deployment."""
    # Given the hand-written template
    # When cfn-lint checks it against the CloudFormation and SAM schemas
    errors = cfn_lint_errors(SOURCE_TEMPLATE)
    # Then it reports no errors
    assert errors == []


def test_functions_handlers_and_triggers_are_those_of_the_architecture(source_template):
    """The doc is the contract the other packages are written against."""
    # Given the functions table of docs/architecture.md
    rows = doc_table("Functions")
    declared = functions(source_template)
    # Then the template declares exactly those functions
    assert {ticked(row[0])[0] for row in rows} == set(declared)
    for id_cell, handler_cell, trigger in rows:
        properties = declared[ticked(id_cell)[0]]
        events = list(properties.get("Events", {}).values())
        # with their handler
        assert properties["Handler"] == ticked(handler_cell)[0]
        # and trigger: routes are added from app.py when packaging, so none here
        if trigger.startswith("HTTP API"):
            assert events == []
        elif trigger.startswith("schedule"):
            assert events == [{"Type": "Schedule", "Properties": {"Schedule": ticked(trigger)[0]}}]
        elif trigger.startswith("stream"):
            table, response_type, destination = ticked(trigger)
            (event,) = events
            assert event["Type"] == "DynamoDB"
            assert event["Properties"]["Stream"] == {"Fn::GetAtt": [table, "StreamArn"]}
            assert event["Properties"]["BatchSize"] == int(re.search(r"batch (\d+)", trigger)[1])
            assert event["Properties"]["FunctionResponseTypes"] == [response_type]
            assert event["Properties"]["BisectBatchOnFunctionError"] is True
            assert event["Properties"]["MaximumRetryAttempts"] == int(re.search(r"(\d+) retries", trigger)[1])
            assert event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
                "Fn::GetAtt": [destination, "Arn"]}
        else:
            queue, response_type = ticked(trigger)
            concurrency = re.search(r"at most (\d+) at once", trigger)
            assert events == [{"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": [queue, "Arn"]},
                "BatchSize": int(re.search(r"batch (\d+)", trigger)[1]),
                "FunctionResponseTypes": [response_type],
                **({"ScalingConfig": {"MaximumConcurrency": int(concurrency[1])}} if concurrency else {})}}]


def test_broadcasts_pace_for_as_many_slices_as_may_run_at_once(source_template):
    """Each slice publishes at BROADCAST_SENDS_PER_SECOND / WORKERS, so the total holds only if no more run."""
    from chalicelib.messaging import broadcasts

    # Given the broadcast function's queue trigger
    (event,) = functions(source_template)["BroadcastFunction"]["Events"].values()
    # Then at most WORKERS slices run at once
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == broadcasts.WORKERS


def test_table_indexes_are_those_of_the_architecture(source_template):
    """Queries by index fail at runtime if an index or its projection differs from the doc."""
    # Given the table's indexes
    table = source_template["Resources"]["Table"]["Properties"]
    indexes = {
        index["IndexName"]: ([key["AttributeName"] for key in index["KeySchema"]],
                             index["Projection"]["ProjectionType"])
        for index in table["GlobalSecondaryIndexes"]
    }
    # Then they are the doc's, name, keys and projection
    assert indexes == {ticked(name)[0]: (ticked(keys), projection)
                       for name, keys, projection, _ in doc_table("The table")}


def test_every_documented_setting_reaches_every_function(source_template):
    """Settings are read from the environment when used; a missing one fails at runtime."""
    # Given the settings of the doc that deployments have (not the local-only ones)
    rows = doc_table("Settings (environment variables, read when used)")
    documented = {name for names, meaning in rows if not meaning.startswith("local only")
                  for name in ticked(names)}
    # Then the environment every function gets has them all
    environment = source_template["Globals"]["Function"]["Environment"]["Variables"]
    assert documented <= set(environment)


def test_every_queue_dead_letters_into_a_dlq_that_keeps_messages_two_weeks(source_template):
    """A message that keeps failing must be parked for inspection, not lost or retried forever."""
    # Given the queues, split into those that dead-letter and their DLQs
    queues = {name: r["Properties"] for name, r in resources_of(source_template, QUEUE_TYPE).items()}
    sources = {name: p for name, p in queues.items() if "RedrivePolicy" in p}
    dlqs = {referenced(p["RedrivePolicy"]["deadLetterTargetArn"]) for p in sources.values()}
    # (a stream's on-failure destination is a DLQ too: Lambda parks there what it gave up on)
    dlqs |= {referenced(event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
             for function in functions(source_template).values() for event in function.get("Events", {}).values()
             if event["Type"] == "DynamoDB"}
    # Then every work queue redrives after 5 receives into its own DLQ
    assert set(sources) == {"PartnerEventsQueue", "FulfilmentQueue", "EmailQueue", "SmsQueue", "ImportsQueue",
                            "TierReviewQueue", "WebhooksQueue", "BroadcastQueue", "InboundSmsQueue"}
    assert len(dlqs) == len(sources) + 1 and set(queues) == set(sources) | dlqs
    assert all(p["RedrivePolicy"]["maxReceiveCount"] == 5 for p in sources.values())
    # and DLQs keep messages the longest SQS allows, everything encrypted
    assert all(queues[name]["MessageRetentionPeriod"] == 1209600 for name in dlqs)
    assert all(p["SqsManagedSseEnabled"] is True for p in queues.values())


def test_handlers_know_the_redrive_limits(source_template):
    """The handlers act on the last try, which they recognise by *_MAX_RECEIVES."""
    # Given the environment and the redrive policies
    environment = source_template["Globals"]["Function"]["Environment"]["Variables"]
    queues = source_template["Resources"]
    # Then the settings equal the queues' maxReceiveCount
    for setting, queue in (("PARTNER_EVENTS_MAX_RECEIVES", "PartnerEventsQueue"),
                           ("FULFILMENT_MAX_RECEIVES", "FulfilmentQueue"),
                           ("WEBHOOKS_MAX_RECEIVES", "WebhooksQueue"),
                           ("NOTIFICATIONS_MAX_RECEIVES", "EmailQueue"), ("NOTIFICATIONS_MAX_RECEIVES", "SmsQueue")):
        redrive = queues[queue]["Properties"]["RedrivePolicy"]
        assert environment[setting] == str(redrive["maxReceiveCount"])


def test_queue_consumers_report_partial_failures_and_cannot_outlive_visibility(source_template):
    """Without ReportBatchItemFailures one bad message retries its whole batch; a visibility
    timeout shorter than 6 x the function timeout delivers messages twice (AWS guidance)."""
    # Given every SQS event source
    queues = source_template["Resources"]
    for name, function in functions(source_template).items():
        for event in function.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = queues[referenced(event["Properties"]["Queue"])]["Properties"]
            # Then it reports failed items and its queue outlasts six function timeouts
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            assert queue["VisibilityTimeout"] >= 6 * function["Timeout"], name


def test_table_is_retained_recoverable_and_encrypted(source_template):
    """The ledger is the one thing that cannot be rebuilt."""
    # Given the table
    table = source_template["Resources"]["Table"]
    # Then a stack deletion or replacement keeps it, it has point-in-time recovery,
    # encryption at rest and expiry on `ttl`
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_notifications_fan_out_by_channel_from_the_topic_only(source_template):
    """Each delivery queue gets its channel's notifications, and nobody else may write to it."""
    # Given the notifications topic's subscriptions and the policies of the queues subscribed
    subscriptions = [s for s in resources_of(source_template, "AWS::SNS::Subscription").values()
                     if s["Properties"]["TopicArn"] == {"Ref": "NotificationsTopic"}]
    subscribed = {referenced(s["Properties"]["Endpoint"]) for s in subscriptions}
    policies = [p for p in resources_of(source_template, "AWS::SQS::QueuePolicy").values()
                if {referenced(q) for q in p["Properties"]["Queues"]} & subscribed]
    # Then each queue gets its channel, raw
    routed = {(referenced(s["Properties"]["Endpoint"]),
               tuple(s["Properties"]["FilterPolicy"]["channels"])) for s in subscriptions}
    assert routed == {("EmailQueue", ("email",)), ("SmsQueue", ("sms",))}
    assert all(s["Properties"]["RawMessageDelivery"] is True for s in subscriptions)
    # and only the notifications topic may send to it
    for policy in policies:
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "NotificationsTopic"}}}
    assert {referenced(q) for p in policies for q in p["Properties"]["Queues"]} == {
        "EmailQueue", "SmsQueue"}


def test_sms_replies_reach_their_queue_from_the_sms_service_only(source_template):
    """Only the account's SMS service may publish replies, and only their topic may feed the STOP queue."""
    resources = source_template["Resources"]
    # Given the inbound SMS topic's policy, its subscription and the queue's policy
    (publish,) = resources["InboundSmsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (subscription,) = [s["Properties"] for s in resources_of(source_template, "AWS::SNS::Subscription").values()
                       if s["Properties"]["TopicArn"] == {"Ref": "InboundSmsTopic"}]
    (deliver,) = resources["InboundSmsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    # Then the SMS service of this account publishes, the queue gets every reply raw, from that topic only
    assert publish["Principal"] == {"Service": "sms-voice.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert referenced(subscription["Endpoint"]) == "InboundSmsQueue" and subscription["RawMessageDelivery"] is True
    assert "FilterPolicy" not in subscription
    assert deliver["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "InboundSmsTopic"}}}


def test_only_the_broadcast_and_tier_review_functions_may_scan_the_table(source_template):
    """A Scan reads every item: only the two sweeps of a program's members may (chalicelib/core/db.py says why):
    a broadcast, whose pace bounds it, and the tier review after a program's tiers change."""
    scanners = {name for name, function in functions(source_template).items()
                for statement in statements(function.get("Policies", []))
                if "dynamodb:Scan" in ([statement["Action"]] if isinstance(statement["Action"], str)
                                       else statement["Action"])}
    assert scanners == {"BroadcastFunction", "TierReviewFunction"}


def test_no_iam_statement_allows_every_action(source_template):
    """Least privilege: each function names the actions it needs."""
    # Given every policy statement and managed policy in the template
    found = list(statements(source_template))
    managed = [p for f in functions(source_template).values()
               for p in f.get("Policies", []) if isinstance(p, str)]
    # Then none grants "*" or a whole service (denying them is fine), and none is inverted
    assert found
    for statement in found:
        assert "NotAction" not in statement, statement
        if statement["Effect"] == "Deny":
            continue
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action != "*" and not action.endswith(":*"), statement
    assert managed == []


def test_every_dlq_and_function_raises_an_alarm(source_template):
    """A dead-lettered message or a crashing function needs a human."""
    # Given the alarms
    alarms = [a["Properties"] for a in resources_of(source_template, "AWS::CloudWatch::Alarm").values()]
    watched = {(a["MetricName"], referenced(a["Dimensions"][0]["Value"])) for a in alarms}
    queues = resources_of(source_template, QUEUE_TYPE)
    dlqs = {name for name, q in queues.items() if "RedrivePolicy" not in q["Properties"]}
    # Then every DLQ alarms on a visible message and every function on an error
    assert watched == ({("ApproximateNumberOfMessagesVisible", q) for q in dlqs}
                       | {("Errors", f) for f in functions(source_template)})
    assert all(a["Threshold"] == 0 and a["ComparisonOperator"] == "GreaterThanThreshold"
               and a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_imports_bucket_is_private_expiring_and_notifies_only_the_imports_queue(source_template):
    """Member files hold personal data: nobody but the stack's own roles reads them, over TLS only, and
    they do not outlive the import; only their own bucket can enqueue imports."""
    resources = source_template["Resources"]
    bucket = resources["ImportsBucket"]["Properties"]
    # Then the bucket blocks public access, encrypts, keeps each upload's version, and expires what it holds
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert {r.get("Prefix"): r.get("ExpirationInDays") for r in rules if "Prefix" in r} == {
        "imports/": 30, "reports/": 90, "work/": 7}
    assert any(r.get("NoncurrentVersionExpiration") for r in rules)
    # and it tells the imports queue, and only it, of files created under imports/
    (notification,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert referenced(notification["Queue"]) == "ImportsQueue"
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "imports/"}]
    # and the queue accepts messages from S3 only for this bucket (named, not Ref'd, so no cycle)
    (statement,) = resources["ImportsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"][0] == (
        "arn:${AWS::Partition}:s3:::" + bucket["BucketName"]["Fn::Sub"][0])
    assert resources["ImportsBucket"]["DependsOn"] == "ImportsQueuePolicy"
    # and the bucket refuses plain HTTP
    (tls,) = resources["ImportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def s3_grants(source_template, function: str) -> dict[str, list[str]]:
    """A function's S3 actions, each with the resources it is allowed on (Fn::Sub text or GetAtt attribute)."""
    (policy,) = functions(source_template)[function]["Policies"]
    grants: dict[str, list[str]] = {}
    for statement in policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in (a for a in actions if str(a).startswith("s3:")):
            assert statement["Effect"] == "Allow"
            grants[action] = sorted(r["Fn::Sub"] if "Fn::Sub" in r else r["Fn::GetAtt"][1] for r in resources)
    return grants


def test_member_import_reads_imports_and_writes_reports_only(source_template):
    """The import function may read what admins drop and write what they read back, nothing else."""
    # Given the import function's S3 statements
    grants = s3_grants(source_template, "MemberImportFunction")
    # Then it reads imports/ and its own work/, writes reports/ and work/, and may only list (to tell a
    # deleted file from a forbidden one)
    assert grants == {
        "s3:GetObject": ["${ImportsBucket.Arn}/imports/*", "${ImportsBucket.Arn}/work/*"],
        "s3:GetObjectVersion": ["${ImportsBucket.Arn}/imports/*", "${ImportsBucket.Arn}/work/*"],
        "s3:PutObject": ["${ImportsBucket.Arn}/reports/*", "${ImportsBucket.Arn}/work/*"],
        "s3:ListBucket": ["Arn"],
    }


def test_the_api_may_sign_uploads_to_imports_and_downloads_of_reports_only(source_template):
    """A presigned URL can do what its signer may: the API signs PUTs of new files and GETs of reports,
    so its role may do exactly that (never read a member file, nor touch work/)."""
    assert s3_grants(source_template, "ApiFunction") == {
        "s3:PutObject": ["${ImportsBucket.Arn}/imports/*"],
        "s3:GetObject": ["${ImportsBucket.Arn}/reports/*"],
    }
    # and it knows the bucket (a setting every function gets)
    assert referenced(source_template["Globals"]["Function"]["Environment"]["Variables"]["IMPORTS_BUCKET"]) == (
        "ImportsBucket")
