"""The scheduled tier recalculation, fanned out through SQS so no Lambda runs near its 15 minutes.

The daily schedule only plans: one message per index partition due (`TIER#{day}#{shard}` of gsi3,
written by chalicelib.members.standing as each member's `tier_review`), so its cost follows the members whose
standing can change, not all members. A change of a program's tiers or policy must look at every
member instead: a sweep, one message per parallel Scan segment. A worker reads its members 100 at a
time (one BatchGetItem), settles each (one transaction, version-checked), and when its time runs low
sends the rest of its work on as a new message. Settling is idempotent, so a redelivered or doubled
message changes and records each member once.
"""
import json
from datetime import datetime, timedelta
from typing import Callable, Optional

from chalicelib.core import aws, clock, db, settings
from chalicelib.core.transact import Retry, with_retries
from chalicelib.members import account, profiles
from chalicelib.notices import tier_changes
from chalicelib.webhooks import endpoints

JOB = "tier_recalculation"
SWEEP_SEGMENTS = 8  # parallel Scan segments of a sweep
PAGE = 100  # members read in one BatchGetItem
SCAN_PAGE = 1000  # items a sweep's Scan reads per request (most are not members of the program)
STOP_MARGIN_MS = 60_000  # with less time than this left, hand the rest on


def plan(now: Optional[datetime] = None) -> dict:
    """Daily: one message per (day, shard) partition due since the last run."""
    now = now or clock.now()
    state = db.get(db.JobStateItem, db.JobStateItem.key(JOB))
    today = clock.day(now)
    first = min(state.last_day, today) if state else clock.day(now - timedelta(days=1))
    bodies = [{"due": f"TIER#{day}#{shard}", "at": clock.iso(now)}
              for day in clock.days_between(first, today) for shard in range(db.SHARDS)]
    _send(bodies)
    db.JobStateItem(*db.JobStateItem.key(JOB), last_day=today).save()
    return {"segments": len(bodies)}


def sweep_after_change(program_id: str, changed: set[str]) -> None:
    """After a program's change: new tiers or a new tier policy place every member afresh (upgrades at
    once, downgrades after the grace, as the scheduled run would)."""
    if {"tiers", "tier_policy"} & changed:
        sweep(program_id)


def sweep(program_id: str, now: Optional[datetime] = None) -> int:
    """Every member of a program, after its tiers or tier policy changed: one message per Scan segment."""
    at = clock.iso(now or clock.now())
    bodies = [{"sweep": program_id, "segment": n, "segments": SWEEP_SEGMENTS, "at": at} for n in range(SWEEP_SEGMENTS)]
    _send(bodies)
    return len(bodies)


def _send(bodies: list[dict]) -> None:
    client = aws.client("sqs")
    for start in range(0, len(bodies), 10):
        client.send_message_batch(QueueUrl=settings.tier_review_queue_url(), Entries=[
            {"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(bodies[start:start + 10])])


def run(body: dict, remaining_ms: Callable[[], int]) -> tuple[dict, Optional[dict]]:
    """Work through one message; returns its counts and, if time ran low, the message that continues it."""
    with endpoints.remembered(), tier_changes.batched():
        return _run(body, remaining_ms)


def _run(body: dict, remaining_ms: Callable[[], int]) -> tuple[dict, Optional[dict]]:
    now = clock.parse(body["at"])
    counts = {"members": 0, "changed": 0}
    programs: dict = {}
    start = body.get("start")
    while True:
        keys, start = _page(body, start)
        members = profiles.read_many(keys)  # with their profiles: a tier change tells its member
        for key in keys:
            counts["members"] += 1
            counts["changed"] += recalculate_member(key, now, members.get(key), programs)
        if not start:
            return counts, None
        if remaining_ms() < STOP_MARGIN_MS:
            return counts, {**body, "start": start}


def _page(body: dict, start: Optional[dict]) -> tuple[list[tuple[str, str]], Optional[dict]]:
    """The next member keys of this message's partition or segment, and where the next page starts."""
    client = aws.client("dynamodb")
    more = {"ExclusiveStartKey": start} if start else {}
    if "due" in body:
        page = client.query(TableName=settings.table_name(), IndexName="gsi3", KeyConditionExpression="gsi3pk = :p",
                            ExpressionAttributeValues={":p": {"S": body["due"]}}, Limit=PAGE, **more)
    else:
        page = client.scan(TableName=settings.table_name(), Segment=body["segment"], TotalSegments=body["segments"],
                           FilterExpression="sk = :m AND begins_with(pk, :p)", ProjectionExpression="pk, sk",
                           ExpressionAttributeValues={":m": {"S": "MEMBER"}, ":p": {"S": db.member_pk(body["sweep"], "")}},
                           Limit=SCAN_PAGE, **more)
    keys = [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])]
    return keys, page.get("LastEvaluatedKey")


def recalculate_member(key: tuple[str, str], now: datetime, member: Optional[db.MemberItem] = None,
                       programs: Optional[dict] = None) -> bool:
    """Settle one member's tier as the scheduled run does: a downgrade once its grace has passed, per the
    program's policy (an upgrade already happened on the change that earned it); True if it changed.

    `member` may be already read (a batch read); after a lost race it is read again.
    """
    programs = {} if programs is None else programs
    preloaded = [member]

    def attempt() -> bool:
        item = preloaded.pop() if preloaded and preloaded[0] is not None else db.get(db.MemberItem, key)
        if not isinstance(item, db.MemberItem):
            return False
        program_key = db.ProgramItem.key(item.org_id, item.program_id)
        if program_key not in programs:
            programs[program_key] = db.get(db.ProgramItem, program_key, consistent=False)
        program = programs[program_key]
        if program is None:
            return False
        try:
            return account.Account(program, item, now).review_tier()
        except Retry:
            preloaded.clear()
            raise

    return with_retries(attempt)
