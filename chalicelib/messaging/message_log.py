"""The record of every message to a member: what became of it, and the member's list of them.

A record is keyed by member, subject and channel, so a message asked for again (published twice,
delivered twice) finds its record: once `sent` or `suppressed` nothing more goes out. Every write
is conditional on the record as it was read, so two deliveries of one message at the same moment
cannot both send it. A broadcast's counts move in the same transaction as its records' final
statuses, so they count each message once.
"""
from datetime import datetime, timedelta

from chalicelib.core import clock, db, pagination
from chalicelib.core.errors import Contention
from chalicelib.core.transact import ConditionFailed, Tx, save_if
from chalicelib.members import membership

RETENTION = timedelta(days=400)
STALE_CLAIM = timedelta(minutes=5)  # a "sending" claim older than this died with its Lambda
CLAIMABLE = {"queued", "deferred", "failed"}  # failed: a redrive from the DLQ tries again
FINAL = ("sent", "suppressed", "failed")  # what a broadcast counts
SHOWN = {"sending": "queued"}  # the list says "queued" until the provider has it


class Busy(Contention):
    """Another delivery holds this message right now: the queue brings it back later."""


def claimable(record: db.DeliveryItem | None, now: datetime) -> bool:
    return record is None or record.status in CLAIMABLE or (
        record.status == "sending" and record.updated_at < clock.iso(now - STALE_CLAIM))


def write(previous: db.DeliveryItem | None, key: dict, kind: str, status: str, *, reason: str | None = None,
          provider_message_id: str | None = None, deferred_until: str | None = None,
          broadcast: db.BroadcastItem | None = None) -> db.DeliveryItem:
    """Move the record on from `previous` (as read); Busy if another delivery moved it meanwhile.

    `key`: program_id, external_id, subject, channel.
    """
    now = clock.now()
    stamp = clock.iso(now)
    if previous is not None and previous.updated_at >= stamp:
        stamp = clock.iso(clock.parse(previous.updated_at) + timedelta(milliseconds=1))  # every write changes it
    created_at = previous.created_at if previous else stamp
    pk, sk = db.DeliveryItem.key(key["program_id"], key["external_id"], key["subject"], key["channel"])
    record = db.DeliveryItem(pk, sk, **key, kind=kind, status=status, reason=reason,
                             provider_message_id=provider_message_id, deferred_until=deferred_until,
                             created_at=created_at, updated_at=stamp, ttl=now + RETENTION,
                             gsi1pk=pk, gsi1sk=f"{created_at}#{sk}")
    condition = db.DeliveryItem.pk.does_not_exist() if previous is None else (
        db.DeliveryItem.updated_at == previous.updated_at)
    counts = _count_changes(previous, status) if broadcast is not None else {}
    try:
        if counts:
            tx = Tx()
            tx.put("record", record, condition=condition)
            tx.update("broadcast", db.BroadcastItem(broadcast.pk, broadcast.sk),
                      [getattr(db.BroadcastItem, name).add(change) for name, change in counts.items()])
            tx.commit()
        elif not save_if(record, condition):
            raise ConditionFailed("record")
    except ConditionFailed as failed:
        raise Busy("This message is being delivered by another worker.") from failed
    return record


def _count_changes(previous: db.DeliveryItem | None, status: str) -> dict[str, int]:
    changes = {status: 1} if status in FINAL else {}
    if previous is not None and previous.status in FINAL:
        changes[previous.status] = changes.get(previous.status, 0) - 1
    return {name: change for name, change in changes.items() if change}


def view(record: db.DeliveryItem) -> dict:
    """What happened, never what was said or to which address."""
    return {"kind": record.kind, "channel": record.channel, "subject": record.subject,
            "status": SHOWN.get(record.status, record.status), "reason": record.reason,
            "provider_message_id": record.provider_message_id, "deferred_until": record.deferred_until,
            "created_at": record.created_at, "updated_at": record.updated_at}


def list_(org_id: str, program_id: str, external_id: str, query: dict) -> dict:
    """A member's messages, newest first: keys from the index, then the records by key."""
    membership.require(org_id, program_id, external_id, profile=False)
    partition = db.messages_pk(program_id, external_id)
    scope = f"messages:{partition}"
    results = db.Item.gsi1.query(partition, scan_index_forward=False, limit=pagination.limit_from(query),
                                 last_evaluated_key=pagination.decode(query, scope))
    keys = [(item.pk, item.sk) for item in results]
    found = db.get_many(*keys) if keys else {}
    return {"items": [view(found[key]) for key in keys if key in found],
            "next_cursor": pagination.encode(results.last_evaluated_key, scope)}
