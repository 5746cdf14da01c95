"""One worker's run of an import it holds: the file read from the job's checkpoint in chunks of rows,
each applied to the members, checkpointed as it goes, until the file ends (the report) or the
invocation's time runs low (a checkpoint, the lease released, and a continuation on the imports queue,
so no file is too long for one invocation)."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from chalicelib.core import aws, db, settings
from chalicelib.members.imports import member_writes, reports
from chalicelib.members.imports.bucket import Gone, ObjectRef, blocks
from chalicelib.members.imports.checkpoints import Progress, checkpoint
from chalicelib.members.imports.member_rows import FileRefused, Record, records
from chalicelib.members.imports.row_texts import lines

CHUNK_ROWS = 500  # rows applied together: their members read in BatchGetItems of 100, then written in parallel
STOP_MARGIN_MS = 30_000  # with less time than this left, checkpoint and continue in a new message


def _continue_later(job: db.ImportJobItem) -> None:
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


def run(job: db.ImportJobItem, token: str, remaining_ms: Callable[[], int]) -> str:
    """Import from the job's checkpoint until the file ends ("done"/"failed") or time runs low ("continued")."""
    progress = Progress.of(job)
    try:
        if job.file_format is None:
            raise FileRefused("unsupported_format", "The file name must end in .csv or .jsonl.")
        if db.get(db.ProgramItem, db.ProgramItem.key(job.org_id, job.program_id), consistent=False) is None:
            raise FileRefused("unknown_program", "The organisation has no such program.")
        ref = ObjectRef(job.bucket, job.object_key, job.etag, job.version_id)
        source = lines(blocks(ref, progress.offset, int(job.size)), progress.offset, progress.next_line)

        def keep_header(columns: list[str]) -> None:
            progress.header = columns

        rows = records(source, job.file_format, progress.header, keep_header)
        for chunk in _chunks(rows):
            progress.add(chunk, member_writes.apply(job.org_id, job.program_id, chunk))
            if remaining_ms() < STOP_MARGIN_MS:
                checkpoint(job, token, progress, release=True)
                _continue_later(job)
                return "continued"
            if progress.due():
                checkpoint(job, token, progress)
    except FileRefused as refused:
        reports.finish(job, token, "failed", progress, {"code": refused.code, "message": refused.message})
        return "failed"
    except Gone:
        reports.finish(job, token, "failed", progress, {"code": "file_gone", "message": (
            "The file was deleted or replaced while it was imported; a replacement is imported on its own.")})
        return "failed"
    reports.finish(job, token, "done", progress)
    return "done"
