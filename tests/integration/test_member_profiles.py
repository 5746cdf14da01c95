"""A member's profile lives apart from its account: PUT member and imports write the ProfileItem only, reads take
it with the member in the same request, and a member written before the split (its profile in the account
item) reads the same and moves its profile on its next change."""

import boto3
import pytest
from given import AUDIT_APPEND
from test_member_directory import dynamodb_requests
from test_member_import import imported
from test_rules_api import program_with_rules, purchase

from chalicelib.core import clock, db
from chalicelib.core.transact import Retry, Tx
from chalicelib.members import profiles

PROFILE = {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada", "locale": "en-GB",
           "attributes": {"team": "eng", "time_zone": "Europe/London"}}


def raw(program, external_id: str, sk: str) -> dict | None:
    return boto3.client("dynamodb").get_item(
        TableName=db.Item.Meta.table_name, ConsistentRead=True,
        Key={"pk": {"S": db.member_pk(program["id"], external_id)}, "sk": {"S": sk}}).get("Item")


def legacy_member(program, external_id: str, **profile) -> db.MemberItem:
    """A member as Laurel wrote it before the split: its profile in the account item, and no ProfileItem."""
    now_iso = clock.iso(clock.now())
    member = db.MemberItem(*db.MemberItem.key(program["id"], external_id), org_id=program["org_id"],
                           program_id=program["id"], external_id=external_id, created_at=now_iso,
                           updated_at=now_iso, lots=[], earned={}, **profile)
    member.save()
    return member




def get_member(api, program, external_id: str) -> dict:
    status, answer = api.call("GET", f"{program['path']}/members/{external_id}", program["admin"])
    assert status == 200
    return answer


def test_a_member_written_before_the_split_reads_its_profile_as_it_was(stack, api, program):
    # Given a member in the old layout, with points
    legacy_member(program, "ada", **PROFILE)
    # When it is read
    answer = get_member(api, program, "ada")
    # Then its profile is the one its account item carries
    assert {name: answer[name] for name in PROFILE} == PROFILE


def test_the_rules_test_the_attributes_of_a_member_written_before_the_split(stack, api):
    # Given a program whose coffee points exclude staff, and a staff member written in the old layout
    program = program_with_rules(api)
    legacy_member(program, "sam", attributes={"department": "staff"})
    # When it buys tea
    # Then the rule reads its attributes from the account item: the welcome bonus only, no coffee points
    assert purchase(api, program, "s-1", member="sam", category="tea", amount=1000) == 100


def test_a_legacy_profile_moves_to_its_profile_item_with_the_members_next_balance_change(stack, api, program):
    # Given a member in the old layout, and what a GET answers for it
    legacy_member(program, "ada", **PROFILE)
    before = get_member(api, program, "ada")
    # When a balance change writes the account, staging `profiles.migrate` as the account does
    member = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ada"))
    member.available = 10
    tx = Tx()
    profiles.migrate(member, tx)
    tx.put("member", member)
    tx.commit()
    # Then the profile is in its ProfileItem, the account item no longer carries it, and reads are the same
    account, profile = raw(program, "ada", "MEMBER"), raw(program, "ada", "PROFILE")
    assert not set(PROFILE) & set(account)
    assert db.ProfileItem.from_raw_data(profile).attributes == PROFILE["attributes"]
    assert {name: getattr(db.ProfileItem.from_raw_data(profile), name) for name in PROFILE} == PROFILE
    after = get_member(api, program, "ada")
    assert {**after, "balance": None, "updated_at": None} == {**before, "balance": None, "updated_at": None}
    assert after["balance"]["available"] == 10
    # and a member without legacy fields stages nothing more
    tx = Tx()
    profiles.migrate(db.get(db.MemberItem, db.MemberItem.key(program["id"], "ada")), tx)
    assert tx._ops == {"check": [], "delete": [], "put": [], "update": []}


def test_a_balance_change_that_read_a_legacy_member_before_its_profile_moved_retries(stack, api, program):
    # Given a balance change that read a legacy member, before PUT member moved and changed its profile
    legacy_member(program, "ada", **PROFILE)
    stale = db.get(db.MemberItem, db.MemberItem.key(program["id"], "ada"))
    api.call("PUT", f"{program['path']}/members/ada", program["admin"], {"name": "Ada Lovelace"})
    # When the change writes the account, with the move of the profile it read
    stale.available = 10
    tx = Tx()
    profiles.migrate(stale, tx)
    tx.put("member", stale)
    # Then the member's version refuses it (the change reads again), and the new profile stays
    with pytest.raises(Retry):
        tx.commit()
    assert get_member(api, program, "ada")["name"] == "Ada Lovelace"


def test_put_member_writes_the_profile_item_only(stack, api, program):
    # Given a member with points and a profile
    admin, path = program["admin"], program["path"]
    api.call("PUT", f"{path}/members/ada", admin, {"name": "Ada"})
    api.call("POST", f"{path}/events", admin, {"id": "o-1", "type": "purchase", "member": "ada",
                                                 "properties": {"amount": 25000}})
    account = raw(program, "ada", "MEMBER")
    # When PUT member changes its profile
    status, answer = api.call("PUT", f"{path}/members/ada", admin, {"email": "ada@example.com", "name": None,
                                                                     "attributes": {"team": "eng"}})
    # Then the account item is exactly as it was, and the profile item holds the change
    assert status == 200
    assert raw(program, "ada", "MEMBER") == account
    profile = db.ProfileItem.from_raw_data(raw(program, "ada", "PROFILE"))
    assert (profile.email, profile.name, profile.attributes, profile.version) == (
        "ada@example.com", None, {"team": "eng"}, 2)
    assert (answer["email"], answer["name"], answer["updated_at"]) == ("ada@example.com", None, profile.updated_at)
    assert answer["balance"]["available"] == 250


def test_put_member_on_a_legacy_member_moves_its_profile(stack, api, program):
    # Given a member in the old layout
    legacy_member(program, "ada", **PROFILE)
    # When PUT member changes one field
    api.call("PUT", f"{program['path']}/members/ada", program["admin"], {"locale": "it"})
    # Then the whole profile, changed, is in its ProfileItem and no longer in the account
    assert not set(PROFILE) & set(raw(program, "ada", "MEMBER"))
    assert {name: get_member(api, program, "ada")[name] for name in PROFILE} == {**PROFILE, "locale": "it"}


def test_a_member_enrolled_by_an_event_has_no_profile_item_until_one_is_set(stack, api, program):
    # Given a member enrolled by its first event
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "s-1", "type": "signup", "member": "bea"})
    # Then it has an account and no profile
    assert raw(program, "bea", "MEMBER") is not None and raw(program, "bea", "PROFILE") is None
    assert get_member(api, program, "bea")["email"] is None
    # and PUT member gives it one, leaving the account as it was
    account = raw(program, "bea", "MEMBER")
    api.call("PUT", f"{program['path']}/members/bea", program["admin"], {"email": "bea@example.com"})
    assert raw(program, "bea", "MEMBER") == account
    assert get_member(api, program, "bea")["email"] == "bea@example.com"


def test_reads_take_the_profile_in_the_same_request(stack, api, program):
    # Given a member with a profile and points
    api.call("PUT", f"{program['path']}/members/ada", program["admin"], {"name": "Ada"})
    # When the member and its balance are read
    with dynamodb_requests() as member_reads:
        assert get_member(api, program, "ada")["name"] == "Ada"
    with dynamodb_requests() as balance_reads:
        api.call("GET", f"{program['path']}/members/ada/balance", program["admin"])
    # Then each is one request: program, account and profile in one BatchGetItem (and the staff read's audit
    # record); the balance without the profile
    assert member_reads == ["BatchGetItem", *AUDIT_APPEND]
    assert balance_reads == ["BatchGetItem"]


def test_an_import_writes_profiles_apart_from_accounts(stack, api, program):
    # Given a member in the old layout, one with an account only, and one with both
    legacy_member(program, "old", name="Old", email="old@example.com")
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "s-2", "type": "signup", "member": "acc"})
    api.call("PUT", f"{program['path']}/members/both", program["admin"], {"name": "Both"})
    accounts = {name: raw(program, name, "MEMBER") for name in ("acc", "both")}
    # When a file changes each, and creates one more
    result = imported(stack, program, "split.csv",
                      "external_id,name,locale\nold,Older,\nacc,Account,it\nboth,Both,en\nnew,New,\n")
    # Then every profile is in its ProfileItem, and no account item carries one
    assert result["counts"] == {"rows": 4, "created": 1, "updated": 3, "unchanged": 0, "rejected": 0}
    for name, expected in {"old": ("Older", None, "old@example.com"), "acc": ("Account", "it", None),
                           "both": ("Both", "en", None), "new": ("New", None, None)}.items():
        assert not set(PROFILE) & set(raw(program, name, "MEMBER"))
        profile = db.ProfileItem.from_raw_data(raw(program, name, "PROFILE"))
        assert (profile.name, profile.locale, profile.email) == expected
        answer = get_member(api, program, name)
        assert (answer["name"], answer["locale"], answer["email"]) == expected
    # and the accounts that had moved their profile already are untouched
    assert {name: raw(program, name, "MEMBER") for name in ("acc", "both")} == accounts


def test_a_profile_created_by_an_import_is_the_item_put_member_creates(stack, api, program):
    # Given one member created over the API and one by an import, with the same profile
    api.call("PUT", f"{program['path']}/members/by-api", program["admin"], {"name": "Same", "email": "s@example.com"})
    imported(stack, program, "same-profile.csv", "external_id,name,email\nby-import,Same,s@example.com\n")
    # Then both profile items have the same attributes, with the same values but for their ids and times
    by_api, by_import = raw(program, "by-api", "PROFILE"), raw(program, "by-import", "PROFILE")
    assert by_api.keys() == by_import.keys()
    differing = {name for name in by_api if by_api[name] != by_import[name]}
    assert differing <= {"pk", "external_id", "created_at", "updated_at"}
