"""An import's end: its report, `reports/{org_id}/{program_id}/{name}.report.json` (the file, the counts,
and every rejected row with its line, its external_id when valid and its errors, never a value), written
before the job item is marked finished, so a finished job always has its report."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Optional

from chalicelib.core import aws, clock, db
from chalicelib.members.imports.bucket import Location
from chalicelib.members.imports.checkpoints import Progress, part_key, progress_actions
from chalicelib.members.imports.job_leases import release_actions, write_as_holder

JOB_TTL = timedelta(days=90)  # as long as the bucket keeps reports


def _write_report(job: db.ImportJobItem, status: str, counts: dict, rejected: list[dict], finished_at: str,
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


def finish(job: db.ImportJobItem, token: str, status: str, progress: Progress, error: Optional[dict] = None) -> None:
    """Write the report (all segments' rejected rows), then mark the job finished."""
    rejected = []
    for start, writer in sorted(progress.parts):
        body = aws.client("s3").get_object(Bucket=job.bucket, Key=part_key(job, start, writer))["Body"].read()
        rejected += [json.loads(line) for line in body.decode().splitlines() if line]
    rejected += progress.rejected
    now = clock.now()
    report_key = _write_report(job, status, progress.counts, rejected, clock.iso(now), error)
    J = db.ImportJobItem
    actions = progress_actions(progress) + release_actions() + [
        J.status.set(status), J.finished_at.set(clock.iso(now)), J.report_key.set(report_key),
        J.ttl.set(now + JOB_TTL), J.last_error.remove()]
    if error:
        actions.append(J.error.set(error))
    write_as_holder(job, token, actions)
