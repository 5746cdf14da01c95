"""An import's job item: created by its object's first notification (so a notification delivered again
finds it and does nothing more), and held by one worker at a time through a lease, a fencing token only
whose holder may write the job; a lease ends with its invocation's time, or when its worker releases it."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.observability import logger
from chalicelib.core.transact import save_if, update_if
from chalicelib.members.imports import bucket


class LostLease(Exception):
    """Another worker took the job over (this one was presumed dead): stop without touching it."""


def get_job(program_id: str, import_id: str) -> Optional[db.ImportJobItem]:
    return db.get(db.ImportJobItem, db.ImportJobItem.key(program_id, import_id))


def write_as_holder(job: db.ImportJobItem, token: str, actions: list) -> None:
    """Apply `actions` to the job if `token` still holds its lease; LostLease if another worker took it."""
    if not update_if(job, actions, db.ImportJobItem.lease == token):
        raise LostLease(job.import_id)


def release_actions() -> list:
    J = db.ImportJobItem
    return [J.lease.remove(), J.lease_message.remove(), J.lease_until.remove()]


def _lease_until(remaining_ms: Callable[[], int]) -> str:
    return clock.iso(clock.now() + timedelta(milliseconds=max(remaining_ms(), 1000)))


def claim(program_id: str, import_id: str, message_id: str,
          remaining_ms: Callable[[], int]) -> tuple[Optional[db.ImportJobItem], str]:
    """Take a running job's lease if it is free, expired, or held for this very message (a redelivery
    after its worker died). Answers the job and the new token, or None and why not."""
    token, now_iso = uuid.uuid4().hex, clock.iso(clock.now())
    J = db.ImportJobItem
    job = J(*J.key(program_id, import_id))
    taken = update_if(job, [J.lease.set(token), J.lease_message.set(message_id),
                            J.lease_until.set(_lease_until(remaining_ms)), J.updated_at.set(now_iso)],
                      (J.status == "running") & (J.lease.does_not_exist() | (J.lease_until < now_iso)
                                                 | (J.lease_message == message_id)))
    if taken:
        return job, token
    existing = get_job(program_id, import_id)
    if existing is None:
        return None, "no such import"
    return None, ("already " + existing.status) if existing.status != "running" else "in progress elsewhere"


def start(ref: bucket.ObjectRef, message_id: str,
          remaining_ms: Callable[[], int]) -> tuple[Optional[db.ImportJobItem], str]:
    """The job of a newly notified object, created and leased at once, or the existing one claimed."""
    location = bucket.locate(ref.key)
    if location is None:
        return None, "not under imports/{org_id}/{program_id}/"
    try:
        head = bucket.head(ref)
    except bucket.Gone:
        return None, "the object is gone or was replaced"
    import_id = bucket.import_id_of(ref, head["LastModified"])
    now_iso, token = clock.iso(clock.now()), uuid.uuid4().hex
    J = db.ImportJobItem
    job = J(*J.key(location.program_id, import_id), org_id=location.org_id, program_id=location.program_id,
            import_id=import_id, file_name=location.file_name, bucket=ref.bucket, object_key=ref.key,
            version_id=ref.version_id, etag=ref.etag, size=int(head["ContentLength"]),
            file_format=bucket.file_format(location.file_name), status="running", parts=[], lease=token,
            lease_message=message_id, lease_until=_lease_until(remaining_ms), created_at=now_iso, updated_at=now_iso)
    if not save_if(job, J.pk.does_not_exist()):
        return claim(location.program_id, import_id, message_id, remaining_ms)
    logger.info("member import started", extra={"import_id": import_id, "program_id": location.program_id,
                                                "size": job.size})
    return job, token
