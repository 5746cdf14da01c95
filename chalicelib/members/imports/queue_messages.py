"""A message of the imports queue, as the member import function gets it: S3's notification of dropped
files (each the start of an import, or nothing where its job exists already), S3's test event, or a
continuation of a running import; whatever else comes can never succeed (Unreadable: the DLQ)."""
from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import unquote_plus

from chalicelib.core import db, ids, settings
from chalicelib.core.observability import logger
from chalicelib.members.imports import runs
from chalicelib.members.imports.bucket import ObjectRef
from chalicelib.members.imports.job_leases import LostLease, claim, start, write_as_holder


class Unreadable(Exception):
    """A queue message that is neither an S3 notification nor a continuation: it can never succeed."""


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


def _run_leased(job: db.ImportJobItem, token: str, remaining_ms: Callable[[], int]) -> dict:
    try:
        status = runs.run(job, token, remaining_ms)
    except LostLease:
        logger.warning("member import taken over by another worker", extra={"import_id": job.import_id})
        return {"import_id": job.import_id, "status": "taken over"}
    except Exception as error:
        try:  # for whoever looks at the job before the redelivery resumes it
            write_as_holder(job, token, [db.ImportJobItem.last_error.set(f"{type(error).__name__}"[:200])])
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            pass
        raise
    # Counts nested: `created` is a LogRecord attribute, which logging refuses to overwrite.
    summary = {"import_id": job.import_id, "status": status, "counts": job.counts()}
    logger.info("member import", extra=summary)
    return summary
