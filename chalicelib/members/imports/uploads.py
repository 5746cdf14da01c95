"""Member imports through the API, for integrators that cannot write to the imports bucket themselves.

The API never handles the file: it signs a short-lived S3 PUT URL for a key it builds from the
caller's organisation and program, and the file is imported exactly as a dropped one is (S3's
notification, the imports queue, chalicelib/members/imports/queue_messages.py). The API then reads the job items
the import function keeps, and signs a GET URL for a finished job's report.

Each upload gets its own key, `imports/{org_id}/{program_id}/{upload_id}/{file_name}`, so its report
(`reports/.../{upload_id}/{file_name}.report.json`) is its own too and never overwritten by a later
file of the same name. The job's id is made by the import function from the uploaded object's
version (one job per upload, however often S3 notifies), so it cannot be known before the upload:
the client finds its job by listing the program's imports with `?key=` (the key this answers).
"""
from datetime import timedelta

from chalicelib.core import aws, clock, db, ids, pagination, settings
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.members import programs
from chalicelib.members.imports.bucket import IMPORTS_PREFIX
from chalicelib.members.imports.job_leases import get_job

UPLOAD_SECONDS = 15 * 60  # long enough to send a large file, short enough that a leaked URL soon dies
REPORT_SECONDS = 15 * 60
MAX_KEY_LENGTH = 1024  # S3's limit
FINISHED = ("done", "failed")


def _bucket() -> str:
    bucket = settings.imports_bucket()
    if not bucket:
        raise RuntimeError("setting IMPORTS_BUCKET is not configured")
    return bucket


def _prefix(org_id: str, program_id: str) -> str:
    return f"{IMPORTS_PREFIX}{org_id}/{program_id}/"


def _presigned(operation: str, params: dict, seconds: int) -> tuple[str, str]:
    """A URL for one S3 operation on one object, and when it stops working."""
    expires_at = clock.iso(clock.now() + timedelta(seconds=seconds))
    return aws.presigner().generate_presigned_url(operation, Params=params, ExpiresIn=seconds), expires_at


def upload(org_id: str, program_id: str, file_name: str, size: int | None) -> dict:
    """A PUT URL for a new file of the program; with `size`, S3 takes exactly that many bytes."""
    programs.load(org_id, program_id)
    key = f"{_prefix(org_id, program_id)}{ids.new_id('upl')}/{file_name}"
    params = {"Bucket": _bucket(), "Key": key}
    headers = {}
    if size is not None:
        params["ContentLength"] = size  # signed: a PUT of any other length is refused
        headers["Content-Length"] = str(size)
    url, expires_at = _presigned("put_object", params, UPLOAD_SECONDS)
    return {"key": key, "upload_url": url, "method": "PUT", "headers": headers, "expires_at": expires_at}


def job_view(job: db.ImportJobItem) -> dict:
    """An import as the API answers it, with the key of the object it imports."""
    view = {"id": job.import_id, "file": job.file_name, "status": job.status, "counts": job.counts(),
            "report_key": job.report_key, "created_at": job.created_at, "updated_at": job.updated_at,
            "finished_at": job.finished_at}
    if job.error:
        view["error"] = job.error
    view["key"] = job.object_key
    return view


def list_(org_id: str, program_id: str, query: dict) -> dict:
    """The program's imports, newest first; `?key=` keeps those of one uploaded object."""
    programs.load(org_id, program_id)
    conditions = {}
    key = query.get("key")
    if key is not None:
        if len(key) > MAX_KEY_LENGTH or not key.startswith(_prefix(org_id, program_id)):
            raise ValidationFailed("key must be an upload key this program's POST .../imports gave.",
                                   {"field": "key"})
        conditions["filter_condition"] = db.ImportJobItem.object_key == key
    return pagination.query_page(db.ImportJobItem, f"PRG#{program_id}", "IMPORT#", query,
                                 f"imports:{program_id}", job_view, scan_index_forward=False, **conditions)


def get(org_id: str, program_id: str, import_id: str) -> dict:
    """One import; once it has finished, with a URL of its per-row report."""
    programs.load(org_id, program_id)
    job = get_job(program_id, import_id) if ids.is_id(import_id, "imp") else None
    if job is None or job.org_id != org_id:
        raise NotFound("No such import.")
    answer = job_view(job)
    if job.status in FINISHED and job.report_key:
        answer["report_url"], answer["report_expires_at"] = _presigned(
            "get_object", {"Bucket": job.bucket, "Key": job.report_key}, REPORT_SECONDS)
    return answer
