"""The audit trail: what it records (and what not), the chain that shows an edit or a deletion, who may read it."""
import csv
import io
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import boto3
import pytest

from bench import capacity
from chalicelib.core import audit, clock, db
from chalicelib.core.db.audit_items import AuditHeadItem, AuditRecordItem

EMAIL = "ada.lovelace@example.com"


def records(api, key, query=""):
    status, page = api.call("GET", f"/v1/audit{query}", key)
    assert status == 200, page
    return page["items"]


def raw_chain(org_id):
    table = boto3.client("dynamodb", region_name="us-east-1")
    found = table.query(TableName=db.Item.Meta.table_name, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": f"AUDIT#{org_id}"}}, ConsistentRead=True)["Items"]
    return found


def verify(api, key, query=""):
    status, answer = api.call("GET", f"/v1/audit/verify{query}", key)
    assert status == 200, answer
    return answer


@pytest.fixture
def ada(api, program):
    """Ada, a member with an email, enrolled by the admin; her session."""
    path, admin = program["path"], program["admin"]
    assert api.call("PUT", f"{path}/members/ada", admin, {"name": "Ada", "email": EMAIL})[0] == 201
    status, session = api.call("POST", f"{path}/members/ada/sessions", admin, {"ttl_seconds": 600})
    assert status == 201
    return session["token"]


def auditor_key(api, program):
    status, key = api.call("POST", "/v1/api-keys", program["admin"], {"name": "auditor", "role": "auditor"})
    assert status == 201
    return key


def test_writes_and_staff_reads_of_personal_data_are_recorded_with_ids_only(api, program, ada):
    path, admin = program["path"], program["admin"]
    assert api.call("GET", f"{path}/members/ada", admin)[0] == 200
    assert api.call("GET", f"{path}/members", admin)[0] == 200
    assert api.call("GET", f"{path}/members/ada/messages", admin)[0] == 200
    assert api.call("POST", f"{path}/rewards", admin, {"name": "x"})[0] == 400  # a refused write is recorded too

    found = records(api, admin)
    assert [record["action"] for record in found] == [
        "POST /v1/programs/{program_id}/rewards", "GET /v1/programs/{program_id}/members/{external_id}/messages",
        "GET /v1/programs/{program_id}/members", "GET /v1/programs/{program_id}/members/{external_id}",
        "POST /v1/programs/{program_id}/members/{external_id}/sessions",
        "PUT /v1/programs/{program_id}/members/{external_id}", "POST /v1/programs", "POST /v1/orgs"]
    assert [record["seq"] for record in found] == list(range(8, 0, -1))
    refused, read = found[0], found[3]
    assert refused["status"] == 400 and refused["target"] == {"program_id": ""}  # unchecked ids: names only
    assert read["status"] == 200 and read["target"] == {"program_id": program["id"], "external_id": "ada"}
    assert read["actor"]["kind"] == "key" and read["actor"]["role"] == "admin"
    assert read["source_ip"] and read["request_id"]
    assert found[-1]["actor"] == {"kind": "root", "id": "root"}
    assert EMAIL not in json.dumps(raw_chain(program["org_id"])), "a record holds ids only, never a body"


def test_an_earn_a_balance_read_and_a_member_reading_itself_add_no_record(api, program, ada):
    path, admin = program["path"], program["admin"]
    before = len(raw_chain(program["org_id"]))
    assert api.call("POST", f"{path}/events", admin, {"id": "e1", "type": "signup", "member": "ada"})[0] == 201
    assert api.call("GET", f"{path}/members/ada/balance", admin)[0] == 200
    assert api.call("GET", f"{path}/members/ada", ada)[0] == 200
    assert api.call("GET", f"{path}/members/ada/transactions", ada)[0] == 200
    assert len(raw_chain(program["org_id"])) == before
    assert api.call("PUT", f"{path}/members/ada/preferences", ada, {"email": {"marketing": False}})[0] == 200
    (change,) = records(api, admin, "?limit=1")
    assert change["actor"] == {"kind": "member", "id": "ada", "program_id": program["id"]}
    assert change["action"] == "PUT /v1/programs/{program_id}/members/{external_id}/preferences"


def test_the_chain_verifies_and_shows_an_edited_record(api, program, ada):
    admin = program["admin"]
    answer = verify(api, admin)
    assert answer["ok"] and answer["checked"] == answer["head_seq"] == 4 and answer["first_break"] is None
    item = db.get(AuditRecordItem, AuditRecordItem.key(program["org_id"], 2))
    item.update(actions=[AuditRecordItem.status.set(500)])  # someone with table access rewrites an outcome
    answer = verify(api, admin)
    assert not answer["ok"] and answer["first_break"]["seq"] == 2 and answer["first_break"]["reason"] == "edited"
    fields = audit._fields(item)  # ... and its hash too: the next record no longer follows it
    item.update(actions=[AuditRecordItem.hash.set(audit.digest(fields))])
    assert verify(api, admin)["first_break"]["reason"] == "unlinked"


def test_the_chain_shows_a_deleted_record_in_the_middle_or_at_the_end(api, program, ada):
    admin, org_id = program["admin"], program["org_id"]
    db.get(AuditRecordItem, AuditRecordItem.key(org_id, 2)).delete()
    answer = verify(api, admin)
    assert not answer["ok"] and answer["first_break"] == {
        "seq": 2, "reason": "missing", "message": "Records 2 to 2 were removed before their expiry."}

    other = _org(api)
    assert api.call("POST", "/v1/programs", other["admin"], {"name": "P"})[0] == 201
    db.get(AuditRecordItem, AuditRecordItem.key(other["org_id"], 2)).delete()  # the last one (head says 2)
    answer = verify(api, other["admin"])
    assert not answer["ok"] and answer["first_break"]["reason"] == "missing" and answer["first_break"]["seq"] == 2


def test_records_past_their_retention_may_go_and_the_chain_still_holds(api, program, monkeypatch):
    org_id, admin = program["org_id"], program["admin"]
    long_ago = clock.now() - timedelta(days=401)
    monkeypatch.setattr(clock, "now", lambda: long_ago)
    audit.append(org_id, {"kind": "root", "id": "root"}, "POST /v1/test", {}, "r1", None, 200)  # seq 3, expired
    monkeypatch.undo()
    audit.append(org_id, {"kind": "root", "id": "root"}, "POST /v1/test", {}, "r2", None, 200)  # seq 4
    for seq in (1, 2, 3):  # what TTL removes: records 1 and 2 expire in 400 days, but 3 before them here
        db.get(AuditRecordItem, AuditRecordItem.key(org_id, seq)).delete()
    answer = verify(api, admin)
    assert answer["ok"] and answer["expired_before_seq"] == 4 and answer["checked"] == 1

    other = _org(api)  # the same removal before the expiry is a deletion
    db.get(AuditRecordItem, AuditRecordItem.key(other["org_id"], 1)).delete()
    assert verify(api, other["admin"])["first_break"]["reason"] == "missing"


def test_concurrent_appends_keep_one_chain(api, program):
    org_id = program["org_id"]

    def append(number):
        return audit.append(org_id, {"kind": "key", "id": f"k{number}", "role": "admin"}, "POST /v1/test",
                            {"n": str(number)}, f"r{number}", None, 200)

    with ThreadPoolExecutor(8) as pool:
        seqs = list(pool.map(append, range(40)))
    assert sorted(seqs) == list(range(3, 43))  # the org's creation and its program were 1 and 2
    answer = verify(api, program["admin"])
    assert answer["ok"] and answer["checked"] == 42 == answer["head_seq"]


def test_an_auditor_reads_the_trail_and_changes_nothing(api, program, ada):
    path, admin = program["path"], program["admin"]
    auditor = auditor_key(api, program)["secret"]
    assert api.call("GET", "/v1/org", auditor)[0] == 200
    assert api.call("GET", "/v1/audit", auditor)[0] == 200
    assert verify(api, auditor)["ok"]
    assert api.call("GET", "/v1/audit/settings", auditor) == (200, {"retention_days": 400})
    refused = [("PUT", "/v1/audit/settings", {"retention_days": 90}), ("POST", "/v1/programs", {"name": "P"}),
               ("PUT", f"{path}/members/bob", {}), ("DELETE", f"/v1/api-keys/{auditor_key(api, program)['id']}", None),
               ("GET", f"{path}/members/ada", None), ("GET", f"{path}/members", None), ("GET", path, None)]
    for method, where, body in refused:
        status, answer = api.call(method, where, auditor, body)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), (method, where)
    attempt = records(api, admin, "?action=PUT%20/v1/audit/settings")
    assert [(record["status"], record["actor"]["role"]) for record in attempt] == [(403, "auditor")]


def test_the_trail_is_queried_by_actor_target_action_and_time_and_paged_newest_first(api, program, ada):
    path, admin, org_id = program["path"], program["admin"], program["org_id"]
    status, key = api.call("POST", "/v1/api-keys", admin, {"name": "store", "role": "store"})
    store = key["secret"]
    for member in ("bob", "cy"):
        assert api.call("PUT", f"{path}/members/{member}", admin, {"name": member})[0] == 201
    assert api.call("GET", f"{path}/members/bob", store)[0] == 200
    everything = records(api, admin, "?limit=100")
    assert [r["seq"] for r in everything] == sorted((r["seq"] for r in everything), reverse=True)

    by_store = records(api, admin, f"?actor={key['id']}")
    assert [(r["action"], r["target"]["external_id"]) for r in by_store] == [
        ("GET /v1/programs/{program_id}/members/{external_id}", "bob")]
    on_bob = records(api, admin, "?target=bob")
    assert [r["seq"] for r in on_bob] == [r["seq"] for r in everything if r["target"].get("external_id") == "bob"]
    puts = records(api, admin, "?action=PUT%20/v1/programs/%7Bprogram_id%7D/members/%7Bexternal_id%7D")
    assert [r["target"]["external_id"] for r in puts] == ["cy", "bob", "ada"]
    middle = everything[2]["at"]
    since = records(api, admin, f"?from={middle}&limit=100")
    assert since == [r for r in everything if r["at"] >= middle]
    until = records(api, admin, f"?to={middle}&limit=100")
    assert until == [r for r in everything if r["at"] <= middle]
    assert api.call("GET", "/v1/audit?from=yesterday", admin)[0] == 400

    pages, cursor = [], None
    while True:
        status, page = api.call("GET", "/v1/audit?limit=3" + (f"&cursor={cursor}" if cursor else ""), admin)
        assert status == 200 and len(page["items"]) <= 3
        pages += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == everything
    assert str(org_id) not in (cursor or "")


def test_the_trail_exports_as_csv(api, program, ada):
    admin = program["admin"]
    response = api.client.http.request("GET", "/v1/audit?format=csv", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.body.decode())))
    assert rows[0] == list(audit.SHEET_COLUMNS)
    assert [int(row[0]) for row in rows[1:]] == [4, 3, 2, 1]
    assert rows[1][6] == "POST /v1/programs/{program_id}/members/{external_id}/sessions"
    assert json.loads(rows[1][7]) == {"external_id": "ada", "program_id": program["id"]}
    assert "X-Next-Cursor" not in response.headers


def test_an_organisation_sees_its_own_trail_only(api, program, ada):
    other = _org(api)
    theirs = records(api, other["admin"], "?limit=100")
    assert {r["action"] for r in theirs} == {"POST /v1/orgs"}
    assert verify(api, other["admin"])["head_seq"] == 1
    status, page = api.call("GET", "/v1/audit?limit=1", program["admin"])
    assert page["next_cursor"]
    status, refused = api.call("GET", f"/v1/audit?limit=1&cursor={page['next_cursor']}", other["admin"])
    assert (status, refused["error"]["code"]) == (400, "validation_error")


def test_retention_is_the_organisations_and_each_record_carries_its_expiry(api, program):
    admin, org_id = program["admin"], program["org_id"]
    first = db.get(AuditRecordItem, AuditRecordItem.key(org_id, 1))
    assert abs((first.ttl - clock.now()) - timedelta(days=400)) < timedelta(minutes=5)
    assert api.call("PUT", "/v1/audit/settings", admin, {"retention_days": 90}) == (200, {"retention_days": 90})
    assert api.call("PUT", "/v1/audit/settings", admin, {"retention_days": 7})[0] == 400
    setting = db.get(AuditRecordItem, AuditRecordItem.key(org_id, 3))  # the PUT that set it
    assert abs((setting.ttl - clock.now()) - timedelta(days=90)) < timedelta(minutes=5)
    assert verify(api, admin)["ok"]


def test_an_audited_call_adds_one_head_read_and_four_write_units(api, program):
    """What the trail costs each audited call: a GetItem of the head and a transaction of two small items."""
    table = boto3.client("dynamodb", region_name="us-east-1")
    org_id = program["org_id"]
    assert api.call("PUT", f"{program['path']}/members/a-rather-long-member-id-of-sixty-characters-0123456789abcd",
                    program["admin"], {"name": "Long"})[0] == 201
    head = table.get_item(TableName=db.Item.Meta.table_name, Key={"pk": {"S": f"AUDIT#{org_id}"},
                                                                  "sk": {"S": "HEAD"}})["Item"]
    record = table.get_item(TableName=db.Item.Meta.table_name, Key={"pk": {"S": f"AUDIT#{org_id}"},
                                                                    "sk": {"S": "REC#000000000003"}})["Item"]
    writes = sum(capacity.write_units(capacity.item_size(item), transactional=True) for item in (head, record))
    reads = capacity.read_units(capacity.item_size(head), consistent=True)
    assert (writes, reads) == (4, 1), (capacity.item_size(head), capacity.item_size(record))


def _org(api):
    status, org = api.call("POST", "/v1/orgs", os.environ["LAUREL_ROOT_KEY"], {"name": f"Org {uuid.uuid4().hex[:6]}"})
    assert status == 201
    return {"org_id": org["id"], "admin": org["admin_key"]["secret"]}


def test_the_head_item_is_the_chains_end(api, program):
    head = db.get(AuditHeadItem, AuditHeadItem.key(program["org_id"]))
    last = db.get(AuditRecordItem, AuditRecordItem.key(program["org_id"], int(head.seq)))
    assert head.hash == last.hash and int(head.seq) == 2


def test_concurrent_appends_under_dynamodbs_contention_rules_keep_one_chain(api, program, capsys):
    """The head is the organisation's hot item: with the strict emulator (a transaction holds its items for 5 ms,
    as DynamoDB's commit does), appends that meet one in flight are cancelled and retried, never forked."""
    from chalicelib.core import transact
    from local import strict_dynamodb

    org_id = program["org_id"]
    transact.tally.take()
    strict_dynamodb.enable(commit_ms=5)
    try:
        with ThreadPoolExecutor(8) as pool:
            seqs = list(pool.map(lambda n: audit.append(org_id, {"kind": "root", "id": "root"}, "POST /v1/test", {},
                                                        f"r{n}", None, 200), range(40)))
        conflicts = strict_dynamodb.counters()["transaction_conflicts"]
    finally:
        strict_dynamodb.disable()
    retries = transact.tally.take()
    assert sorted(seqs) == list(range(3, 43)) and retries["exhausted"] == 0
    assert conflicts > 0 and retries["retried"] > 0  # the contention was real, and absorbed by retries
    assert verify(api, program["admin"])["ok"]
    with capsys.disabled():
        print(f"\naudit head, 8 threads x 5 appends, 5 ms commits: {conflicts} transaction conflicts, "
              f"{retries['retried']} retries, 0 lost")
