"""A chunk of rows applied to the program's members as PUT member would apply each, at the pace of a bulk
file: the chunk's members read in BatchGetItems of 100 (only their profile fields), then written in
parallel, one request a member, and none for a row the member already matches.

A member write never races a balance change: a new member is a PutItem conditional on the key being new
(the item `account.new_member` makes, so the shape is the API's); an existing member gets one UpdateItem
that SETs/REMOVEs only profile fields and increments the version, so a ledger transaction that read the
member before (and checks the version) re-reads instead of putting back the old profile. The requests are
built here from validated values and sent on the table's own client (pynamodb's: no client-side
parameter validation, a quarter of each request's CPU; DynamoDB still validates them, and a refusal
rejects the row)."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from botocore.exceptions import ClientError

from chalicelib.core import clock, db, settings
from chalicelib.members import account
from chalicelib.members.imports.member_rows import Record, profile_fields
from chalicelib.members.imports.row_texts import problem

BATCH_GET = 100  # DynamoDB's BatchGetItem limit
# Concurrent member requests per import (botocore clients are thread-safe; the table's client keeps
# pynamodb's default pool of 10 connections, one per writer).
WRITERS = 10
THROTTLE_TRIES = 8  # on top of botocore's own retries: a bulk import may outrun on-demand capacity
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}
_ATTRIBUTES = db.MemberItem.get_attributes()
_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()
UNKNOWN: dict = {}  # the member exists but its profile was not read

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


def read_members(program_id: str, external_ids: list[str]) -> dict[str, Optional[dict]]:
    """Each member's stored profile (raw attributes), None when absent: BatchGetItems of 100 at once."""
    batches = [external_ids[i:i + BATCH_GET] for i in range(0, len(external_ids), BATCH_GET)]
    found: dict[str, Optional[dict]] = dict.fromkeys(external_ids)
    prefix = db.member_pk(program_id, "")
    for items in _executor().map(_batch_get, [[db.member_pk(program_id, e) for e in batch] for batch in batches]):
        for item in items:
            found[item["pk"]["S"][len(prefix):]] = item
    return found


def _batch_get(pks: list[str]) -> list[dict]:
    names = {"#pk": "pk", **{f"#p{i}": _ATTRIBUTES[name].attr_name for i, name in enumerate(profile_fields())}}
    request = {settings.table_name(): {
        "Keys": [{"pk": {"S": pk}, "sk": {"S": "MEMBER"}} for pk in pks], "ConsistentRead": True,
        "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}}
    items, dynamodb = [], _dynamodb()
    for attempt in range(THROTTLE_TRIES):
        answer = _throttled(lambda request=request: dynamodb.batch_get_item(RequestItems=request))
        items += answer.get("Responses", {}).get(settings.table_name(), [])
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return items
        _back_off(attempt)
    raise RuntimeError("DynamoDB kept members unprocessed in BatchGetItem")


def _create(org_id: str, program_id: str, external_id: str, changes: dict, now_iso: str) -> bool:
    """A new member, as `account.new_member` makes it plus the profile; False if it exists already."""
    member = account.new_member(org_id, program_id, external_id, now_iso)
    for name, value in changes.items():
        setattr(member, name, value)
    member.version = 1  # what pynamodb's first save of a versioned item writes
    return _written(lambda: _dynamodb().put_item(
        TableName=settings.table_name(), Item=member.serialize(), ConditionExpression="attribute_not_exists(pk)"))


def _update(program_id: str, external_id: str, changes: dict, now_iso: str) -> bool:
    """SET/REMOVE the profile fields given, bump the version; never the balance. False if absent."""
    names = {"#t": "_t", "#updated": "updated_at", "#version": "version"}
    values = {":member": {"S": "member"}, ":now": {"S": now_iso}, ":zero": {"N": "0"}, ":one": {"N": "1"}}
    sets, removes = ["#updated = :now", "#version = if_not_exists(#version, :zero) + :one"], []
    for number, (name, value) in enumerate(changes.items()):
        names[f"#f{number}"] = _ATTRIBUTES[name].attr_name
        if value is None:
            removes.append(f"#f{number}")
        else:
            sets.append(f"#f{number} = :f{number}")
            values[f":f{number}"] = _raw(name, value)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    pk, sk = db.MemberItem.key(program_id, external_id)
    return _written(lambda: _dynamodb().update_item(
        TableName=settings.table_name(), Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression=expression,
        ConditionExpression="attribute_exists(pk) AND #t = :member", ExpressionAttributeNames=names,
        ExpressionAttributeValues=values))


def write_member(org_id: str, program_id: str, record: Record, current: Optional[dict],
                 now_iso: str) -> tuple[Outcome, Optional[dict]]:
    """Apply one valid row given the member's stored profile; answers the outcome and the new profile."""
    changes = record.changes
    try:
        for _ in range(3):  # another writer may create the member between our read and our write
            if current is None:
                if _create(org_id, program_id, record.external_id, changes, now_iso):
                    return ("created", None), _after({}, changes)
                current = UNKNOWN
            else:
                if current is not UNKNOWN and _same(current, changes):
                    return ("unchanged", None), current
                if _update(program_id, record.external_id, changes, now_iso):
                    return ("updated", None), (_after(current, changes) if current is not UNKNOWN else UNKNOWN)
                current = None
    except ClientError as error:
        if _error_code(error) != "ValidationException":
            raise
        return ("rejected", problem("row", "could not be stored (DynamoDB refused the item)")), current
    raise RuntimeError("the member neither exists nor could be created")


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
