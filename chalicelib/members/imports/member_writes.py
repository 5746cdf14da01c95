"""A chunk of rows applied to the program's members as PUT member would apply each, at the pace of a bulk
file: the chunk's members read in BatchGetItems of 100 keys (each member's account and profile keys, only
their profile fields and versions), then written in parallel, and nothing for a row the member already
matches.

A row writes the member's profile (chalicelib/members/profiles.py), never its account: an existing member
gets one UpdateItem of its ProfileItem that SETs/REMOVEs only the fields given (creating the item if the member
had none yet), so a balance change, which writes only the account, can never put back an old profile. A new
member is the account `account.new_member` makes (a PutItem conditional on the key being new, so the shape is
the API's, with its directory entry: one transaction), then its ProfileItem (another). A member whose profile is
still in the legacy fields of its account moves it:
one transaction puts the ProfileItem (conditional on it being new) and removes those fields on the condition
of the version read, so a ledger transaction that read the member before re-reads instead of putting back the
old profile. The requests are built here from validated values and sent on the table's own client (pynamodb's:
no client-side parameter validation, a quarter of each request's CPU; DynamoDB still validates them, and a
refusal rejects the row).

Every profile write keeps the member's place in the directory as PUT member's does (chalicelib/members/profiles.py):
the name index keys in the profile item, and the email and phone lookups it gains and loses
(chalicelib/members/lookups.py). The update of an existing profile is conditional on the version read; when its
email or phone changes, it is one transaction with those lookups; a lost race reads the member again."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

from botocore.exceptions import ClientError

from chalicelib.core import clock, db, settings
from chalicelib.members import account, directory_keys, lookups
from chalicelib.members.imports.member_rows import Record, profile_fields
from chalicelib.members.imports.row_texts import problem

BATCH_GET = 100  # DynamoDB's BatchGetItem limit (keys: two a member)
# Concurrent member requests per import (botocore clients are thread-safe; the table's client keeps
# pynamodb's default pool of 10 connections, one per writer).
WRITERS = 10
THROTTLE_TRIES = 8  # on top of botocore's own retries: a bulk import may outrun on-demand capacity
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}
_ATTRIBUTES = db.ProfileItem.get_attributes()  # the legacy fields of a member item have the same names and types
_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


@dataclass(frozen=True)
class Stored:
    """A member as read: its profile (raw attributes), its ProfileItem's version (None: it has none) and, while that
    profile is still in the legacy fields of its account item, that item's version and creation time."""

    profile: dict
    profile_version: Optional[int] = None
    legacy_version: Optional[int] = None
    created_at: Optional[str] = None


UNKNOWN = Stored({})  # the member exists but was not read

Outcome = tuple[str, Optional[list[dict]]]  # ("created" | "updated" | "unchanged" | "rejected", problems)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="member-import")
        return _pool


def _dynamodb():
    """The table's own botocore client (the one pynamodb sends every item request on)."""
    return db.connection().client


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))


def _throttled(call: Callable[[], Any]) -> Any:
    """Retry what DynamoDB refused for capacity, with capped jittered backoff, after botocore's own tries."""
    for attempt in range(THROTTLE_TRIES):
        try:
            return call()
        except ClientError as error:
            if _error_code(error) not in _THROTTLED or attempt == THROTTLE_TRIES - 1:
                raise
            _back_off(attempt)
    raise AssertionError("unreachable")


def _written(request: Callable[[], Any]) -> bool:
    """Send a conditional write: False when its condition failed, True once written."""
    try:
        _throttled(request)
    except ClientError as error:
        if _error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _raw(name: str, value: Any) -> dict:
    attribute = _ATTRIBUTES[name]
    return {attribute.attr_type: attribute.serialize(value)}


def _same(current: dict, changes: dict) -> bool:
    """Whether the stored profile already is what the row says (values compared, not JSON text)."""
    for name, value in changes.items():
        attribute = _ATTRIBUTES[name]
        stored = current.get(attribute.attr_name)
        if value is None or stored is None:
            if value is not None or stored is not None:
                return False
        elif attribute.deserialize(stored[attribute.attr_type]) != value:
            return False
    return True


def _after(current: dict, changes: dict) -> dict:
    state = dict(current)
    for name, value in changes.items():
        attr_name = _ATTRIBUTES[name].attr_name
        if value is None:
            state.pop(attr_name, None)
        else:
            state[attr_name] = _raw(name, value)
    return state


def read_members(program_id: str, external_ids: list[str]) -> dict[str, Optional[Stored]]:
    """Each member as stored, None when absent: BatchGetItems of 100 keys at once."""
    per_batch = BATCH_GET // 2
    batches = [external_ids[i:i + per_batch] for i in range(0, len(external_ids), per_batch)]
    accounts: dict[str, dict] = {}
    profiles: dict[str, dict] = {}
    prefix = db.member_pk(program_id, "")
    for items in _executor().map(_batch_get, [[db.member_pk(program_id, e) for e in batch] for batch in batches]):
        for item in items:
            external_id = item["pk"]["S"][len(prefix):]
            (profiles if item["sk"]["S"] == "PROFILE" else accounts)[external_id] = item
    return {external_id: _stored(accounts.get(external_id), profiles.get(external_id))
            for external_id in external_ids}


def _stored(account_item: Optional[dict], profile_item: Optional[dict]) -> Optional[Stored]:
    if account_item is None:
        return None
    if profile_item is not None:  # where reads take the profile from first (db.profile_of)
        return Stored(_profile_part(profile_item), int(profile_item["version"]["N"]))
    legacy = _profile_part(account_item)
    if not legacy:
        return Stored({})
    return Stored(legacy, None, int(account_item["version"]["N"]), account_item["created_at"]["S"])


def _profile_part(item: dict) -> dict:
    names = {_ATTRIBUTES[name].attr_name for name in profile_fields()}
    return {name: value for name, value in item.items() if name in names}


def _batch_get(pks: list[str]) -> list[dict]:
    fields = {"#pk": "pk", "#sk": "sk", "#v": "version", "#c": "created_at",
              **{f"#p{i}": _ATTRIBUTES[name].attr_name for i, name in enumerate(profile_fields())}}
    request = {settings.table_name(): {
        "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk in pks for sk in ("MEMBER", "PROFILE")],
        "ConsistentRead": True, "ProjectionExpression": ", ".join(fields), "ExpressionAttributeNames": fields}}
    items, dynamodb = [], _dynamodb()
    for attempt in range(THROTTLE_TRIES):
        answer = _throttled(lambda request=request: dynamodb.batch_get_item(RequestItems=request))
        items += answer.get("Responses", {}).get(settings.table_name(), [])
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return items
        _back_off(attempt)
    raise RuntimeError("DynamoDB kept members unprocessed in BatchGetItem")


def _transaction(items: list[dict]) -> bool:
    """One TransactWriteItems: False when a condition failed or another transaction held an item (read again)."""
    try:
        _throttled(lambda: _dynamodb().transact_write_items(TransactItems=items))
    except ClientError as error:
        if _error_code(error) != "TransactionCanceledException":
            raise
        reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
        if "ValidationError" in reasons:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "refused"}},
                              "TransactWriteItems") from error
        return False
    return True


def _create(org_id: str, program_id: str, external_id: str, now_iso: str) -> bool:
    """A new member's account, as `account.new_member` makes it, with its directory entry; False if it exists
    already."""
    member = account.new_member(org_id, program_id, external_id, now_iso)
    member.version = 1  # what pynamodb's first save of a versioned item writes
    return _transaction([
        {"Put": {"TableName": settings.table_name(), "Item": member.serialize(),
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": settings.table_name(), "Item": directory_keys.entry(member).serialize()}}])


def _field(profile: dict, name: str) -> Optional[str]:
    stored = profile.get(_ATTRIBUTES[name].attr_name)
    return None if stored is None else _ATTRIBUTES[name].deserialize(stored[_ATTRIBUTES[name].attr_type])


def _lookup_keys(program_id: str, external_id: str, profile: dict) -> set[tuple[str, str]]:
    return lookups.keys_of(program_id, external_id, _field(profile, "email"), _field(profile, "phone"))


def _lookup_writes(before: set[tuple[str, str]], after: set[tuple[str, str]]) -> list[dict]:
    """The transaction items of the lookups a profile gains (puts) and loses (deletes)."""
    table = settings.table_name()
    puts = [{"Put": {"TableName": table, "Item": db.LookupItem(pk, sk).serialize()}} for pk, sk in sorted(after - before)]
    deletes = [{"Delete": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
               for pk, sk in sorted(before - after)]
    return puts + deletes


def _name_keys(program_id: str, profile: dict) -> dict:
    """The name index keys of a profile (raw), as directory_keys.index_name sets them."""
    name = _field(profile, "name")
    if not name:
        return {}
    return {"gsi3pk": {"S": directory_keys.names_partition(program_id)}, "gsi3sk": {"S": directory_keys.folded(name)}}


def _update(org_id: str, program_id: str, external_id: str, changes: dict, current: Stored, now_iso: str) -> bool:
    """SET/REMOVE the profile fields given in the member's ProfileItem (made if it has none), on the condition of the
    version read, bump its version, keep its name index keys, and (in one transaction) the lookups its email or
    phone gains and loses; never the account. False if the profile changed since it was read."""
    names = {"#t": "_t", "#org": "org_id", "#program": "program_id", "#external": "external_id",
             "#created": "created_at", "#updated": "updated_at", "#version": "version"}
    values = {":profile": {"S": "profile"}, ":org": {"S": org_id}, ":program": {"S": program_id},
              ":external": {"S": external_id}, ":now": {"S": now_iso}, ":zero": {"N": "0"}, ":one": {"N": "1"}}
    sets = ["#t = :profile", "#org = :org", "#program = :program", "#external = :external",
            "#created = if_not_exists(#created, :now)", "#updated = :now",
            "#version = if_not_exists(#version, :zero) + :one"]
    removes = []
    for number, (name, value) in enumerate(changes.items()):
        names[f"#f{number}"] = _ATTRIBUTES[name].attr_name
        if value is None:
            removes.append(f"#f{number}")
        else:
            sets.append(f"#f{number} = :f{number}")
            values[f":f{number}"] = _raw(name, value)
    after = _after(current.profile, changes)
    if "name" in changes:
        keys = _name_keys(program_id, after)
        names.update({"#g3pk": "gsi3pk", "#g3sk": "gsi3sk"})
        if keys:
            sets += ["#g3pk = :g3pk", "#g3sk = :g3sk"]
            values.update({":g3pk": keys["gsi3pk"], ":g3sk": keys["gsi3sk"]})
        else:
            removes += ["#g3pk", "#g3sk"]
    if current.profile_version is None:
        condition = "attribute_not_exists(#version)"
    else:
        condition = "#version = :read"
        values[":read"] = {"N": str(current.profile_version)}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    pk, sk = db.ProfileItem.key(program_id, external_id)
    update = {"TableName": settings.table_name(), "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
              "UpdateExpression": expression, "ConditionExpression": condition,
              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    before = _lookup_keys(program_id, external_id, current.profile) if current.profile_version is not None else set()
    lookup_writes = _lookup_writes(before, _lookup_keys(program_id, external_id, after))
    if lookup_writes:
        return _transaction([{"Update": update}, *lookup_writes])
    return _written(lambda: _dynamodb().update_item(**update))


def _new_profile(org_id: str, program_id: str, external_id: str, profile: dict, created_at: str,
                 now_iso: str) -> dict:
    """The PutItem of a member's first ProfileItem (`profile`: its fields, raw), on the condition that it is new."""
    pk, sk = db.ProfileItem.key(program_id, external_id)
    item = {"pk": {"S": pk}, "sk": {"S": sk}, "_t": {"S": "profile"}, "org_id": {"S": org_id},
            "program_id": {"S": program_id}, "external_id": {"S": external_id}, **profile,
            **_name_keys(program_id, profile),
            "created_at": {"S": created_at}, "updated_at": {"S": now_iso}, "version": {"N": "1"}}
    return {"TableName": settings.table_name(), "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}


def _put_profile(org_id: str, program_id: str, external_id: str, profile: dict, now_iso: str) -> bool:
    """A new member's ProfileItem, with its lookups (one transaction when it has any); False if it has one already."""
    request = _new_profile(org_id, program_id, external_id, profile, now_iso, now_iso)
    lookup_writes = _lookup_writes(set(), _lookup_keys(program_id, external_id, profile))
    if lookup_writes:
        return _transaction([{"Put": request}, *lookup_writes])
    return _written(lambda: _dynamodb().put_item(**request))


def _move(org_id: str, program_id: str, external_id: str, profile: dict, legacy: Stored, now_iso: str) -> bool:
    """A legacy member's profile (`profile`: its fields after the row) into its ProfileItem, the fields out of
    its account, under the version read, with its directory entry and lookups: one transaction. False if the member
    moved on meanwhile."""
    pk = db.member_pk(program_id, external_id)
    fields = {f"#f{number}": _ATTRIBUTES[name].attr_name for number, name in enumerate(profile_fields())}
    account_update = {
        "TableName": settings.table_name(), "Key": {"pk": {"S": pk}, "sk": {"S": "MEMBER"}},
        "UpdateExpression": "SET #version = #version + :one REMOVE " + ", ".join(fields),
        "ConditionExpression": "#version = :read", "ExpressionAttributeNames": {"#version": "version", **fields},
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":read": {"N": str(legacy.legacy_version)}}}
    profile_put = _new_profile(org_id, program_id, external_id, profile, legacy.created_at, now_iso)
    member = db.MemberItem(*db.MemberItem.key(program_id, external_id), program_id=program_id,
                           external_id=external_id, created_at=legacy.created_at)
    entry = {"Put": {"TableName": settings.table_name(), "Item": directory_keys.entry(member).serialize()}}
    return _transaction([{"Update": account_update}, {"Put": profile_put}, entry,
                         *_lookup_writes(set(), _lookup_keys(program_id, external_id, profile))])


def write_member(org_id: str, program_id: str, record: Record, current: Optional[Stored],
                 now_iso: str) -> tuple[Outcome, Optional[Stored]]:
    """Apply one valid row given the member as stored; answers the outcome and the member as it now is."""
    changes = record.changes
    created = False
    try:
        for _ in range(3):  # another writer may create, move or change the member between our read and our write
            if current is UNKNOWN:
                current = read_members(program_id, [record.external_id])[record.external_id]
            if current is None:
                if _create(org_id, program_id, record.external_id, now_iso):
                    created = True
                    profile = _after({}, changes)
                    if _put_profile(org_id, program_id, record.external_id, profile, now_iso):
                        return ("created", None), Stored(profile, 1)
                current = UNKNOWN  # PUT member was first: update what it wrote
            elif _same(current.profile, changes):
                return ("created" if created else "unchanged", None), current
            elif current.legacy_version is not None:
                after = _after(current.profile, changes)
                if _move(org_id, program_id, record.external_id, after, current, now_iso):
                    return ("updated", None), Stored(after, 1)
                current = UNKNOWN
            elif _update(org_id, program_id, record.external_id, changes, current, now_iso):
                return ("created" if created else "updated", None), Stored(
                    _after(current.profile, changes), (current.profile_version or 0) + 1)
            else:
                current = UNKNOWN
    except ClientError as error:
        if _error_code(error) != "ValidationException":
            raise
        return ("rejected", problem("row", "could not be stored (DynamoDB refused the item)")), current
    raise RuntimeError("the member neither exists nor could be created, or kept changing")


def apply(org_id: str, program_id: str, chunk: list[Record]) -> list[Optional[Outcome]]:
    """Every row of a chunk, in file order per member: one read for all, parallel writes.

    A member that appears twice in the chunk is written in a second wave, after the first, so the
    later row wins as it would if the rows were applied one by one."""
    outcomes: list[Optional[Outcome]] = [("rejected", r.errors) if r.errors else None for r in chunk]
    valid = [(index, record) for index, record in enumerate(chunk) if record.changes is not None]
    if not valid:
        return outcomes
    current = read_members(program_id, list(dict.fromkeys(record.external_id for _, record in valid)))
    waves: list[list[tuple[int, Record]]] = []
    seen: dict[str, int] = {}
    for index, record in valid:
        wave = seen.get(record.external_id, -1) + 1
        seen[record.external_id] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append((index, record))
    now_iso = clock.iso(clock.now())
    for wave in waves:
        results = list(_executor().map(
            lambda item: write_member(org_id, program_id, item[1], current[item[1].external_id], now_iso), wave))
        for (index, record), (outcome, state) in zip(wave, results):
            outcomes[index] = outcome
            current[record.external_id] = state
    return outcomes
