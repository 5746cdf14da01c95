"""An import's progress: the checkpoint kept in its job item (byte offset, line, counts, the CSV header),
from which the next worker resumes, and the rejected rows of each checkpointed segment, kept in S3 parts
until the report gathers them. A checkpoint bounds what a crash makes the next worker redo."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from chalicelib.core import aws, clock, db
from chalicelib.members.imports.bucket import WORK_PREFIX
from chalicelib.members.imports.job_leases import release_actions, write_as_holder
from chalicelib.members.imports.member_rows import Record
from chalicelib.members.imports.member_writes import Outcome

CHECKPOINT_ROWS = 10_000  # rows between checkpoints: at most what a crash makes the next worker redo
CHECKPOINT_SECONDS = 30


@dataclass
class Progress:
    """Where a run is in the file and what it has counted; what it has not yet checkpointed is its own."""

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
    def of(cls, job: db.ImportJobItem) -> Progress:
        return cls(int(job.offset), int(job.next_line), job.counts(),
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


def part_key(job: db.ImportJobItem, start: int, token: str) -> str:
    """Named by its writer too: a worker presumed dead can never overwrite the live one's part."""
    return f"{WORK_PREFIX}{job.org_id}/{job.program_id}/{job.import_id}/{start:015d}-{token}.jsonl"


def progress_actions(progress: Progress) -> list:
    J = db.ImportJobItem
    actions = [J.offset.set(progress.offset), J.next_line.set(progress.next_line), J.parts.set(progress.parts),
               J.updated_at.set(clock.iso(clock.now()))]
    actions += [getattr(J, name).set(progress.counts[name]) for name in J.COUNTS]
    if progress.header is not None:
        actions.append(J.header.set(progress.header))
    return actions


def checkpoint(job: db.ImportJobItem, token: str, progress: Progress, release: bool = False) -> None:
    """Keep the segment's rejected rows in S3, then move the job's checkpoint (only the lease holder may)."""
    if progress.rejected:
        body = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in progress.rejected)
        aws.client("s3").put_object(Bucket=job.bucket, Key=part_key(job, progress.segment_start, token),
                                    Body=body.encode(), ContentType="application/x-ndjson")
        progress.parts = [part for part in progress.parts if part[0] != progress.segment_start]
        progress.parts.append([progress.segment_start, token])
    write_as_holder(job, token, progress_actions(progress) + (release_actions() if release else []))
    progress.segment_start, progress.rejected, progress.rows_since = progress.offset, [], 0
    progress.since = time.monotonic()
