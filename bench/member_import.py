"""Member import at scale: a 100,000-row CSV (1% invalid) through the real pipeline, on moto in this process.

    python -m bench.member_import [--rows N]

The stack is deployed from infra/template.yaml as tests/integration/conftest.py does; the file is put
in the imports bucket, S3's notification lands on the imports queue, and MemberImportFunction's real
handler consumes it through the local Lambda runtime (its context counts down the template's 900 s
Timeout, so a file the function cannot finish in time continues in a second invocation, and the
invocations are counted). Every request through botocore is counted by service and operation.

Two passes over the same members:
- import: the file creates its members (every valid row is a new member: the most writes);
- re-sync: the same rows again as a new upload, the nightly HRMS case where almost nothing changed
  (every valid row is read and found unchanged, so nothing is written).

Figures are local: moto answers in-process, with no network round trip, one request at a time (its
DynamoDB is serialised, as on the local stack), so the wall-clock seconds are the function's own work
plus moto's, which is most of it (~10 ms of CPU per request on a slow machine). The process's CPU
time is therefore split: CPU spent inside moto's request handling (measured per thread) and the rest,
the function's own work (reading, parsing, validating, building and signing requests). That own share
is what a Lambda pays in CPU; on AWS the DynamoDB round trips (~1 request per row, 10 at a time) come
on top but overlap with it. DynamoDB requests per row do not depend on where it runs.
"""
from __future__ import annotations

import argparse
import collections
import json
import threading
import time
from typing import Any

import botocore.client

from bench.operations import REGION, BenchError, deployed
from bench.report import table

FUNCTION = "MemberImportFunction"
ROWS = 100_000
INVALID_EVERY = 100  # 1% of the rows are refused (a bad email, external_id or phone, in turn)
LAMBDA_LIMIT_SECONDS = 900


def csv_rows(count: int) -> bytes:
    """An HRMS-like export: `count` rows, every INVALID_EVERY-th one refused by PUT member's rules."""
    lines = ["external_id,email,phone,name,locale,attr.department,attr.site"]
    departments, sites = ("sales", "engineering", "support", "finance"), ("milano", "torino", "roma")
    for n in range(count):
        external_id, email, phone = f"emp-{n:06d}", f"emp{n}@example.com", f"+39333{n:07d}"
        if n % INVALID_EVERY == INVALID_EVERY - 1:
            kind = (n // INVALID_EVERY) % 3
            if kind == 0:
                email = f"emp{n}-at-example.com"
            elif kind == 1:
                external_id = f"emp {n}"
            else:
                phone = f"0039 333 {n}"
        lines.append(f"{external_id},{email},{phone},Employee {n},{'it' if n % 2 else 'en'},"
                     f"{departments[n % 4]},{sites[n % 3]}")
    return ("\r\n".join(lines) + "\r\n").encode()


class Counter:
    """Counts every botocore request by (service, operation), from any thread, and the CPU time spent
    inside moto answering them (thread CPU time, so a thread waiting for the GIL does not count)."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.moto_cpu = 0.0
        self._lock = threading.Lock()
        self._originals: tuple = ()

    def __enter__(self) -> Counter:
        from moto.core.botocore_stubber import BotocoreStubber

        make_api_call, stub = botocore.client.BaseClient._make_api_call, BotocoreStubber.__call__
        self._originals = (make_api_call, stub)
        counter = self

        def counted(client, operation_name: str, api_params: dict):
            with counter._lock:
                counter.counts[(client.meta.service_model.service_name, operation_name)] += 1
            return make_api_call(client, operation_name, api_params)

        def timed(stubber, *args, **kwargs):
            started = time.thread_time()
            try:
                return stub(stubber, *args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with counter._lock:
                    counter.moto_cpu += spent

        botocore.client.BaseClient._make_api_call = counted
        BotocoreStubber.__call__ = timed
        return self

    def __exit__(self, *exc: Any) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        botocore.client.BaseClient._make_api_call, BotocoreStubber.__call__ = self._originals

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.moto_cpu = 0.0

    def of(self, service: str) -> dict[str, int]:
        return {op: n for (svc, op), n in sorted(self.counts.items()) if svc == service}


def _pass(name: str, body: bytes, stack: dict, counter: Counter) -> dict:
    """Upload `body` as a new file, consume the imports queue until it is empty, and measure."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    key = f"imports/{stack['org_id']}/{stack['program_id']}/{name}"
    s3.put_object(Bucket=stack["bucket"], Key=key, Body=body)
    poller = stack["poller"]
    counter.reset()
    started, cpu_started = time.perf_counter(), time.process_time()
    invocations = 0
    while poller.poll_once():
        invocations += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    own_cpu = max(cpu - counter.moto_cpu, 1e-9)
    report_key = f"reports/{stack['org_id']}/{stack['program_id']}/{name}.report.json"
    report = json.loads(s3.get_object(Bucket=stack["bucket"], Key=report_key)["Body"].read())
    if report["status"] != "done":
        raise BenchError(f"{name}: the import ended {report['status']}: {report.get('error')}")
    rows = report["counts"]["rows"]
    dynamodb = counter.of("dynamodb")
    requests = sum(dynamodb.values())
    return {
        "rows": rows, "counts": report["counts"], "rejected_in_report": len(report["rejected"]),
        "seconds": round(seconds, 1), "rows_per_second": round(rows / seconds),
        "invocations": invocations,  # batch size 1: one message, one invocation
        "dynamodb_requests": dynamodb, "dynamodb_requests_total": requests,
        "dynamodb_requests_per_row": round(requests / rows, 4),
        "dynamodb_writes_per_row": round(sum(n for op, n in dynamodb.items()
                                             if op in ("PutItem", "UpdateItem", "BatchWriteItem")) / rows, 4),
        "s3_requests": counter.of("s3"), "sqs_requests": counter.of("sqs"),
        "cpu_seconds": round(cpu, 1), "moto_cpu_seconds": round(counter.moto_cpu, 1),
        "own_cpu_seconds": round(own_cpu, 1), "own_cpu_rows_per_second": round(rows / own_cpu),
        "projected_seconds_for_100k": round(seconds * ROWS / rows, 1),
        "projected_own_cpu_seconds_for_100k": round(own_cpu * ROWS / rows, 1),
        "fits_in_15_minutes": seconds * ROWS / rows <= LAMBDA_LIMIT_SECONDS,
        "own_cpu_fits_in_15_minutes": own_cpu * ROWS / rows <= LAMBDA_LIMIT_SECONDS,
    }


def run(rows: int = ROWS) -> dict:
    """Deploy on moto, import `rows` rows then re-sync them, and answer the figures of both passes."""
    with deployed() as (deployment, runtime):
        from chalicelib.core import orgs
        from chalicelib.members import programs

        poller = next(p for p in runtime.pollers if p.trigger.function.logical_id == FUNCTION)
        while poller.poll_once():  # S3's test event, sent when the bucket was configured
            pass
        org = orgs.create_org("Bench Imports")
        program = programs.create(org["id"], {"name": "Staff Rewards", "currency_name": "points", "locale": "en"})
        stack = {"org_id": org["id"], "program_id": program["id"], "bucket": deployment.environment["IMPORTS_BUCKET"],
                 "poller": poller}
        body = csv_rows(rows)
        with Counter() as counter:
            first = _pass("hrms-full.csv", body, stack, counter)
            again = _pass("hrms-resync.csv", body, stack, counter)
    return {"rows": rows, "file_bytes": len(body), "invalid_every": INVALID_EVERY, "import": first,
            "resync": again, "lambda_limit_seconds": LAMBDA_LIMIT_SECONDS,
            "fits_in_15_minutes": first["fits_in_15_minutes"] and again["fits_in_15_minutes"]}


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def render(result: dict) -> str:
    rows, requests = [], []
    for label, key in (("import (creates)", "import"), ("re-sync (unchanged)", "resync")):
        m = result[key]
        rows.append([label, f"{m['rows']:,}", f"{m['counts']['created']:,}/{m['counts']['updated']:,}/"
                     f"{m['counts']['unchanged']:,}/{m['counts']['rejected']:,}", str(m["invocations"]),
                     f"{m['seconds']:.0f}", f"{m['rows_per_second']:,}",
                     f"{m['projected_seconds_for_100k']:.0f} {_mark(m['fits_in_15_minutes'])}",
                     f"{m['own_cpu_seconds']:.0f} of {m['cpu_seconds']:.0f}", f"{m['own_cpu_rows_per_second']:,}",
                     f"{m['projected_own_cpu_seconds_for_100k']:.0f} {_mark(m['own_cpu_fits_in_15_minutes'])}",
                     f"{m['dynamodb_requests_per_row']:.4f}", f"{m['dynamodb_writes_per_row']:.4f}"])
        requests.append(f"   {label}: DynamoDB " + ", ".join(f"{op} {n:,}" for op, n in m["dynamodb_requests"].items())
                        + "; S3 " + ", ".join(f"{op} {n:,}" for op, n in m["s3_requests"].items())
                        + "; SQS " + (", ".join(f"{op} {n:,}" for op, n in m["sqs_requests"].items()) or "none"))
    return "\n".join([
        f"Member import, {result['rows']:,} CSV rows ({result['file_bytes'] / 1e6:.1f} MB, 1 in "
        f"{result['invalid_every']} invalid), on moto in this process",
        table(["pass", "rows", "created/updated/unchanged/rejected", "invocations", "wall s", "rows/s",
               "100k wall s ≤900", "own CPU s", "own rows/s", "100k own CPU s ≤900", "DDB req/row",
               "writes/row"], rows, "lrrrrrrrrrrr"),
        "   wall: end to end on moto; own CPU: the process's CPU time minus what moto spent answering (what",
        "   the function itself costs; on AWS the DynamoDB round trips overlap with it, 10 at a time).",
        *requests,
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.member_import", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows in the file (default {ROWS:,})")
    args = parser.parse_args(argv)
    result = run(args.rows)
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
