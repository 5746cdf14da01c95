"""Member import: a file dropped in the imports bucket, the S3 notification through the real queue and
the real MemberImportFunction handler, a report per file; exactly once, a bad row never stops the rest."""
import json
import time

import boto3
import pytest

from chalicelib.core import clock, db
from chalicelib.core.transact import Retry, save_or_retry
from chalicelib.members.imports import bucket, checkpoints, member_writes, row_texts, runs, uploads
from chalicelib.members.imports.job_leases import get_job
from local.lambda_runtime import LambdaContext, load_handler, sqs_event

FUNCTION = "MemberImportFunction"


# --- helpers ------------------------------------------------------------------------------------

def drop(stack, program, name: str, body: str | bytes) -> str:
    """An admin puts a file at imports/{org_id}/{program_id}/{name}; S3 notifies the imports queue."""
    key = f"imports/{program['org_id']}/{program['id']}/{name}"
    boto3.client("s3").put_object(Bucket=stack.env["IMPORTS_BUCKET"], Key=key,
                                  Body=body.encode() if isinstance(body, str) else body)
    return key


def report(stack, program, name: str) -> dict:
    key = f"reports/{program['org_id']}/{program['id']}/{name}.report.json"
    return json.loads(boto3.client("s3").get_object(Bucket=stack.env["IMPORTS_BUCKET"], Key=key)["Body"].read())


def report_versions(stack, program, name: str) -> int:
    key = f"reports/{program['org_id']}/{program['id']}/{name}.report.json"
    answer = boto3.client("s3").list_object_versions(Bucket=stack.env["IMPORTS_BUCKET"], Prefix=key)
    return len([v for v in answer.get("Versions", []) if v["Key"] == key])


def imported(stack, program, name: str, body: str | bytes) -> dict:
    drop(stack, program, name, body)
    stack.pump(FUNCTION)
    return report(stack, program, name)


def member(api, program, external_id: str) -> dict | None:
    status, answer = api.call("GET", f"{program['path']}/members/{external_id}", program["admin"])
    return answer if status == 200 else None


def raw_member(program, external_id: str) -> dict:
    return boto3.client("dynamodb").get_item(
        TableName=db.Item.Meta.table_name, ConsistentRead=True,
        Key={"pk": {"S": db.member_pk(program["id"], external_id)}, "sk": {"S": "MEMBER"}})["Item"]


def rejected_lines(result: dict) -> dict[int, list[str]]:
    return {row["line"]: [problem["field"] for problem in row["errors"]] for row in result["rejected"]}


def pending_notifications(stack) -> list[dict]:
    return stack.queue_messages(stack.env["IMPORTS_QUEUE_URL"])


def context_with(stack, milliseconds: int) -> LambdaContext:
    """The context Lambda hands the function, with only `milliseconds` left to run."""
    context = LambdaContext(stack.deployment.functions[FUNCTION])
    context._deadline = time.monotonic() + milliseconds / 1000
    return context


def invoke(stack, messages: list[dict], context) -> dict:
    """The function called by hand on messages taken from its queue, which are then settled as Lambda would."""
    poller = stack.poller(FUNCTION)
    handler = load_handler(stack.deployment.functions[FUNCTION].handler)
    result = handler(sqs_event(messages, poller.trigger.queue_arn, "us-east-1"), context)
    failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
    sqs = boto3.client("sqs")
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=stack.env["IMPORTS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    return result


def take_notification(stack) -> dict:
    """The S3 notification waiting on the queue, received as Lambda's poller receives it (S3's test
    event, sent when the deployment configured the bucket, is deleted on the way)."""
    sqs, url = boto3.client("sqs"), stack.env["IMPORTS_QUEUE_URL"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                   MessageAttributeNames=["All"]).get("Messages", [])
    for test_event in [m for m in messages if json.loads(m["Body"]).get("Event") == "s3:TestEvent"]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=test_event["ReceiptHandle"])
        messages.remove(test_event)
    (message,) = messages
    assert "Records" in json.loads(message["Body"])
    return message


# --- the tests ----------------------------------------------------------------------------------

def test_a_csv_file_creates_updates_and_rejects_rows_each_with_its_reason(stack, api, program):
    # Given an existing member, and a CSV export with new, changed, identical and invalid rows
    api.call("PUT", f"{program['path']}/members/emp-1", program["admin"], {"email": "old@example.com", "name": "One"})
    api.call("PUT", f"{program['path']}/members/emp-2", program["admin"], {"name": "Two", "locale": "it"})
    csv_file = ("\ufeffexternal_id,email,phone,name,locale,attr.team,attr.site\r\n"  # as spreadsheets save it
                "emp-1,one@example.com,,One,,eng,\r\n"        # 2: updated (email changes, attributes set)
                "emp-2,,,Two,it,,\r\n"                        # 3: unchanged
                "emp 3,three@example.com,,Three,,,\r\n"       # 4: rejected: external_id
                "emp-4,not-an-email,12345,Four,,,\r\n"         # 5: rejected: email and phone
                "emp-5,five@example.com,+393331234567,\"Five, Jr.\",en-GB,ops,milano\r\n")  # 6: created
    # When it is dropped in the imports bucket and the function consumes the notification
    result = imported(stack, program, "hrms/2024-06.csv", csv_file)
    # Then the report counts each outcome and gives each rejected row's line, id and fields, never values
    assert result["status"] == "done"
    assert result["counts"] == {"rows": 5, "created": 1, "updated": 1, "unchanged": 1, "rejected": 2}
    assert rejected_lines(result) == {4: ["external_id"], 5: ["email", "phone"]}
    assert [row.get("external_id") for row in result["rejected"]] == [None, "emp-4"]
    assert "not-an-email" not in json.dumps(result) and "12345" not in json.dumps(result)
    # and the members are as the file says, as PUT member would have made them
    assert member(api, program, "emp-1")["email"] == "one@example.com"
    assert member(api, program, "emp-1")["attributes"] == {"team": "eng"}
    created = member(api, program, "emp-5")
    assert (created["name"], created["phone"], created["locale"], created["attributes"]) == (
        "Five, Jr.", "+393331234567", "en-GB", {"team": "ops", "site": "milano"})
    assert member(api, program, "emp 3") is None and member(api, program, "emp-4") is None
    # and the job item says the same
    job = get_job(program["id"], result["import_id"])
    assert uploads.job_view(job)["counts"] == result["counts"]
    assert (job.status, job.lease, job.report_key) == (
        "done", None, f"reports/{program['org_id']}/{program['id']}/hrms/2024-06.csv.report.json")


def test_a_jsonl_file_follows_put_member_rules_null_clears_and_absent_keeps(stack, api, program):
    # Given a member with an email and a phone, and a JSON-lines file
    api.call("PUT", f"{program['path']}/members/ada", program["admin"],
             {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada"})
    lines = [
        {"external_id": "ada", "phone": None, "attributes": {"vip": True, "since": 2019}},
        {"external_id": "bob", "name": "Bob", "nickname": "B"},
        {"external_id": "cat", "email": 42},
        "not json",
        {"external_id": "dan", "name": "Dan"},
    ]
    body = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    # When it is imported
    result = imported(stack, program, "crm.jsonl", body)
    # Then null cleared the phone, the email absent from the row was kept, attributes keep their JSON types
    assert result["counts"] == {"rows": 5, "created": 1, "updated": 1, "unchanged": 0, "rejected": 3}
    ada = member(api, program, "ada")
    assert (ada["email"], ada["phone"], ada["attributes"]) == ("ada@example.com", None, {"vip": True, "since": 2019})
    # and unknown fields, wrong types and non-JSON lines are refused as PUT member refuses them
    assert rejected_lines(result) == {2: ["nickname"], 3: ["email"], 4: ["row"]}
    assert member(api, program, "bob") is None and member(api, program, "dan")["name"] == "Dan"


def test_bad_rows_in_the_middle_never_stop_the_others(stack, api, program):
    # Given a CSV whose middle holds every kind of broken row
    attributes = ",".join(f"attr.a{n}" for n in range(51))
    empty = b"," * 51
    raw = b"\n".join([
        f"external_id,name,{attributes}".encode(),
        b"m-1,First" + empty,
        b"m-2,Too,few,fields",                                # 2: wrong number of fields
        b'm-3,"Unclosed' + empty,                             # 3: a quote that never closes
        b"m-4,Many," + b",".join(b"x" for _ in range(51)),    # 4: 51 attributes, more than PUT allows
        b"m-5," + b"N" * 201 + empty,                         # 5: a name longer than 200
        b"m-6,\xff\xfe" + empty,                              # 6: not UTF-8
        b"",                                                  # a blank line is no row
        b'm-7,"Multi\nLine"' + empty,                         # a quoted field may span lines
        b"m-8,Last" + empty,
    ]) + b"\n"
    # When it is imported
    result = imported(stack, program, "broken.csv", raw)
    # Then each broken row is rejected on its own line, and every good row before and after is imported
    assert rejected_lines(result) == {3: ["row"], 4: ["row"], 5: ["attributes"], 6: ["name"], 7: ["row"]}
    assert result["counts"]["rejected"] == 5
    assert result["counts"]["created"] == 3 and result["counts"]["rows"] == 8
    assert [member(api, program, m)["name"] for m in ("m-1", "m-7", "m-8")] == ["First", "Multi\nLine", "Last"]


def test_an_import_never_touches_a_members_balance(stack, api, program):
    # Given a member with points, lots and a tier window
    admin, path = program["admin"], program["path"]
    api.call("PUT", f"{path}/members/ada", admin, {"name": "Ada"})
    api.call("POST", f"{path}/events", admin, {"id": "order-1", "type": "purchase", "member": "ada",
                                                 "properties": {"amount": 25000}})
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 40, "reason": "goodwill"},
             {"Idempotency-Key": "import-balance"})
    before = raw_member(program, "ada")
    balance = api.call("GET", f"{path}/members/ada/balance", admin)[1]
    transactions = api.call("GET", f"{path}/members/ada/transactions", admin)[1]
    # When an import changes its profile
    result = imported(stack, program, "profile.csv", "external_id,name,email\nada,Ada Lovelace,ada@example.com\n")
    # Then only the profile moved, in its own item: the account item is exactly as it was
    assert result["counts"]["updated"] == 1
    assert raw_member(program, "ada") == before
    assert (member(api, program, "ada")["name"], member(api, program, "ada")["email"]) == (
        "Ada Lovelace", "ada@example.com")
    assert api.call("GET", f"{path}/members/ada/balance", admin)[1] == balance
    assert api.call("GET", f"{path}/members/ada/transactions", admin)[1] == transactions


def test_a_ledger_write_that_read_the_member_before_an_import_retries_rather_than_undo_it(stack, api, program):
    # Given a balance change that read a member written before the profile had its own item (the profile in the
    # account item) just before an import changed its name
    now_iso = clock.iso(clock.now())
    db.MemberItem(*db.MemberItem.key(program["id"], "ada"), org_id=program["org_id"], program_id=program["id"],
                  external_id="ada", name="Ada", created_at=now_iso, updated_at=now_iso, lots=[], earned={}).save()
    stale = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ada"))
    imported(stack, program, "rename.csv", "external_id,name\nada,Ada Lovelace\n")
    # When that change saves the member it read
    stale.available = 10
    # Then the version check refuses it (the ledger re-reads and tries again), so the new name stays
    with pytest.raises(Retry):
        save_or_retry(stale)
    assert member(api, program, "ada")["name"] == "Ada Lovelace"


def test_a_ledger_write_that_read_the_member_before_an_import_cannot_undo_it(stack, api, program):
    # Given a balance change that read the member just before an import changed its name
    api.call("PUT", f"{program['path']}/members/ada", program["admin"], {"name": "Ada"})
    stale = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ada"))
    imported(stack, program, "rename.csv", "external_id,name\nada,Ada Lovelace\n")
    # When that change saves the member it read
    stale.available = 10
    save_or_retry(stale)
    # Then the account it wrote carries no profile, so the new name stays
    assert member(api, program, "ada")["name"] == "Ada Lovelace"
    assert member(api, program, "ada")["balance"]["available"] == 10


def test_a_member_created_by_an_import_is_the_item_put_member_creates(stack, api, program):
    # Given one member created over the API and one by an import, with the same profile
    api.call("PUT", f"{program['path']}/members/by-api", program["admin"], {"name": "Same", "email": "s@example.com"})
    imported(stack, program, "same.csv", "external_id,name,email\nby-import,Same,s@example.com\n")
    # Then both items have the same attributes, with the same values but for their ids and times
    by_api, by_import = raw_member(program, "by-api"), raw_member(program, "by-import")
    assert by_api.keys() == by_import.keys()
    differing = {name for name in by_api if by_api[name] != by_import[name]}
    assert differing <= {"pk", "external_id", "created_at", "updated_at"}


def test_a_member_twice_in_a_file_ends_as_its_last_row(stack, api, program):
    # Given a file that names the same member three times
    body = "external_id,name,locale\nada,First,en\nbob,Bob,\nada,Second,\nada,Third,\n"
    # When it is imported
    result = imported(stack, program, "repeat.csv", body)
    # Then the rows apply in file order: created, then updated twice
    assert result["counts"] == {"rows": 4, "created": 2, "updated": 2, "unchanged": 0, "rejected": 0}
    assert (member(api, program, "ada")["name"], member(api, program, "ada")["locale"]) == ("Third", "en")


def test_the_same_notification_delivered_again_is_a_no_op(stack, api, program):
    # Given a file imported from its notification
    drop(stack, program, "again.csv", "external_id,name\nada,Ada\nbob,Bob\n")
    notification = take_notification(stack)
    invoke(stack, [notification], context_with(stack, 600_000))
    first = report(stack, program, "again.csv")
    updated_at = member(api, program, "ada")["updated_at"]
    # When S3 delivers the very same notification twice more
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=stack.env["IMPORTS_QUEUE_URL"], MessageBody=notification["Body"])
    assert stack.pump(FUNCTION) == 2
    # Then nothing was imported or reported again
    assert first["counts"] == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert report(stack, program, "again.csv") == first and report_versions(stack, program, "again.csv") == 1
    assert member(api, program, "ada")["updated_at"] == updated_at
    job = get_job(program["id"], first["import_id"])
    assert (job.status, job.rows, job.created) == ("done", 2, 2)


def test_a_long_file_checkpoints_and_continues_in_a_new_message_when_time_runs_low(stack, api, program, monkeypatch):
    # Given small chunks, and a file of 7 rows (one bad row early, one late)
    monkeypatch.setattr(runs, "CHUNK_ROWS", 3)
    rows = ["external_id,name", "r-1,One", "r 2,Bad", "r-3,Three", "r-4,Four", "r-5,Five", "r-6,Six",
            "r-7,Seven,extra"]
    drop(stack, program, "long.csv", "\n".join(rows) + "\n")
    notification = take_notification(stack)
    # When the function gets it with only a second left to run
    result = invoke(stack, [notification], context_with(stack, 1000))
    # Then it applied one chunk (the header and two rows), checkpointed, released the job and queued
    # its own continuation
    assert result == {"batchItemFailures": []}
    (job,) = db.ImportJobItem.query(f"PRG#{program['id']}", db.Item.sk.startswith("IMPORT#"))
    assert (job.status, job.rows, job.created, job.rejected, job.next_line, job.lease) == (
        "running", 2, 1, 1, 4, None)
    assert member(api, program, "r-1") is not None and member(api, program, "r-3") is None
    continuation = pending_notifications(stack)
    assert [json.loads(m["Body"]) for m in continuation] == [
        {"import": {"program_id": program["id"], "import_id": job.import_id}}]
    # When the continuation runs with time to spare
    stack.pump(FUNCTION)
    # Then the import finished from the checkpoint: each row once, the rejected rows of both runs reported
    final = report(stack, program, "long.csv")
    assert final["counts"] == {"rows": 7, "created": 5, "updated": 0, "unchanged": 0, "rejected": 2}
    assert rejected_lines(final) == {3: ["external_id"], 8: ["row"]}
    assert member(api, program, "r-6")["name"] == "Six"


def test_a_crashed_import_resumes_from_its_checkpoint_when_its_message_comes_back(stack, api, program, monkeypatch):
    # Given a checkpoint after every chunk of 2 rows, and a DynamoDB outage during the second chunk
    monkeypatch.setattr(runs, "CHUNK_ROWS", 2)
    monkeypatch.setattr(checkpoints, "CHECKPOINT_ROWS", 1)
    real_apply, calls = member_writes.apply, []

    def flaky_apply(org_id, program_id, chunk):
        calls.append([record.external_id for record in chunk])
        if len(calls) == 2:
            raise RuntimeError("DynamoDB is unavailable")
        return real_apply(org_id, program_id, chunk)

    monkeypatch.setattr(member_writes, "apply", flaky_apply)
    # When a 5-row file is imported (the failed message comes back at once, as Lambda retries it)
    result = imported(stack, program, "flaky.csv", "external_id,name\nc-1,A\nc-2,B\nc-3,C\nc-4,D\nc-5,E\n")
    # Then the redelivery took the job over and resumed after the first chunk, not from the start
    assert calls == [[None, "c-1"], ["c-2", "c-3"], ["c-2", "c-3"], ["c-4", "c-5"]]
    assert result["counts"] == {"rows": 5, "created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    job = get_job(program["id"], result["import_id"])
    assert job.status == "done" and job.last_error is None


@pytest.mark.parametrize("name, body, code", [
    ("members.xlsx", "external_id\nada\n", "unsupported_format"),
    ("typo.csv", "external_id,emial\nada,ada@example.com\n", "bad_header"),
    ("noid.csv", "email\nada@example.com\n", "bad_header"),
    ("quote.csv", 'external_id,"name\nada,Ada\n', "bad_header"),
])
def test_a_file_that_cannot_be_imported_as_a_whole_fails_with_a_report(stack, api, program, name, body, code):
    # Given a file with the wrong extension or a header the import does not know
    # When it is dropped
    result = imported(stack, program, name, body)
    # Then nothing is imported and the report says why
    assert (result["status"], result["error"]["code"]) == ("failed", code)
    assert result["counts"]["rows"] == 0 and member(api, program, "ada") is None
    assert get_job(program["id"], result["import_id"]).status == "failed"


def test_a_file_for_a_program_of_another_organisation_imports_nothing(stack, api, program):
    # Given a second organisation's program
    status, other = api.call("POST", "/v1/orgs", "test-root-key", {"name": "Other"})
    status, other_program = api.call("POST", "/v1/programs", other["admin_key"]["secret"], {"name": "Theirs"})
    # When a file names it under the first organisation's prefix
    key = f"imports/{program['org_id']}/{other_program['id']}/sneaky.csv"
    boto3.client("s3").put_object(Bucket=stack.env["IMPORTS_BUCKET"], Key=key, Body=b"external_id\nada\n")
    stack.pump(FUNCTION)
    # Then the import fails as an unknown program, and the other program has no member
    result = report(stack, {"org_id": program["org_id"], "id": other_program["id"]}, "sneaky.csv")
    assert result["error"]["code"] == "unknown_program"
    assert api.call("GET", f"/v1/programs/{other_program['id']}/members/ada", other["admin_key"]["secret"])[0] == 404


def test_a_message_that_is_no_import_goes_to_the_dlq_with_its_reason(stack):
    # Given a message on the imports queue that is neither an S3 notification nor a continuation
    boto3.client("sqs").send_message(QueueUrl=stack.env["IMPORTS_QUEUE_URL"], MessageBody='{"hello": "world"}')
    # When the function consumes it
    stack.pump(FUNCTION)
    # Then it is not retried but kept in the DLQ with the reason
    dead = [m for m in stack.queue_messages(stack.env["IMPORTS_DLQ_URL"]) if m["Body"] == '{"hello": "world"}']
    assert [m["MessageAttributes"]["error"]["StringValue"] for m in dead] == [
        "neither an S3 notification nor an import continuation"]
    assert pending_notifications(stack) == []


def test_rows_split_across_ranged_reads_are_read_whole(stack, api, program, monkeypatch):
    # Given reads of 7 bytes (8 MB in production) and rows of at most 40 bytes
    monkeypatch.setattr(bucket, "READ_BYTES", 7)
    monkeypatch.setattr(row_texts, "MAX_RECORD_BYTES", 40)
    body = ("external_id,name\n"
            "s-1,Short\n"
            f"s-2,{'L' * 60}\n"             # longer than 40 bytes: refused without being held whole
            's-3,"Two\nLines"\n'            # a quoted field across a line break and several reads
            "s-4,Last")                    # no newline at the end of the file
    # When it is imported
    result = imported(stack, program, "split.csv", body)
    # Then every row was read whole, across reads
    assert result["counts"] == {"rows": 4, "created": 3, "updated": 0, "unchanged": 0, "rejected": 1}
    assert rejected_lines(result) == {3: ["row"]}
    assert [member(api, program, m)["name"] for m in ("s-1", "s-3", "s-4")] == ["Short", "Two\nLines", "Last"]
