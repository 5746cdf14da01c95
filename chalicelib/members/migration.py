"""The one-off job that writes every member still in an older layout in today's, without downtime.

Members written before the account kept its history in monthly pieces (chalicelib.members.history) and its
profile in an item of its own (chalicelib.members.profiles) are read as they are by every change, and written in the new layout by their next one. This job does the same for the
members no change reaches, and files every member written before the member directory in it (its DirectoryItem,
its profile's name index keys and its email and phone lookups: profiles.file). The operator starts it once after an upgrade (`python -m chalicelib.members.migration`
with the stack's tier review queue: docs/architecture.md, "Upgrading"): one message per parallel Scan segment
on that queue, whose worker hands what its time does not cover on as a new message. Rewriting is a version-checked write of the member as it stands, so a
redelivered message, a second start or a race with a live change writes each member once and changes nothing
it holds.
"""
import json
from datetime import datetime
from typing import Callable, Optional

from chalicelib.core import aws, clock, db, settings
from chalicelib.core.transact import with_retries
from chalicelib.members import account, profiles

JOB = "account_layout_migration"
SEGMENTS = 8
SCAN_PAGE = 1000
STOP_MARGIN_MS = 60_000
# A member item still in an older layout holds one of these: every lot and tier-window day, or its profile.
OLD_LAYOUT = ("lots", "earned", *db.PROFILE_FIELDS)


def plan(now: Optional[datetime] = None) -> dict:
    """Start the job: one message per Scan segment."""
    at = clock.iso(now or clock.now())
    bodies = [{"migrate": at, "segment": n, "segments": SEGMENTS} for n in range(SEGMENTS)]
    aws.client("sqs").send_message_batch(QueueUrl=settings.tier_review_queue_url(), Entries=[
        {"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(bodies)])
    return {"job": JOB, "segments": SEGMENTS, "started_at": at}


def run(body: dict, remaining_ms: Callable[[], int]) -> tuple[dict, Optional[dict]]:
    """Work through one segment; returns its counts and, if time ran low, the message that continues it."""
    now = clock.parse(body["migrate"])
    counts = {"members": 0, "rewritten": 0}
    start = body.get("start")
    while True:
        keys, start = _page(body, start)
        for key in keys:
            counts["members"] += 1
            counts["rewritten"] += rewrite_member(key, now)
        if not start:
            return counts, None
        if remaining_ms() < STOP_MARGIN_MS:
            return counts, {**body, "start": start}


def _page(body: dict, start: Optional[dict]) -> tuple[list[tuple[str, str]], Optional[dict]]:
    """The next member items of the segment still in an older layout or not in the directory, and where the next
    page starts. A member's DirectoryItem sorts before its account item, so a page that holds both skips it; a
    member whose entry fell on the page before is read to find out."""
    more = {"ExclusiveStartKey": start} if start else {}
    page = aws.client("dynamodb").scan(
        TableName=settings.table_name(), Segment=body["segment"], TotalSegments=body["segments"],
        FilterExpression="sk = :m OR sk = :d",
        ProjectionExpression=", ".join(["pk", "sk", *(f"#{name}" for name in OLD_LAYOUT)]),
        ExpressionAttributeNames={f"#{name}": name for name in OLD_LAYOUT},
        ExpressionAttributeValues={":m": {"S": "MEMBER"}, ":d": {"S": db.DIRECTORY_SK}}, Limit=SCAN_PAGE, **more)
    items = page.get("Items", [])
    filed = {item["pk"]["S"] for item in items if item["sk"]["S"] == db.DIRECTORY_SK}
    keys = [(item["pk"]["S"], item["sk"]["S"]) for item in items if item["sk"]["S"] == "MEMBER"
            and (item["pk"]["S"] not in filed or any(name in item for name in OLD_LAYOUT))]
    return keys, page.get("LastEvaluatedKey")


def rewrite_member(key: tuple[str, str], now: datetime) -> bool:
    """Write one member in today's layout and file it in the directory; False if it already was both (or is gone)."""
    def attempt() -> bool:
        member = db.get(db.MemberItem, key)
        if member is None:
            return False
        program = db.get(db.ProgramItem, db.ProgramItem.key(member.org_id, member.program_id), consistent=False)
        return account.Account(program, member, now).rewrite()

    def file() -> bool:
        entry_key = (key[0], db.DIRECTORY_SK)
        found = db.get_many(key, (key[0], db.PROFILE_SK), entry_key)
        member = found.get(key)
        if not isinstance(member, db.MemberItem):
            return False
        return profiles.file(profiles.member_from(found, member.program_id, member.external_id), entry_key in found)

    rewritten = with_retries(attempt)
    return with_retries(file) or rewritten


if __name__ == "__main__":  # the operator's one-off start, with LAUREL's settings (the queue's URL) in the environment
    print(json.dumps(plan()))
