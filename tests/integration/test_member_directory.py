"""A program's member directory: every member however enrolled, newest first and paged, filtered by tier and
attribute, searched by email or phone through keyed-hash lookup items (never the plain value), by external id or
name prefix; another organisation finds nothing."""
import os
import uuid
from contextlib import contextmanager
from urllib.parse import quote

import boto3
import pytest
from given import AUDIT_APPEND
from test_member_import import imported

from chalicelib.core import aws, db


@pytest.fixture
def other_program(api) -> dict:
    """A second organisation's program and admin key."""
    status, org = api.call("POST", "/v1/orgs", os.environ["LAUREL_ROOT_KEY"], {"name": f"Other {uuid.uuid4().hex[:6]}"})
    assert status == 201
    admin = org["admin_key"]["secret"]
    status, created = api.call("POST", "/v1/programs", admin, {"name": "Other Club"})
    assert status == 201
    return {"org_id": org["id"], "admin": admin, "id": created["id"], "path": f"/v1/programs/{created['id']}"}


def members(api, program, key=None, **query) -> tuple[int, dict]:
    text = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in query.items())
    return api.call("GET", f"{program['path']}/members" + (f"?{text}" if text else ""), key or program["admin"])


def ids(answer: dict) -> list[str]:
    return [item["external_id"] for item in answer["items"]]


def put(api, program, external_id: str, **profile) -> dict:
    status, answer = api.call("PUT", f"{program['path']}/members/{external_id}", program["admin"], profile)
    assert status in (200, 201), answer
    return answer


def earn(api, program, external_id: str, event_id: str, amount: int = 0) -> None:
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"],
                              {"id": event_id, "type": "purchase", "member": external_id,
                               "properties": {"amount": amount}})
    assert status in (200, 201), answer


def lookup_items(program) -> list[dict]:
    """Every lookup item of the program (a test's own Scan, every page: the table holds every test's items)."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(
        TableName=db.Item.Meta.table_name, FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": f"LOOKUP#{program['id']}#"}})
    return [item for page in pages for item in page["Items"]]


@contextmanager
def dynamodb_requests():
    """The names of the DynamoDB requests made inside the block, on the table's client and the shared one."""
    made: list[str] = []
    clients = [db.connection().client, aws.client("dynamodb")]

    def count(model, **_):
        made.append(model.name)

    for client in clients:
        client.meta.events.register("before-call.dynamodb", count)
    try:
        yield made
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", count)


def test_every_member_is_listed_newest_first_and_paged_however_enrolled(stack, api, program):
    # Given members enrolled by PUT member, by an event (a mistyped id) and by an import
    put(api, program, "ada", name="Ada", email="ada@example.com")
    earn(api, program, "bea-typo", "e-1", 1000)
    imported(stack, program, "dir.csv", "external_id,name\ncy,Cy\n")
    put(api, program, "dee", name="Dee")
    # When the directory is read two at a time
    status, first = members(api, program, limit=2)
    assert status == 200
    status, second = members(api, program, limit=2, cursor=first["next_cursor"])
    # Then every member is there once, newest first
    assert ids(first) + ids(second) == ["dee", "cy", "bea-typo", "ada"]
    assert second["next_cursor"] is None
    bea = second["items"][0]
    assert bea == {"external_id": "bea-typo", "name": None, "email": None, "phone": None, "attributes": None,
                   "tier": None, "status": "active", "balance": {"available": 10, "pending": 0, "lifetime_earned": 10,
                                             "lifetime_spent": 0}, "created_at": bea["created_at"]}


def test_an_earn_of_an_existing_member_writes_nothing_for_the_directory(stack, api, program):
    # Given a member enrolled by its first event, which filed it in the directory
    earn(api, program, "eve", "e-1")
    entry = boto3.client("dynamodb").get_item(TableName=db.Item.Meta.table_name, Key={
        "pk": {"S": db.member_pk(program["id"], "eve")}, "sk": {"S": db.DIRECTORY_SK}})["Item"]
    assert entry["gsi1pk"]["S"] == f"MEMBERS#{program['id']}" and entry["gsi2sk"]["S"] == "eve"
    # When it earns again
    with dynamodb_requests() as made:
        earn(api, program, "eve", "e-2", 500)
    # Then the earn is its usual read and one transaction, and it has still no profile item
    assert made == ["BatchGetItem", "TransactWriteItems"]
    assert boto3.client("dynamodb").get_item(TableName=db.Item.Meta.table_name, Key={
        "pk": {"S": db.member_pk(program["id"], "eve")}, "sk": {"S": db.PROFILE_SK}}).get("Item") is None


def test_an_email_search_is_case_insensitive_and_takes_two_requests(stack, api, program):
    # Given two members sharing an email, and another
    put(api, program, "ada", email="Ada@Example.com")
    put(api, program, "ada-work", email="ada@EXAMPLE.com")
    put(api, program, "bob", email="bob@example.com")
    # When the directory is searched by the email in another case
    with dynamodb_requests() as made:
        status, found = members(api, program, email="ADA@example.COM")
    # Then both are found, in two requests: the lookup's Query, and the program with the members
    assert status == 200 and ids(found) == ["ada", "ada-work"]
    assert made == ["Query", "BatchGetItem", *AUDIT_APPEND]  # and the staff read's audit record
    # and no lookup item holds the plain value
    assert lookup_items(program) and not any("example" in str(item) for item in lookup_items(program))


@pytest.mark.parametrize("sent", ["+393331234567", "+39 333 123 4567", "0039-333-123-4567", "(+39) 333.123.4567",
                                  " 393331234567"])
def test_a_phone_search_takes_the_ways_people_write_a_phone(stack, api, program, sent):
    put(api, program, "ada", phone="+393331234567")
    put(api, program, "bob", phone="+14155550100")
    status, found = members(api, program, phone=sent)
    assert status == 200 and ids(found) == ["ada"]


def test_a_changed_email_drops_its_old_lookup(stack, api, program):
    # Given a member found by its email
    put(api, program, "ada", email="ada@example.com", name="Ada")
    assert ids(members(api, program, email="ada@example.com")[1]) == ["ada"]
    # When its email changes, then is cleared
    put(api, program, "ada", email="ada@new.example.com")
    # Then the old email finds nobody, the new one finds it, and one lookup item is left
    assert ids(members(api, program, email="ada@example.com")[1]) == []
    assert ids(members(api, program, email="ada@new.example.com")[1]) == ["ada"]
    assert len(lookup_items(program)) == 1
    put(api, program, "ada", email=None)
    assert ids(members(api, program, email="ada@new.example.com")[1]) == [] and lookup_items(program) == []


def test_prefixes_of_external_id_and_name(stack, api, program):
    put(api, program, "emp-001", name="Ada Lovelace")
    put(api, program, "emp-002", name="adam Smith")
    put(api, program, "ext-001", name="Bob")
    earn(api, program, "emp-0O3", "e-1")  # mistyped: a letter O, enrolled by its event
    assert ids(members(api, program, external_id_prefix="emp-0")[1]) == ["emp-001", "emp-002", "emp-0O3"]
    assert ids(members(api, program, name_prefix="ADA")[1]) == ["emp-001", "emp-002"]
    assert ids(members(api, program, name_prefix="ada ")[1]) == ["emp-001"]
    # a name changed leaves the old name's prefix
    put(api, program, "emp-002", name="Zed")
    assert ids(members(api, program, name_prefix="ada")[1]) == ["emp-001"]
    assert ids(members(api, program, name_prefix="ada", external_id_prefix="ext")[1]) == []


def test_tier_and_attribute_filters_combine(stack, api, program):
    put(api, program, "ada", attributes={"team": "eng", "remote": True})
    put(api, program, "bob", attributes={"team": "eng"})
    put(api, program, "cy", attributes={"team": "sales"})
    earn(api, program, "ada", "e-1", 200_000)  # 2,000 points: Silver
    earn(api, program, "cy", "e-2", 200_000)
    assert ids(members(api, program, attribute="team:eng")[1]) == ["bob", "ada"]
    assert ids(members(api, program, tier="Silver")[1]) == ["cy", "ada"]
    assert ids(members(api, program, tier="Silver", attribute="team:eng")[1]) == ["ada"]
    assert ids(members(api, program, attribute="remote:true")[1]) == ["ada"]
    # a sparse filter pages on with a cursor, and every match comes once
    first = members(api, program, attribute="team:eng", limit=1)[1]
    assert ids(first) == ["bob"]
    assert ids(members(api, program, attribute="team:eng", limit=1, cursor=first["next_cursor"])[1]) == ["ada"]


@pytest.mark.parametrize("query, field", [
    ({"team": "eng"}, "team"),
    ({"tier": "Platinum"}, "tier"),
    ({"attribute": "team"}, "attribute"),
    ({"attribute": ":eng"}, "attribute"),
    ({"email": "not-an-email"}, "email"),
    ({"phone": "3331234567"}, "phone"),
    ({"external_id_prefix": "emp 1"}, "external_id_prefix"),
    ({"name_prefix": ""}, "name_prefix"),
    ({"limit": "0"}, "limit"),
])
def test_an_unknown_filter_or_a_bad_value_is_a_400_that_says_how(stack, api, program, query, field):
    status, answer = members(api, program, **query)
    assert status == 400
    assert answer["error"]["details"]["field"] == field and answer["error"]["code"] == "validation_error"


def test_a_cursor_of_other_filters_is_refused(stack, api, program):
    put(api, program, "ada", name="Ada")
    put(api, program, "bob", name="Bob")
    cursor = members(api, program, limit=1)[1]["next_cursor"]
    status, answer = members(api, program, limit=1, name_prefix="a", cursor=cursor)
    assert status == 400 and answer["error"]["details"]["field"] == "cursor"


def test_another_organisation_finds_nothing(stack, api, program, other_program):
    put(api, program, "ada", email="ada@example.com")
    # Another organisation's admin, on this program: 404 as for a member
    status, _ = members(api, program, other_program["admin"])
    assert status == 404
    status, _ = members(api, program, other_program["admin"], email="ada@example.com")
    assert status == 404
    # and its own program, with the same email, has none of this program's members
    assert ids(members(api, other_program, email="ada@example.com")[1]) == []


def test_a_member_session_cannot_list_the_members(stack, api, program):
    put(api, program, "ada", name="Ada")
    status, session = api.call("POST", f"{program['path']}/members/ada/sessions", program["admin"],
                               {"ttl_seconds": 600})
    assert status == 201
    status, _ = members(api, program, session["token"])
    assert status == 403


def _as_before_the_directory(program, external_id: str) -> None:
    """Undo what the directory added to a member: as a member written by the release before it."""
    client, table = boto3.client("dynamodb"), db.Item.Meta.table_name
    pk = db.member_pk(program["id"], external_id)
    client.delete_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": db.DIRECTORY_SK}})
    if client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": db.PROFILE_SK}}).get("Item"):
        client.update_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": db.PROFILE_SK}},
                           UpdateExpression="REMOVE gsi3pk, gsi3sk")
    for item in lookup_items(program):
        if item["sk"]["S"] == external_id:
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_the_one_off_job_files_the_members_written_before_the_directory(stack, api, program):
    from test_member_profiles import legacy_member

    from chalicelib.core import clock
    from chalicelib.members import migration

    # Given members of the release before: one enrolled by an event, one with a profile, one in the old layout
    earn(api, program, "by-event", "e-1", 300)
    put(api, program, "with-profile", name="Wanda", email="wanda@example.com", phone="+14155550100")
    for name in ("by-event", "with-profile"):
        _as_before_the_directory(program, name)
    legacy_member(program, "legacy", name="Lee", email="Lee@Example.com")
    assert ids(members(api, program)[1]) == [] and lookup_items(program) == []
    answers = {name: api.call("GET", f"{program['path']}/members/{name}", program["admin"])[1]
               for name in ("by-event", "with-profile", "legacy")}
    # When the operator starts the job, twice, and its worker runs
    for _ in range(2):
        migration.plan()
    stack.pump("TierReviewFunction")
    # Then every member is listed and found, and reads the same as before
    assert sorted(ids(members(api, program)[1])) == ["by-event", "legacy", "with-profile"]
    assert ids(members(api, program, email="wanda@EXAMPLE.com")[1]) == ["with-profile"]
    assert ids(members(api, program, phone="+1 415 555 0100")[1]) == ["with-profile"]
    assert ids(members(api, program, email="lee@example.com")[1]) == ["legacy"]
    assert ids(members(api, program, name_prefix="w")[1]) == ["with-profile"]
    assert ids(members(api, program, external_id_prefix="by-")[1]) == ["by-event"]
    for name, answer in answers.items():
        assert api.call("GET", f"{program['path']}/members/{name}", program["admin"])[1] == answer
    # and a second run finds nothing left to write
    assert migration.rewrite_member((db.member_pk(program["id"], "with-profile"), "MEMBER"), clock.now()) is False


def test_an_import_keeps_the_directory_as_put_member_does(stack, api, program):
    # Given a member with an email, one enrolled by an event, and a file that changes both and creates one
    put(api, program, "ada", email="ada@example.com", name="Ada")
    earn(api, program, "bob", "e-1")
    result = imported(stack, program, "dir-change.csv",
                      "external_id,name,email,phone\nada,Ada L,ada@new.example.com,\n"
                      "bob,Bob,bob@example.com,+14155550100\ncy,Cy,cy@example.com,\n")
    assert result["counts"]["rejected"] == 0
    # Then the directory and its lookups follow the file
    assert ids(members(api, program, email="ada@example.com")[1]) == []
    assert ids(members(api, program, email="ada@new.example.com")[1]) == ["ada"]
    assert ids(members(api, program, phone="+14155550100")[1]) == ["bob"]
    assert ids(members(api, program, email="cy@example.com")[1]) == ["cy"]
    assert ids(members(api, program, name_prefix="ada l")[1]) == ["ada"]
    assert sorted(ids(members(api, program)[1])) == ["ada", "bob", "cy"]
    assert len(lookup_items(program)) == 4
