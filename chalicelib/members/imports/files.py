"""Bulk member import and sync: a CSV or JSON-lines file dropped in the imports bucket.

An admin puts `imports/{org_id}/{program_id}/{name}.csv` (or `.jsonl`) in the bucket; S3 tells the
imports queue, and the member import function applies every row as `PUT .../members/{external_id}`
would: the same validation (`schemas.MemberUpsert`, `ids.EXTERNAL_ID`), profile fields only, never
the balance. Each row is created, updated, unchanged (already as the file says, so not written) or
rejected with its reason (the field and the message, never the value); a rejected row never stops
the others. The outcome goes to `reports/{org_id}/{program_id}/{name}.report.json` and to an import
job item in the table.

Exactly once however often S3 delivers the notification: the job item is keyed by the object's
identity (its version, or its ETag where the bucket keeps no versions), so a repeated notification
finds the job and does nothing more. Profile writes are idempotent by nature: writing a row again
writes the same values.

Long files are processed in chunks. The job item holds a checkpoint (byte offset, line, counts)
and a lease (a fencing token: only its holder may move the checkpoint). When the Lambda's time runs
low the worker checkpoints, releases the lease and puts a continuation message on the imports queue,
so no file is too long for one invocation. A worker that crashes leaves its message on the queue;
its redelivery takes the lease over and resumes from the last checkpoint (rows after it are written
again, which changes no member twice).

A member write never races a balance change: a new member is a PutItem conditional on the key
being new (the item `ledger.new_member` makes, so the shape is the API's); an existing member gets
one UpdateItem that SETs/REMOVEs only profile fields and increments the version, so the balance is
never written, and a concurrent ledger transaction (which checks the version) re-reads instead of
putting back the old profile.

Key layout of the bucket:
    imports/{org_id}/{program_id}/{name}.csv|.jsonl       what admins drop (each org writes only its prefix)
    reports/{org_id}/{program_id}/{name}.report.json      the outcome (of the latest import of that name)
    work/{org_id}/{program_id}/{import_id}/{offset}.jsonl rejected rows of a checkpointed segment (internal)
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional
from urllib.parse import unquote_plus

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError, UpdateError

from chalicelib.core import aws, clock, db, ids, settings
from chalicelib.core.observability import logger
from chalicelib.members import ledger

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
IMPORTS_PREFIX, REPORTS_PREFIX, WORK_PREFIX = "imports/", "reports/", "work/"
CHUNK_ROWS = 500  # rows applied together: their members read in BatchGetItems of 100, then written in parallel
BATCH_GET = 100  # DynamoDB's BatchGetItem limit
WRITERS = 10  # concurrent member requests per import (botocore clients are thread-safe)
CHECKPOINT_ROWS = 10_000  # rows between checkpoints: at most what a crash makes the next worker redo
CHECKPOINT_SECONDS = 30
STOP_MARGIN_MS = 30_000  # with less time than this left, checkpoint and continue in a new message
READ_BYTES = 8 * 1024 * 1024  # one ranged GetObject
MAX_RECORD_BYTES = 64 * 1024  # a longer row is rejected (a profile is far smaller)
MAX_RECORD_LINES = 20  # a quoted CSV field may span lines, but not more than this many
THROTTLE_TRIES = 8  # on top of botocore's own retries: a bulk import may outrun on-demand capacity
JOB_TTL = timedelta(days=90)  # as long as the bucket keeps reports
EXTERNAL_ID_MESSAGE = "external_id must be 1-128 characters of A-Z a-z 0-9 . _ - : @"
_SEGMENT = re.compile(rf"{IMPORTS_PREFIX}([A-Za-z0-9_\-]{{1,64}})/([A-Za-z0-9_\-]{{1,64}})/([^/].*)")
_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable"}
ATTRIBUTE_COLUMN = "attr."


@functools.cache
def _upsert():
    """PUT member's body model and pydantic's error, loaded on first use: pydantic is most of what
    importing this module would cost, and a cold start only needs it once rows come."""
    from pydantic import ValidationError

    from chalicelib.shapes import MemberUpsert

    return MemberUpsert, ValidationError


def profile_fields() -> tuple[str, ...]:
    """The fields PUT member sets (email, phone, name, locale, attributes)."""
    return tuple(_upsert()[0].model_fields)


def csv_fields() -> tuple[str, ...]:
    return tuple(name for name in profile_fields() if name != "attributes")


# --- the job item -----------------------------------------------------------------------------

ImportJobItem = db.ImportJobItem
COUNTS = ImportJobItem.COUNTS


def job_view(job: ImportJobItem) -> dict:
    """What an API endpoint would answer for an import (proposed: GET .../imports/{import_id})."""
    view = {"id": job.import_id, "file": job.file_name, "status": job.status,
            "counts": {name: int(getattr(job, name)) for name in COUNTS}, "report_key": job.report_key,
            "created_at": job.created_at, "updated_at": job.updated_at, "finished_at": job.finished_at}
    if job.error:
        view["error"] = job.error
    return view


def get_job(program_id: str, import_id: str) -> Optional[ImportJobItem]:
    return db.get(ImportJobItem, ImportJobItem.key(program_id, import_id))


# --- the S3 object ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str
    version_id: Optional[str] = None

    @property
    def identity(self) -> str:
        return f"{self.bucket}/{self.key}#{self.version_id or self.etag}"


@dataclass(frozen=True)
class Location:
    org_id: str
    program_id: str
    file_name: str

    @property
    def report_key(self) -> str:
        return f"{REPORTS_PREFIX}{self.org_id}/{self.program_id}/{self.file_name}.report.json"


def locate(key: str) -> Optional[Location]:
    """`imports/{org_id}/{program_id}/{name}` → its parts; None for a key outside that layout."""
    match = _SEGMENT.fullmatch(key)
    return Location(*match.groups()) if match else None


def file_format(file_name: str) -> Optional[str]:
    return next((kind for suffix, kind in FORMATS.items() if file_name.lower().endswith(suffix)), None)


def import_id_of(ref: ObjectRef, last_modified) -> str:
    """Deterministic per object version, and time-ordered like every other id (ids.new_id's shape)."""
    digest = int(hashlib.sha256(ref.identity.encode()).hexdigest()[:20], 16)
    return f"imp_{ids._base32(int(last_modified.timestamp() * 1000), 10)}{ids._base32(digest, 16)}"


class Gone(Exception):
    """The object was deleted, or replaced by a newer one (whose own notification imports it)."""


class FileRefused(Exception):
    """The file as a whole cannot be imported (its format, its program, its header)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Unreadable(Exception):
    """A queue message that is neither an S3 notification nor a continuation: it can never succeed."""


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


_GONE = {"404", "NoSuchKey", "NoSuchVersion", "412", "PreconditionFailed"}


def _object_args(ref: ObjectRef) -> dict:
    if ref.version_id:
        return {"Bucket": ref.bucket, "Key": ref.key, "VersionId": ref.version_id}
    return {"Bucket": ref.bucket, "Key": ref.key, "IfMatch": f'"{ref.etag}"'}


def _head(ref: ObjectRef) -> dict:
    try:
        return aws.client("s3").head_object(**_object_args(ref))
    except ClientError as error:
        if _error_code(error) in _GONE:
            raise Gone(_error_code(error)) from None
        raise


def _blocks(ref: ObjectRef, start: int, size: int) -> Iterator[bytes]:
    """The object from `start`, in ranged reads: no connection stays open while rows are applied."""
    s3 = aws.client("s3")
    while start < size:
        try:
            answer = s3.get_object(Range=f"bytes={start}-{min(size, start + READ_BYTES) - 1}", **_object_args(ref))
        except ClientError as error:
            if _error_code(error) in _GONE:
                raise Gone(_error_code(error)) from None
            raise
        block = answer["Body"].read()
        if not block:
            return
        yield block
        start += len(block)


# --- rows -------------------------------------------------------------------------------------

@dataclass
class Line:
    number: int
    start: int  # byte offset in the object
    end: int  # byte offset of the next line
    data: bytes  # with its line ending; empty when too long
    too_long: bool = False


@dataclass
class Record:
    """One row as read: where it ends, and either its member's changes or why it was refused."""

    line: int
    end: int  # byte offset where the next row starts
    next_line: int  # the line number there
    external_id: Optional[str] = None
    changes: Optional[dict] = None
    errors: Optional[list[dict]] = None

    @property
    def blank(self) -> bool:
        return self.changes is None and self.errors is None


def lines(blocks: Iterable[bytes], start: int, number: int) -> Iterator[Line]:
    """Physical lines with their byte offsets; an over-long line is skipped, never held in memory."""
    pending, dropped, too_long, line_start = bytearray(), 0, False, start
    for block in blocks:
        position = 0
        while position < len(block):
            newline = block.find(b"\n", position)
            end = len(block) if newline < 0 else newline + 1
            if too_long:
                dropped += end - position
            else:
                pending += block[position:end]
                if len(pending) > MAX_RECORD_BYTES:
                    too_long, dropped, pending = True, len(pending), bytearray()
            position = end
            if newline >= 0:
                length = dropped if too_long else len(pending)
                yield Line(number, line_start, line_start + length, bytes(pending), too_long)
                line_start, number = line_start + length, number + 1
                pending, dropped, too_long = bytearray(), 0, False
    if pending or too_long:
        length = dropped if too_long else len(pending)
        yield Line(number, line_start, line_start + length, bytes(pending), too_long)


def _problem(field_name: str, message: str) -> list[dict]:
    return [{"field": field_name, "message": message}]


ROW_TOO_LONG = _problem("row", f"is longer than {MAX_RECORD_BYTES} bytes")
UNTERMINATED = _problem("row", "has a quote that opens a field but does not close it")
NOT_UTF8 = _problem("row", "is not UTF-8 text")


@dataclass
class Text:
    """A logical row's text (a CSV row may span lines inside quotes), or why it has none."""

    line: int
    end: int
    next_line: int
    text: Optional[str]
    errors: Optional[list[dict]] = None


def _decode(data: bytes, at_start: bool) -> Optional[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if at_start:
        text = text.removeprefix("\ufeff")  # spreadsheets start UTF-8 files with a byte-order mark
    return text.rstrip("\r\n")


def jsonl_texts(source: Iterator[Line]) -> Iterator[Text]:
    for line in source:
        if line.too_long:
            yield Text(line.number, line.end, line.number + 1, None, ROW_TOO_LONG)
            continue
        text = _decode(line.data, line.start == 0)
        yield Text(line.number, line.end, line.number + 1, text, None if text is not None else NOT_UTF8)


def _field_count(text: str) -> int:
    try:
        return len(next(csv.reader([text]), []))
    except csv.Error:
        return -1


def csv_texts(source: Iterator[Line], expected_fields: Callable[[], Optional[int]]) -> Iterator[Text]:
    """Lines joined while a quoted field is open (an odd number of quotes so far), within bounds.

    A stray quote would open a field that runs to the next quote in the file, so lines joined are
    one row only if they make as many fields as the header; otherwise the first line alone is
    refused and reading goes on from the line after it."""
    pushed_back: deque[Line] = deque()

    def take() -> Optional[Line]:
        return pushed_back.popleft() if pushed_back else next(source, None)

    while (first := take()) is not None:
        if first.too_long:
            yield Text(first.number, first.end, first.number + 1, None, ROW_TOO_LONG)
            continue
        parts, quotes = [first], first.data.count(b'"')
        while quotes % 2 and len(parts) < MAX_RECORD_LINES:
            more = take()
            if more is None:
                break
            if more.too_long:
                pushed_back.appendleft(more)
                break
            parts.append(more)
            quotes += more.data.count(b'"')
        text = _decode(b"".join(part.data for part in parts), first.start == 0)
        if quotes % 2 or (len(parts) > 1 and (text is None or (
                expected_fields() is not None and _field_count(text) != expected_fields()))):
            pushed_back.extendleft(reversed(parts[1:]))  # refuse the first line alone, read on from the next
            yield Text(first.number, first.end, first.number + 1, None, UNTERMINATED)
            continue
        yield Text(first.number, parts[-1].end, parts[-1].number + 1, text, None if text is not None else NOT_UTF8)


def _validation_problems(error) -> list[dict]:
    """Each offending field and what is wrong with it, never the value (it may be personal data)."""
    return [{"field": ".".join(str(part) for part in problem["loc"]) or "row", "message": problem["msg"]}
            for problem in error.errors(include_input=False, include_url=False)]


def validate(external_id: Any, fields: dict) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """(external_id if valid, the changes as PUT member would apply them, or the problems)."""
    problems = []
    valid_id = external_id if isinstance(external_id, str) and ids.EXTERNAL_ID.fullmatch(external_id) else None
    if valid_id is None:
        problems += _problem("external_id", EXTERNAL_ID_MESSAGE)
    model, validation_error = _upsert()
    try:
        changes = model.model_validate(fields).model_dump(exclude_unset=True)
    except validation_error as error:
        problems += _validation_problems(error)
        changes = None
    return valid_id, (changes if not problems else None), (problems or None)


def parse_header(text: str) -> list[str]:
    """The CSV header's columns: external_id, the profile fields, attr.<name>; nothing unknown, no repeats."""
    try:
        columns = [column.strip() for column in next(csv.reader([text]), [])]
    except csv.Error:
        raise FileRefused("bad_header", "The header row is not valid CSV.") from None
    fixed = ("external_id", *csv_fields())
    columns = [column.lower() if column.lower() in fixed else column for column in columns]
    unknown = [column for column in columns if column not in fixed
               and not (column.startswith(ATTRIBUTE_COLUMN) and 0 < len(column) - len(ATTRIBUTE_COLUMN) <= 64)]
    if unknown:
        allowed = ", ".join((*fixed, "attr.<name>"))
        raise FileRefused("bad_header", f"Unknown column(s) {', '.join(unknown[:5])!s:.300}; the columns are {allowed}.")
    if "external_id" not in columns:
        raise FileRefused("bad_header", "The header has no external_id column.")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise FileRefused("bad_header", f"Column(s) {', '.join(repeated[:5])!s:.300} appear more than once.")
    return columns


def csv_row(columns: list[str], text: str) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """A CSV row: an empty cell leaves the field as it is (JSON lines can clear a field with null)."""
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error:
        return None, None, _problem("row", "is not valid CSV")
    if len(cells) != len(columns):
        return None, None, _problem("row", f"has {len(cells)} fields where the header has {len(columns)}")
    fields: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    external_id = None
    for column, cell in zip(columns, cells):
        value = cell.strip()
        if column == "external_id":
            external_id = value
        elif value and column.startswith(ATTRIBUTE_COLUMN):
            attributes[column[len(ATTRIBUTE_COLUMN):]] = value
        elif value:
            fields[column] = value
    if attributes:
        fields["attributes"] = attributes
    return validate(external_id, fields)


def jsonl_row(text: str) -> tuple[Optional[str], Optional[dict], Optional[list[dict]]]:
    """A JSON line: {"external_id", ...the PUT member body}; as there, null clears a field."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return None, None, _problem("row", "is not a JSON object")
    external_id = value.pop("external_id", None)
    return validate(external_id, value)


def records(source: Iterator[Line], kind: str, header: Optional[list[str]],
            on_header: Callable[[list[str]], None]) -> Iterator[Record]:
    """Every row of the file from where `source` starts; blank rows come as blank records."""
    texts = csv_texts(source, lambda: len(header) if header else None) if kind == "csv" else jsonl_texts(source)
    for text in texts:
        record = Record(text.line, text.end, text.next_line)
        if text.errors and kind == "csv" and header is None:
            raise FileRefused("bad_header", f"The header row {text.errors[0]['message']}.")
        if text.errors:
            record.errors = text.errors
        elif not text.text.strip():
            pass
        elif kind == "csv" and header is None:
            header = parse_header(text.text)
            on_header(header)
        else:
            parsed = csv_row(header, text.text) if kind == "csv" else jsonl_row(text.text)
            record.external_id, record.changes, record.errors = parsed
        yield record


# --- member writes ----------------------------------------------------------------------------

_ATTRIBUTES = db.MemberItem.get_attributes()
_pool: Optional[ThreadPoolExecutor] = None
_clients: dict[tuple, Any] = {}
_pool_lock = threading.Lock()
UNKNOWN: dict = {}  # the member exists but its profile was not read
# The import's own DynamoDB client: one connection per writer, and no client-side parameter validation,
# a quarter of each request's CPU; the requests are built here from validated values, and DynamoDB
# still validates them (a refusal rejects the row).
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"},
                        max_pool_connections=WRITERS, parameter_validation=False)


def _dynamodb():
    key = (settings.region(), os.environ.get("AWS_ENDPOINT_URL"))
    with _pool_lock:
        if key not in _clients:
            _clients[key] = botocore.session.get_session().create_client(
                "dynamodb", region_name=settings.region(), config=_CLIENT_CONFIG)
        return _clients[key]


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="member-import")
        return _pool


def _throttled(call: Callable[[], Any]) -> Any:
    """Retry what DynamoDB refused for capacity, with capped jittered backoff, after botocore's own tries."""
    for attempt in range(THROTTLE_TRIES):
        try:
            return call()
        except ClientError as error:
            if _error_code(error) not in _THROTTLED or attempt == THROTTLE_TRIES - 1:
                raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise AssertionError("unreachable")


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
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise RuntimeError("DynamoDB kept members unprocessed in BatchGetItem")


def _create(org_id: str, program_id: str, external_id: str, changes: dict, now_iso: str) -> bool:
    """A new member, as `ledger.new_member` makes it plus the profile; False if it exists already."""
    member = ledger.new_member(org_id, program_id, external_id, now_iso)
    for name, value in changes.items():
        setattr(member, name, value)
    member.version = 1  # what pynamodb's first save of a versioned item writes
    try:
        _throttled(lambda: _dynamodb().put_item(
            TableName=settings.table_name(), Item=member.serialize(),
            ConditionExpression="attribute_not_exists(pk)"))
    except ClientError as error:
        if _error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


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
    try:
        _throttled(lambda: _dynamodb().update_item(
            TableName=settings.table_name(), Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND #t = :member", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values))
    except ClientError as error:
        if _error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


Outcome = tuple[str, Optional[list[dict]]]  # ("created" | "updated" | "unchanged" | "rejected", problems)


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
        return ("rejected", _problem("row", "could not be stored (DynamoDB refused the item)")), current
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


# --- the job ----------------------------------------------------------------------------------

class LostLease(Exception):
    """Another worker took the job over (this one was presumed dead): stop without touching it."""


@dataclass
class Progress:
    offset: int
    next_line: int
    counts: dict[str, int]
    parts: list[list]  # [start offset, token]
    header: Optional[list[str]]
    segment_start: int  # where the last checkpoint was
    rejected: list[dict] = field(default_factory=list)  # since the last checkpoint
    rows_since: int = 0
    since: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, job: ImportJobItem) -> Progress:
        return cls(int(job.offset), int(job.next_line), {name: int(getattr(job, name)) for name in COUNTS},
                   [[int(start), token] for start, token in job.parts or []], job.header, int(job.offset))

    def add(self, chunk: list[Record], outcomes: list[Optional[Outcome]]) -> None:
        for record, outcome in zip(chunk, outcomes):
            if outcome is None:
                continue
            kind, problems = outcome
            self.counts["rows"] += 1
            self.counts[kind] += 1
            self.rows_since += 1
            if kind == "rejected":
                entry: dict[str, Any] = {"line": record.line}
                if record.external_id:
                    entry["external_id"] = record.external_id
                entry["errors"] = problems
                self.rejected.append(entry)
        self.offset, self.next_line = chunk[-1].end, chunk[-1].next_line

    def due(self) -> bool:
        return self.rows_since >= CHECKPOINT_ROWS or time.monotonic() - self.since >= CHECKPOINT_SECONDS


def _part_key(job: ImportJobItem, start: int, token: str) -> str:
    """Named by its writer too: a worker presumed dead can never overwrite the live one's part."""
    return f"{WORK_PREFIX}{job.org_id}/{job.program_id}/{job.import_id}/{start:015d}-{token}.jsonl"


def _guarded(job: ImportJobItem, token: str, actions: list) -> None:
    try:
        job.update(actions=actions, condition=ImportJobItem.lease == token)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise LostLease(job.import_id) from None
        raise


def _progress_actions(progress: Progress) -> list:
    J = ImportJobItem
    actions = [J.offset.set(progress.offset), J.next_line.set(progress.next_line), J.parts.set(progress.parts),
               J.updated_at.set(clock.iso(clock.now()))]
    actions += [getattr(J, name).set(progress.counts[name]) for name in COUNTS]
    if progress.header is not None:
        actions.append(J.header.set(progress.header))
    return actions


def _release_actions() -> list:
    J = ImportJobItem
    return [J.lease.remove(), J.lease_message.remove(), J.lease_until.remove()]


def checkpoint(job: ImportJobItem, token: str, progress: Progress, release: bool = False) -> None:
    """Keep the segment's rejected rows in S3, then move the job's checkpoint (only the lease holder may)."""
    if progress.rejected:
        body = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in progress.rejected)
        aws.client("s3").put_object(Bucket=job.bucket, Key=_part_key(job, progress.segment_start, token),
                                    Body=body.encode(), ContentType="application/x-ndjson")
        progress.parts = [part for part in progress.parts if part[0] != progress.segment_start]
        progress.parts.append([progress.segment_start, token])
    _guarded(job, token, _progress_actions(progress) + (_release_actions() if release else []))
    progress.segment_start, progress.rejected, progress.rows_since = progress.offset, [], 0
    progress.since = time.monotonic()


def _report(job: ImportJobItem, status: str, counts: dict, rejected: list[dict], finished_at: str,
            error: Optional[dict] = None) -> str:
    location = Location(job.org_id, job.program_id, job.file_name)
    report = {"import_id": job.import_id, "status": status, "org_id": job.org_id, "program_id": job.program_id,
              "file": {"bucket": job.bucket, "key": job.object_key, "version_id": job.version_id, "etag": job.etag,
                       "format": job.file_format, "size": int(job.size)},
              "counts": counts, "rejected": rejected, "created_at": job.created_at, "finished_at": finished_at}
    if error:
        report["error"] = error
    aws.client("s3").put_object(Bucket=job.bucket, Key=location.report_key, ContentType="application/json",
                                Body=json.dumps(report, indent=1, ensure_ascii=False).encode())
    return location.report_key


def _close(job: ImportJobItem, token: str, status: str, progress: Progress, error: Optional[dict] = None) -> None:
    """Write the report (all segments' rejected rows), then mark the job finished."""
    rejected = []
    for start, writer in sorted(progress.parts):
        body = aws.client("s3").get_object(Bucket=job.bucket, Key=_part_key(job, start, writer))["Body"].read()
        rejected += [json.loads(line) for line in body.decode().splitlines() if line]
    rejected += progress.rejected
    now = clock.now()
    report_key = _report(job, status, progress.counts, rejected, clock.iso(now), error)
    J = ImportJobItem
    actions = _progress_actions(progress) + _release_actions() + [
        J.status.set(status), J.finished_at.set(clock.iso(now)), J.report_key.set(report_key),
        J.ttl.set(now + JOB_TTL), J.last_error.remove()]
    if error:
        actions.append(J.error.set(error))
    _guarded(job, token, actions)


def _continue_later(job: ImportJobItem) -> None:
    aws.client("sqs").send_message(QueueUrl=settings.imports_queue_url(), MessageBody=json.dumps(
        {"import": {"program_id": job.program_id, "import_id": job.import_id}}))


def _chunks(rows: Iterator[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in rows:
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run(job: ImportJobItem, token: str, remaining_ms: Callable[[], int]) -> str:
    """Import from the job's checkpoint until the file ends ("done"/"failed") or time runs low ("continued")."""
    progress = Progress.of(job)
    try:
        if job.file_format is None:
            raise FileRefused("unsupported_format", "The file name must end in .csv or .jsonl.")
        if db.get(db.ProgramItem, db.ProgramItem.key(job.org_id, job.program_id), consistent=False) is None:
            raise FileRefused("unknown_program", "The organisation has no such program.")
        ref = ObjectRef(job.bucket, job.object_key, job.etag, job.version_id)
        source = lines(_blocks(ref, progress.offset, int(job.size)), progress.offset, progress.next_line)

        def keep_header(columns: list[str]) -> None:
            progress.header = columns

        rows = records(source, job.file_format, progress.header, keep_header)
        for chunk in _chunks(rows):
            progress.add(chunk, apply(job.org_id, job.program_id, chunk))
            if remaining_ms() < STOP_MARGIN_MS:
                checkpoint(job, token, progress, release=True)
                _continue_later(job)
                return "continued"
            if progress.due():
                checkpoint(job, token, progress)
    except FileRefused as refused:
        _close(job, token, "failed", progress, {"code": refused.code, "message": refused.message})
        return "failed"
    except Gone:
        _close(job, token, "failed", progress, {"code": "file_gone", "message": (
            "The file was deleted or replaced while it was imported; a replacement is imported on its own.")})
        return "failed"
    _close(job, token, "done", progress)
    return "done"


# --- messages ---------------------------------------------------------------------------------

def _lease_until(remaining_ms: Callable[[], int]) -> str:
    return clock.iso(clock.now() + timedelta(milliseconds=max(remaining_ms(), 1000)))


def claim(program_id: str, import_id: str, message_id: str,
          remaining_ms: Callable[[], int]) -> tuple[Optional[ImportJobItem], str]:
    """Take a running job's lease if it is free, expired, or held for this very message (a redelivery
    after its worker died). Answers the job and the new token, or None and why not."""
    token, now_iso = uuid.uuid4().hex, clock.iso(clock.now())
    job = ImportJobItem(*ImportJobItem.key(program_id, import_id))
    J = ImportJobItem
    try:
        job.update(actions=[J.lease.set(token), J.lease_message.set(message_id),
                            J.lease_until.set(_lease_until(remaining_ms)), J.updated_at.set(now_iso)],
                   condition=(J.status == "running") & (J.lease.does_not_exist() | (J.lease_until < now_iso)
                                                        | (J.lease_message == message_id)))
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        existing = get_job(program_id, import_id)
        if existing is None:
            return None, "no such import"
        return None, ("already " + existing.status) if existing.status != "running" else "in progress elsewhere"
    return job, token


def start(ref: ObjectRef, message_id: str, remaining_ms: Callable[[], int]) -> tuple[Optional[ImportJobItem], str]:
    """The job of a newly notified object, created and leased at once, or the existing one claimed."""
    location = locate(ref.key)
    if location is None:
        return None, "not under imports/{org_id}/{program_id}/"
    try:
        head = _head(ref)
    except Gone:
        return None, "the object is gone or was replaced"
    import_id = import_id_of(ref, head["LastModified"])
    now_iso, token = clock.iso(clock.now()), uuid.uuid4().hex
    job = ImportJobItem(
        *ImportJobItem.key(location.program_id, import_id), org_id=location.org_id, program_id=location.program_id,
        import_id=import_id, file_name=location.file_name, bucket=ref.bucket, object_key=ref.key,
        version_id=ref.version_id, etag=ref.etag, size=int(head["ContentLength"]),
        file_format=file_format(location.file_name), status="running", parts=[], lease=token,
        lease_message=message_id, lease_until=_lease_until(remaining_ms), created_at=now_iso, updated_at=now_iso)
    try:
        job.save(condition=ImportJobItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return claim(location.program_id, import_id, message_id, remaining_ms)
    logger.info("member import started", extra={"import_id": import_id, "program_id": location.program_id,
                                                "size": job.size})
    return job, token


def _s3_objects(message: dict) -> list[ObjectRef]:
    refs = []
    for record in message.get("Records") or []:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        bucket, obj = (s3.get("bucket") or {}).get("name"), s3.get("object") or {}
        if not bucket or not obj.get("key") or not obj.get("eTag"):
            raise Unreadable("an S3 record without bucket, key or eTag")
        if settings.imports_bucket() and bucket != settings.imports_bucket():
            raise Unreadable("a notification from another bucket than the imports bucket")
        refs.append(ObjectRef(bucket, unquote_plus(obj["key"]), obj["eTag"].strip('"'), obj.get("versionId")))
    return refs


def handle_message(body: str, message_id: str, remaining_ms: Callable[[], int]) -> list[dict]:
    """One message of the imports queue: an S3 notification, S3's test event, or a continuation."""
    try:
        message = json.loads(body)
    except ValueError:
        raise Unreadable("body is not JSON") from None
    if not isinstance(message, dict):
        raise Unreadable("body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if isinstance(message.get("import"), dict):
        target = message["import"]
        if not isinstance(target.get("program_id"), str) or not ids.is_id(str(target.get("import_id")), "imp"):
            raise Unreadable("a continuation without program_id and import_id")
        claims = [lambda: claim(target["program_id"], target["import_id"], message_id, remaining_ms)]
    elif "Records" in message:
        claims = [lambda ref=ref: start(ref, message_id, remaining_ms) for ref in _s3_objects(message)]
    else:
        raise Unreadable("neither an S3 notification nor an import continuation")
    results = []
    for take in claims:
        job, why = take()
        if job is None:
            logger.info("member import message without work", extra={"message_id": message_id, "why": why})
            results.append({"status": "skipped", "why": why})
            continue
        results.append(_run_leased(job, why, remaining_ms))
    return results


def _run_leased(job: ImportJobItem, token: str, remaining_ms: Callable[[], int]) -> dict:
    try:
        status = run(job, token, remaining_ms)
    except LostLease:
        logger.warning("member import taken over by another worker", extra={"import_id": job.import_id})
        return {"import_id": job.import_id, "status": "taken over"}
    except Exception as error:
        try:  # for whoever looks at the job before the redelivery resumes it
            _guarded(job, token, [ImportJobItem.last_error.set(f"{type(error).__name__}"[:200])])
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            pass
        raise
    # Counts nested: `created` is a LogRecord attribute, which logging refuses to overwrite.
    summary = {"import_id": job.import_id, "status": status,
               "counts": {name: int(getattr(job, name)) for name in COUNTS}}
    logger.info("member import", extra=summary)
    return summary
