"""The imports bucket: its key layout, which object (and which version of it) an import is of, and
reading that object in ranged GETs, so no connection stays open while rows are applied.

Key layout:
    imports/{org_id}/{program_id}/{name}.csv|.jsonl       what admins drop (each org writes only its prefix)
    reports/{org_id}/{program_id}/{name}.report.json      the outcome (of the latest import of that name)
    work/{org_id}/{program_id}/{import_id}/{offset}.jsonl rejected rows of a checkpointed segment (internal)
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from botocore.exceptions import ClientError

from chalicelib.core import aws, ids

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
IMPORTS_PREFIX, REPORTS_PREFIX, WORK_PREFIX = "imports/", "reports/", "work/"
READ_BYTES = 8 * 1024 * 1024  # one ranged GetObject
_SEGMENT = re.compile(rf"{IMPORTS_PREFIX}([A-Za-z0-9_\-]{{1,64}})/([A-Za-z0-9_\-]{{1,64}})/([^/].*)")
_GONE = {"404", "NoSuchKey", "NoSuchVersion", "412", "PreconditionFailed"}


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


def _object_args(ref: ObjectRef) -> dict:
    if ref.version_id:
        return {"Bucket": ref.bucket, "Key": ref.key, "VersionId": ref.version_id}
    return {"Bucket": ref.bucket, "Key": ref.key, "IfMatch": f'"{ref.etag}"'}


def _request(operation: str, ref: ObjectRef, **params) -> dict:
    """One S3 request on the imported object version; Gone when that version is no longer there."""
    try:
        return getattr(aws.client("s3"), operation)(**_object_args(ref), **params)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _GONE:
            raise Gone(code) from None
        raise


def head(ref: ObjectRef) -> dict:
    return _request("head_object", ref)


def blocks(ref: ObjectRef, start: int, size: int) -> Iterator[bytes]:
    """The object from `start`, in ranged reads: no connection stays open while rows are applied."""
    while start < size:
        block = _request("get_object", ref, Range=f"bytes={start}-{min(size, start + READ_BYTES) - 1}")["Body"].read()
        if not block:
            return
        yield block
        start += len(block)
