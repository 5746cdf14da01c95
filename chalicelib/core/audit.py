"""The audit trail: who changed what, and which staff read whose personal data, chained so that an edit or a gap shows.

Each organisation has one chain (chalicelib/core/db/audit_items.py). A record holds ids only: the actor (a key's id
and role, a member session's program and external id, or root), the route's operation, the path's ids, the request
id, the source address and the status; never a body, an email or a name. Its `hash` is SHA-256 over its canonical
JSON, which includes the previous record's hash, so a record edited, removed or inserted breaks the chain from there,
and the head (the last sequence number and hash) says where the chain must end.

An append is one transaction: the record's put (conditional on its sequence number being new) and the head's update
(conditional on the head still holding the sequence number read), so two concurrent calls never fork the chain: the
one that loses re-reads the head and appends after the winner. Cost per audited call: a strongly consistent
GetItem of the head (1 RCU) and a TransactWriteItems of two items under 1 KB each (2 x 2 = 4 WCU); the head is the
organisation's one hot item, so an organisation's audited calls are serialised there (see docs/architecture.md).

Records expire after the organisation's retention (`ttl`, DynamoDB TTL; 400 days unless set). Each record carries
its predecessor's expiry (`prev_ttl`), so verify tells records TTL removed (their expiry passed) from records
deleted (it had not).
"""
import hashlib
import json
from datetime import timedelta
from typing import Optional

from chalicelib.core import aws, clock, db, pagination
from chalicelib.core.db.audit_items import AUDIT_RECORD_PREFIX, AuditHeadItem, AuditRecordItem, audit_pk, record_sk
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.transact import ConditionFailed, Retry, Tx, save_if, update_if, with_retries

DEFAULT_RETENTION_DAYS = 400
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 30, 3650
HASHED_FIELDS = ("org_id", "seq", "at", "actor_kind", "actor_id", "actor_role", "actor_program", "action", "target",
                 "request_id", "source_ip", "status", "prev_hash", "prev_ttl")
QUERY_READS, QUERY_READ_SIZE = 5, 200  # Queries one filtered page may make, and records each reads
SHEET_ROWS = 1000  # records per CSV sheet (its next part: the X-Next-Cursor header)
VERIFY_LIMIT = 20000  # records one verify call checks (the next part: next_from_seq)
SHEET_COLUMNS = ("seq", "at", "actor_kind", "actor_id", "actor_role", "actor_program", "action", "target",
                 "request_id", "source_ip", "status", "hash")


def canonical(fields: dict) -> str:
    return json.dumps({name: fields.get(name) for name in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True)


def digest(fields: dict) -> str:
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def _fields(record: AuditRecordItem) -> dict:
    return {"org_id": record.org_id, "seq": int(record.seq), "at": record.at, "actor_kind": record.actor_kind,
            "actor_id": record.actor_id, "actor_role": record.actor_role, "actor_program": record.actor_program,
            "action": record.action, "target": record.target, "request_id": record.request_id,
            "source_ip": record.source_ip, "status": int(record.status), "prev_hash": record.prev_hash,
            "prev_ttl": int(record.prev_ttl) if record.prev_ttl is not None else None}


# --- appending ---------------------------------------------------------------------------------

def append(org_id: str, actor: dict, action: str, target: dict, request_id: str, source_ip: Optional[str],
           status: int) -> int:
    """Add one record at the end of the organisation's chain; its sequence number."""

    def attempt() -> int:
        head = db.get(AuditHeadItem, AuditHeadItem.key(org_id))
        seq = int(head.seq) + 1 if head else 1
        now = clock.now()
        retention = int(head.retention_days) if head and head.retention_days else DEFAULT_RETENTION_DAYS
        expires = now + timedelta(days=retention)
        fields = {"org_id": org_id, "seq": seq, "at": clock.iso(now), "actor_kind": actor["kind"],
                  "actor_id": actor["id"], "actor_role": actor.get("role"), "actor_program": actor.get("program"),
                  "action": action, "target": target, "request_id": request_id, "source_ip": source_ip,
                  "status": status, "prev_hash": head.hash if head else "",
                  "prev_ttl": int(head.ttl_epoch) if head and head.ttl_epoch is not None else None}
        record_hash = digest(fields)
        record = AuditRecordItem(*AuditRecordItem.key(org_id, seq), **fields, hash=record_hash, ttl=expires,
                                 target_ids={value for value in target.values() if value} or None)
        tx = Tx()
        tx.put("audit-record", record, condition=AuditRecordItem.pk.does_not_exist())
        if head is None:
            tx.put("audit-head", AuditHeadItem(*AuditHeadItem.key(org_id), seq=seq, hash=record_hash,
                                               ttl_epoch=int(expires.timestamp())),
                   condition=AuditHeadItem.pk.does_not_exist())
        else:
            tx.update("audit-head", head, [AuditHeadItem.seq.set(seq), AuditHeadItem.hash.set(record_hash),
                                           AuditHeadItem.ttl_epoch.set(int(expires.timestamp()))],
                      condition=AuditHeadItem.seq == head.seq)
        try:
            tx.commit()
        except ConditionFailed:  # another call appended first: read the new head and append after it
            raise Retry() from None
        return seq

    return with_retries(attempt)


# --- retention ---------------------------------------------------------------------------------

def settings(org_id: str) -> dict:
    head = db.get(AuditHeadItem, AuditHeadItem.key(org_id), consistent=False)
    days = int(head.retention_days) if head and head.retention_days else DEFAULT_RETENTION_DAYS
    return {"retention_days": days}


def set_retention(org_id: str, days: int) -> dict:
    """How long the organisation's records live from now on (records already written keep their expiry)."""

    def attempt() -> dict:
        head = db.get(AuditHeadItem, AuditHeadItem.key(org_id))
        if head is None:
            written = save_if(AuditHeadItem(*AuditHeadItem.key(org_id), seq=0, hash="", retention_days=days),
                              AuditHeadItem.pk.does_not_exist())
        else:
            written = update_if(head, [AuditHeadItem.retention_days.set(days)], AuditHeadItem.seq == head.seq)
        if not written:
            raise Retry()
        return {"retention_days": days}

    return with_retries(attempt)


# --- reading -----------------------------------------------------------------------------------

def view(record: AuditRecordItem) -> dict:
    actor = {"kind": record.actor_kind, "id": record.actor_id}
    if record.actor_role:
        actor["role"] = record.actor_role
    if record.actor_program:
        actor["program_id"] = record.actor_program
    return {"seq": int(record.seq), "at": record.at, "actor": actor, "action": record.action, "target": record.target,
            "request_id": record.request_id, "source_ip": record.source_ip, "status": int(record.status),
            "hash": record.hash, "prev_hash": record.prev_hash}


def _filter(query: dict) -> tuple[list[str], dict, dict]:
    """The FilterExpression parts, names and values of `?actor=`, `?target=`, `?action=`, `?from=` and `?to=`."""
    parts, names, values = [], {}, {}
    for param, attribute in (("actor", "actor_id"), ("action", "action")):
        if query.get(param):
            names[f"#{param}"] = attribute
            values[f":{param}"] = {"S": query[param]}
            parts.append(f"#{param} = :{param}")
    if query.get("target"):
        names["#target"] = "target_ids"
        values[":target"] = {"S": query["target"]}
        parts.append("contains(#target, :target)")
    for param, operator in (("from", ">="), ("to", "<=")):
        if query.get(param):
            try:
                moment = clock.iso(clock.parse(query[param]))
            except ValueError:
                raise ValidationFailed(f"{param} must be an ISO 8601 time (2024-06-01T00:00:00Z).",
                                       {"field": param}) from None
            names["#at"] = "at"
            values[f":{param}"] = {"S": moment}
            parts.append(f"#at {operator} :{param}")
    return parts, names, values


def _records(org_id: str, query: dict, wanted: int, reads: int) -> tuple[list[AuditRecordItem], Optional[int]]:
    """Up to `wanted` records matching the query's filters, newest first, and the sequence number the next page
    starts before (None: done). Each Query reads up to QUERY_READ_SIZE records and at most `reads` are made, so a
    page of a chain where few records match stops short, with a cursor, instead of reading the whole chain."""
    scope = f"audit:{org_id}"
    before = (pagination.decode(query, scope) or {}).get("before")
    parts, names, values = _filter(query)
    names["#pk"], names["#sk"] = "pk", "sk"
    values[":pk"] = {"S": audit_pk(org_id)}
    values[":low"] = {"S": AUDIT_RECORD_PREFIX}
    values[":high"] = {"S": record_sk(int(before)) if before else AUDIT_RECORD_PREFIX + "~"}
    found: list[AuditRecordItem] = []
    start = None
    for _ in range(reads):
        page = aws.client("dynamodb").query(
            TableName=db.Item.Meta.table_name, KeyConditionExpression="#pk = :pk AND #sk BETWEEN :low AND :high",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, ScanIndexForward=False,
            Limit=QUERY_READ_SIZE, ConsistentRead=True,
            **({"FilterExpression": " AND ".join(parts)} if parts else {}),
            **({"ExclusiveStartKey": start} if start else {}))
        for raw in page.get("Items", []):
            record = AuditRecordItem.from_raw_data(raw)
            if before and int(record.seq) >= int(before):
                continue  # BETWEEN is inclusive: the cursor's own record was on the page before
            found.append(record)
            if len(found) == wanted:
                return found, int(record.seq)
        start = page.get("LastEvaluatedKey")
        if start is None:
            return found, None
    return found, int(start["sk"]["S"][len(AUDIT_RECORD_PREFIX):])


def _next_cursor(org_id: str, before: Optional[int]) -> Optional[str]:
    return pagination.encode({"before": before}, f"audit:{org_id}") if before and before > 1 else None


def page(org_id: str, query: dict) -> dict:
    """A page of the organisation's records, newest first, filtered by actor, target, action and time."""
    records, before = _records(org_id, query, pagination.limit_from(query), QUERY_READS)
    return {"items": [view(record) for record in records], "next_cursor": _next_cursor(org_id, before)}


def sheet(org_id: str, query: dict) -> tuple[str, Optional[str]]:
    """Up to SHEET_ROWS records as CSV (the same filters, newest first), and the cursor of the next sheet."""
    from chalicelib.core import spreadsheets

    records, before = _records(org_id, query, SHEET_ROWS, SHEET_ROWS // QUERY_READ_SIZE * QUERY_READS)
    rows = [SHEET_COLUMNS]
    for record in records:
        shown = view(record)
        actor = shown["actor"]
        rows.append((shown["seq"], shown["at"], actor["kind"], actor["id"], actor.get("role"),
                     actor.get("program_id"), shown["action"], json.dumps(shown["target"], sort_keys=True),
                     shown["request_id"], shown["source_ip"], shown["status"], shown["hash"]))
    return spreadsheets.table(rows), _next_cursor(org_id, before)


# --- verifying ---------------------------------------------------------------------------------

def _ascending(org_id: str, first_seq: int):
    """The chain's records from `first_seq` on, oldest first (strongly consistent pages)."""
    return AuditRecordItem.query(audit_pk(org_id), AuditRecordItem.sk.between(record_sk(first_seq),
                                                                               AUDIT_RECORD_PREFIX + "~"),
                                 consistent_read=True, page_size=1000)


def verify(org_id: str, query: dict) -> dict:
    """Walk the chain oldest first and report the first break: a record whose hash is not its content's (edited),
    whose prev_hash is not its predecessor's (one replaced or inserted), a gap in the sequence numbers (deleted
    before its expiry), or a chain that does not end where the head says (its last records deleted)."""
    raw_from = query.get("from_seq")
    if raw_from is not None and not (raw_from.isascii() and raw_from.isdigit() and int(raw_from) >= 1):
        raise ValidationFailed("from_seq must be a whole number from 1.", {"field": "from_seq"})
    from_seq = int(raw_from) if raw_from else 1
    head = db.get(AuditHeadItem, AuditHeadItem.key(org_id))
    head_seq = int(head.seq) if head else 0
    answer = {"ok": True, "head_seq": head_seq, "checked": 0, "first_seq": None, "last_seq": None,
              "expired_before_seq": None, "first_break": None, "next_from_seq": None}
    now = clock.now().timestamp()
    previous = db.get(AuditRecordItem, AuditRecordItem.key(org_id, from_seq - 1)) if from_seq > 1 else None

    def broken(seq: int, reason: str, message: str) -> dict:
        answer.update(ok=False, first_break={"seq": seq, "reason": reason, "message": message})
        return answer

    expected = from_seq
    for record in _ascending(org_id, from_seq):
        seq = int(record.seq)
        if seq > head_seq:
            break  # appended after the head was read: the next verify checks it
        fields = _fields(record)
        if answer["first_seq"] is None:
            answer["first_seq"] = seq
            if seq > expected and previous is None:
                if record.prev_ttl is not None and record.prev_ttl <= now:
                    answer["expired_before_seq"] = seq  # the records before it lived out their retention
                else:
                    return broken(expected, "missing", f"Records {expected} to {seq - 1} were removed before "
                                                       "their expiry.")
                expected = seq
        if seq != expected:
            return broken(expected, "missing", f"Records {expected} to {seq - 1} were removed before their expiry.")
        if digest(fields) != record.hash or seq != int(record.sk[len(AUDIT_RECORD_PREFIX):]):
            return broken(seq, "edited", f"Record {seq} does not match its hash: it was changed.")
        if previous is not None and record.prev_hash != previous.hash:
            return broken(seq, "unlinked", f"Record {seq} does not follow record {seq - 1}: one was replaced.")
        answer["checked"] += 1
        answer["last_seq"] = previous_seq = seq
        previous, expected = record, seq + 1
        if answer["checked"] == VERIFY_LIMIT and previous_seq < head_seq:
            answer["next_from_seq"] = seq + 1
            return answer
    if answer["first_seq"] is None and head_seq and from_seq == 1 and head.ttl_epoch is not None \
            and head.ttl_epoch <= now:
        answer["expired_before_seq"] = head_seq + 1  # every record lived out its retention
        return answer
    if head_seq and expected <= head_seq:
        return broken(expected, "missing", f"Records {expected} to {head_seq} were removed: the head says the chain "
                                           f"ends at {head_seq}.")
    if previous is not None and answer["last_seq"] == head_seq and previous.hash != head.hash:
        return broken(head_seq, "edited", f"Record {head_seq} is not the one the head recorded.")
    return answer
