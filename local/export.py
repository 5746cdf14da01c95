"""The scale-out path on this machine: the table exported as DynamoDB's point-in-time export writes it, and the
named queries of infra/athena/ run over that export with DuckDB, the same SQL files Athena runs.

    python -m local.export [--endpoint URL] [--table NAME] [--out DIR] [--program ID [--member ID]]

(`make analytics`, beside a running `make run`) exports the local stack's table and prints every query's
answer; docs/analytics.md tells the AWS side. DuckDB is a development dependency only: no Lambda function
imports this module or packages it.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import boto3
import duckdb

from infra import athena

DEFAULT_ENDPOINT = f"http://127.0.0.1:{os.environ.get('LAUREL_AWS_PORT', '4566')}"  # `make run`'s emulator
ITEMS_PER_FILE = 10_000  # the export splits its data into files; so does this, to read them as AWS's
EXPORT_PREFIX = "exports"  # as the template's LedgerExportTable expects: {prefix}/AWSDynamoDB/{ExportId}/data/


@dataclass
class Export:
    """One export on disk: its id and folder (`{out}/{prefix}/AWSDynamoDB/{export_id}`) and how many items."""

    export_id: str
    folder: Path
    items: int

    @property
    def data_glob(self) -> str:
        return str(self.folder / "data" / "*.json.gz")


def export_table(table_name: str, out: Path, dynamodb=None) -> Export:
    """Scan the table into `out` as an ExportTableToPointInTime with DYNAMODB_JSON writes it: gzip files of
    {"Item": {...}} lines under data/, manifest-files.json (one line per data file) and manifest-summary.json,
    each with its .md5, and _started."""
    dynamodb = dynamodb or boto3.client("dynamodb")
    started = datetime.now(timezone.utc)
    export_id = f"{int(started.timestamp() * 1000):014d}-{secrets.token_hex(4)}"
    folder = out / EXPORT_PREFIX / "AWSDynamoDB" / export_id
    (folder / "data").mkdir(parents=True)
    (folder / "_started").write_text("")
    manifest, batch, total = [], [], 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for item in page["Items"]:
            batch.append(item)
            if len(batch) == ITEMS_PER_FILE:
                manifest.append(_write_data_file(folder, batch))
                total, batch = total + len(batch), []
    if batch or not manifest:
        manifest.append(_write_data_file(folder, batch))
        total += len(batch)
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    files_text = "".join(json.dumps(entry) + "\n" for entry in manifest)
    _write_with_md5(folder / "manifest-files.json", files_text)
    summary = {
        "version": "2020-06-30", "exportArn": f"{table['TableArn']}/export/{export_id}",
        "startTime": started.isoformat(), "endTime": datetime.now(timezone.utc).isoformat(),
        "tableArn": table["TableArn"], "tableId": table.get("TableId", ""),
        "exportTime": started.isoformat(), "s3Bucket": str(out), "s3Prefix": EXPORT_PREFIX,
        "s3SseAlgorithm": "AES256", "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{EXPORT_PREFIX}/AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": sum(entry["size"] for entry in manifest), "itemCount": total,
        "outputFormat": "DYNAMODB_JSON"}
    _write_with_md5(folder / "manifest-summary.json", json.dumps(summary))
    return Export(export_id, folder, total)


def _write_data_file(folder: Path, items: list[dict]) -> dict:
    """One data file of `items`, and its manifest-files.json line."""
    text = "".join(json.dumps({"Item": item}, separators=(",", ":"), default=_base64) + "\n" for item in items)
    relative = f"data/{secrets.token_hex(13)}.json.gz"
    body = gzip.compress(text.encode(), mtime=0)
    (folder / relative).write_bytes(body)
    key = f"{EXPORT_PREFIX}/AWSDynamoDB/{folder.name}/{relative}"
    digest = _md5(body)
    return {"itemCount": len(items), "md5Checksum": digest, "etag": digest, "dataFileS3Key": key, "size": len(body)}


def _base64(value: bytes) -> str:
    """A binary attribute (B, and each of a BS) as the export writes it: base64 text."""
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"not JSON: {type(value).__name__}")
    return base64.b64encode(value).decode()


def _write_with_md5(path: Path, text: str) -> None:
    path.write_text(text)
    path.with_suffix(".md5").write_text(_md5(text.encode()))


def _md5(data: bytes) -> str:
    """The checksum AWS's export writes beside each file (an integrity check, not a security one)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def connect(export: Export) -> duckdb.DuckDBPyConnection:
    """A DuckDB database in memory where `laurel_export` reads the export and the views exist, as in Athena."""
    connection = duckdb.connect()
    connection.execute(athena.duckdb_export_view(export.data_glob))
    for name in athena.VIEWS:
        connection.execute(athena.view_sql(name))
    return connection


def ask(connection: duckdb.DuckDBPyConnection, query: str, *parameters) -> list[dict]:
    """A named query's rows (infra/athena/queries/{query}.sql), each a dict by column."""
    cursor = connection.execute(athena.query_sql(query), list(parameters))
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _only_table(dynamodb) -> str:
    names = dynamodb.list_tables()["TableNames"]
    if len(names) != 1:
        raise SystemExit(f"laurel export: {len(names)} tables at the endpoint, name one with --table: {names}")
    return names[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT))
    parser.add_argument("--table", default=os.environ.get("LAUREL_TABLE"), help="default: the endpoint's only table")
    parser.add_argument("--out", type=Path, default=Path("build/analytics"))
    parser.add_argument("--program", help="the program of --member's statement")
    parser.add_argument("--member", help="an external id: also print its statement")
    args = parser.parse_args(argv)
    dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint,
                            region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    began = time.perf_counter()
    export = export_table(args.table or _only_table(dynamodb), args.out, dynamodb)
    print(f"exported {export.items} items to {export.folder} in {time.perf_counter() - began:.1f} s")
    connection = connect(export)
    for query in athena.QUERIES:
        if query == "member_statement":
            if not (args.program and args.member):
                continue
            rows = ask(connection, query, args.program, args.member)
        else:
            rows = ask(connection, query)
        print(f"\n== {query} ({len(rows)} rows)")
        for row in rows:
            print(json.dumps(row, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
