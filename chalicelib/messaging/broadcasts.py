"""Broadcasts: one announcement to a segment of a program's members, sent a slice at a time.

Starting one writes the broadcast (and its Idempotency-Key) and queues its first slice. The
broadcast worker takes one slice per queue message: it scans on through the program's members
from the cursor saved in the broadcast (core/db says why a Scan), reads their profiles (BatchGetItems of
100), keeps those in the segment,
publishes the announcement to each at the configured pace (BROADCAST_SENDS_PER_SECOND shared by
the WORKERS slices that may run at once, so SES and SNS see at most that many broadcast sends a
second per channel), saves the new cursor on the condition
that the slice is still the one it was given, and queues the next slice. A message delivered
twice finds the slice moved on and does nothing; a crash before the cursor is saved publishes the
slice again, which delivery's records turn into no-ops. Counts: `members` and `targeted` (their
messages, one per channel) move with the cursor; `sent`, `suppressed` and `failed` move with each
message's final record (message_log.py).
"""
import json
import time
from typing import Callable

from chalicelib.core import aws, clock, db, ids, settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.transact import ConditionFailed, Tx, update_if
from chalicelib.members import ledger, programs
from chalicelib.members.segments import in_segment
from chalicelib.notices import notifications, templates

WORKERS = 2  # slices that may run at once (infra/template.yaml: the queue's MaximumConcurrency)
SLICE_SECONDS = 30  # a slice publishes for about this long (members per slice: sends per second x this)
SCAN_PAGE = 500  # members' scan page size (items read per request)
SAFETY_SECONDS = 20  # a slice stops scanning and publishing this long before its Lambda would be stopped
KIND = "campaign_announcement"


def view(item: db.BroadcastItem) -> dict:
    done = int(item.sent) + int(item.suppressed) + int(item.failed)
    return {"id": item.broadcast_id, "kind": item.kind, "status": item.status, "segment": item.segment or {},
            "channels": item.channels, "content_locales": sorted(item.content or {}),
            "counts": {"members": int(item.members), "targeted": int(item.targeted), "sent": int(item.sent),
                       "suppressed": int(item.suppressed), "failed": int(item.failed),
                       "pending": max(0, int(item.targeted) - done)},
            "created_at": item.created_at, "updated_at": item.updated_at, "finished_at": item.finished_at}


def _enqueue(item: db.BroadcastItem, slice_number: int) -> None:
    body = {"org_id": item.org_id, "program_id": item.program_id, "broadcast_id": item.broadcast_id,
            "slice": slice_number}
    aws.client("sqs").send_message(QueueUrl=settings.broadcast_queue_url(), MessageBody=json.dumps(body))


def create(org_id: str, program_id: str, request: dict, idempotency_key: str) -> tuple[dict, bool]:
    """Start a broadcast once per Idempotency-Key: a repeat answers the same broadcast (and re-queues it if
    its first slice never started); the key with another request is 409."""
    programs.load(org_id, program_id)
    fingerprint = ledger.fingerprint("broadcast", request)
    if not request.get("content") and not templates.overrides(program_id, KIND):
        raise ValidationFailed("Give the broadcast's content, or write the program's campaign_announcement "
                               "template first.", {"field": "content"})
    now_iso = clock.iso(clock.now())
    broadcast_id = ids.new_id("brd")
    item = db.BroadcastItem(*db.BroadcastItem.key(program_id, broadcast_id), org_id=org_id, program_id=program_id,
                            broadcast_id=broadcast_id, kind=KIND, content=request.get("content"),
                            segment=request.get("segment"), channels=request["channels"], status="queued",
                            fingerprint=fingerprint, created_at=now_iso, updated_at=now_iso)
    key_item = db.BroadcastKeyItem(*db.BroadcastKeyItem.key(program_id, idempotency_key), broadcast_id=broadcast_id)
    tx = Tx()
    tx.put("key", key_item, condition=db.BroadcastKeyItem.pk.does_not_exist())
    tx.put("broadcast", item, condition=db.BroadcastItem.pk.does_not_exist())
    try:
        tx.commit()
    except ConditionFailed:
        return _replay(program_id, idempotency_key, fingerprint), True
    _enqueue(item, 0)
    return view(item), False


def _replay(program_id: str, idempotency_key: str, fingerprint: str) -> dict:
    key_item = db.get(db.BroadcastKeyItem, db.BroadcastKeyItem.key(program_id, idempotency_key))
    item = db.get(db.BroadcastItem, db.BroadcastItem.key(program_id, key_item.broadcast_id)) if key_item else None
    if item is None:
        raise NotFound("No such broadcast.")
    if item.fingerprint != fingerprint:
        raise Conflict("This idempotency key was already used with a different request.",
                       code="idempotency_conflict")
    if item.status == "queued" and int(item.slice) == 0:
        _enqueue(item, 0)  # the first call may have died before queueing it; the worker runs a slice once
    return view(item)


def get(org_id: str, program_id: str, broadcast_id: str) -> dict:
    programs.load(org_id, program_id)
    item = db.get(db.BroadcastItem, db.BroadcastItem.key(program_id, broadcast_id),
                  consistent=False) if ids.is_id(broadcast_id, "brd") else None
    if item is None:
        raise NotFound("No such broadcast.")
    return view(item)


# --- the worker ----------------------------------------------------------------------------

def _members(program_id: str, cursor: dict | None, segment: dict | None, wanted: int,
             time_left: Callable[[], float]) -> tuple[list[db.MemberItem], dict | None]:
    """Up to `wanted` members of the segment from the cursor on, and where to go on (None: the end)."""
    found, now_iso = [], clock.iso(clock.now())
    while True:
        page = aws.client("dynamodb").scan(
            TableName=db.Item.Meta.table_name, Limit=SCAN_PAGE,
            FilterExpression="#t = :member AND program_id = :program", ExpressionAttributeNames={"#t": "_t"},
            ExpressionAttributeValues={":member": {"S": "member"}, ":program": {"S": program_id}},
            **({"ExclusiveStartKey": cursor} if cursor else {}))
        members = [db.MemberItem.from_raw_data(raw) for raw in page.get("Items", [])]
        for raw, member in zip(page.get("Items", []), _with_profiles(members)):
            if in_segment(member, segment, now_iso):
                found.append(member)
                if len(found) >= wanted:
                    return found, {"pk": raw["pk"], "sk": raw["sk"]}
        cursor = page.get("LastEvaluatedKey")
        if cursor is None or time_left() < SAFETY_SECONDS + SLICE_SECONDS:
            return found, cursor


def _with_profiles(members: list[db.MemberItem]) -> list[db.MemberItem]:
    """A scan page's members with their profiles (members.profiles), read in BatchGetItems of 100."""
    keys = [db.ProfileItem.key(member.program_id, member.external_id) for member in members]
    found = {(item.pk, item.sk): item for item in db.ProfileItem.batch_get(keys, consistent_read=False)} if keys else {}
    return [db.attach_profile(member, found.get(key)) for member, key in zip(members, keys)]


def advance(org_id: str, program_id: str, broadcast_id: str, slice_number: int,
            time_left: Callable[[], float]) -> str:
    """Run one slice of a broadcast; returns what happened."""
    item = db.get(db.BroadcastItem, db.BroadcastItem.key(program_id, broadcast_id))
    if item is None or item.org_id != org_id or item.status == "done":
        return "nothing to do"
    if int(item.slice) == slice_number + 1:
        _enqueue(item, slice_number + 1)  # this slice ran but its successor may not have been queued
        return "requeued the next slice"
    if int(item.slice) != slice_number:
        return "stale slice"
    per_second = settings.broadcast_sends_per_second() / WORKERS  # two slices at once stay within the total
    chosen, cursor = _members(program_id, item.cursor, item.segment,
                              max(1, int(per_second * SLICE_SECONDS)), time_left)
    started = time.monotonic()
    targeted = 0
    for number, member in enumerate(chosen):
        wait = number / per_second - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        channels = [channel for channel in notifications.channels_of(member, None) if channel in item.channels]
        notifications.publish(KIND, channels, {"org_id": org_id, "program_id": program_id,
                                               "external_id": member.external_id, "broadcast_id": broadcast_id})
        targeted += len(channels)
    now_iso = clock.iso(clock.now())
    done = cursor is None
    actions = [db.BroadcastItem.slice.set(slice_number + 1), db.BroadcastItem.members.add(len(chosen)),
               db.BroadcastItem.targeted.add(targeted), db.BroadcastItem.updated_at.set(now_iso),
               db.BroadcastItem.status.set("done" if done else "running"),
               db.BroadcastItem.cursor.set(cursor) if cursor else db.BroadcastItem.cursor.remove()]
    if done:
        actions.append(db.BroadcastItem.finished_at.set(now_iso))
    if not update_if(item, actions, db.BroadcastItem.slice == slice_number):
        return "stale slice"  # another worker ran this slice meanwhile (and queued the next)
    if not done:
        _enqueue(item, slice_number + 1)
    return "done" if done else "running"
