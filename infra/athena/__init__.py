"""The scale-out path's SQL in one place: the table over the DynamoDB export, its views and the named queries.

Athena (Trino) and DuckDB run the same files: views/*.sql make `ledger` and `redemptions` out of the raw
export table `laurel_export`, and queries/*.sql ask their questions of those views. The one difference
between the engines is `laurel_export` itself. On AWS it is the Glue table of infra/template.yaml (OpenX JSON
SerDe, which matches the export's `Item`, `S` and `N` keys to the lower-case names Glue keeps). Locally it
is a DuckDB view over the export's gzip files whose schema `duckdb_type` derives from that same Glue column
type; DuckDB matches JSON keys by case, so the derived names are the export's own (`Item`, `S`, `N`) while
SQL identifiers stay case-insensitive, and the SQL files read `item.points.n` on both engines.
"""
from __future__ import annotations

import re
from pathlib import Path

from infra.cfn import load_template

HERE = Path(__file__).resolve().parent
RESOURCES = HERE.parent / "template.yaml"
EXPORT_TABLE = "laurel_export"  # what the views read
EXPORT_TABLE_RESOURCE = "LedgerExportTable"
VIEWS = ("ledger", "redemptions")  # in the order they are created (none reads another)
QUERIES = ("points_by_month", "member_statement", "redemption_cohorts", "top_rewards")
NAMED_QUERY_PREFIX = "laurel-"  # the Athena name of each view's and query's NamedQuery: laurel-{file name}


def view_sql(name: str) -> str:
    return (HERE / "views" / f"{name}.sql").read_text()


def query_sql(name: str) -> str:
    return (HERE / "queries" / f"{name}.sql").read_text()


def named_sql() -> dict[str, str]:
    """Every NamedQuery's SQL by its Athena name, from the files: the views', then the queries'."""
    return {**{NAMED_QUERY_PREFIX + name: view_sql(name) for name in VIEWS},
            **{NAMED_QUERY_PREFIX + name: query_sql(name) for name in QUERIES}}


def export_columns() -> list[dict[str, str]]:
    """The Glue table's columns ([{"Name", "Type"}]) as infra/template.yaml declares them."""
    table = load_template(RESOURCES)["Resources"][EXPORT_TABLE_RESOURCE]
    return table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]


_SCALARS = {"string": "VARCHAR", "boolean": "BOOLEAN", "bigint": "BIGINT", "double": "DOUBLE"}


def duckdb_type(glue_type: str, *, descriptor: bool = False) -> str:
    """A Glue (Hive) column type as DuckDB's, e.g. `struct<pk:struct<s:string>>` -> `STRUCT("pk" STRUCT("S"
    VARCHAR))`. A scalar field is a DynamoDB type descriptor (`s`, `n`, `bool`, ...), spelled upper-case in
    the export's JSON, and DuckDB reads JSON keys by their case."""
    text = glue_type.strip()
    if text in _SCALARS:
        return _SCALARS[text]
    inner = re.fullmatch(r"struct<(.*)>", text, re.DOTALL)
    if inner is None:
        raise ValueError(f"unsupported Glue type: {glue_type}")
    fields = []
    for field in _top_level_split(inner.group(1)):
        name, kind = field.split(":", 1)
        scalar = kind.strip() in _SCALARS
        fields.append(f'"{name.strip().upper() if scalar else name.strip()}" {duckdb_type(kind)}')
    return f"STRUCT({', '.join(fields)})"


def _top_level_split(fields: str) -> list[str]:
    """`a:struct<s:string>,b:struct<n:string>` -> its top-level fields (commas inside <> stay)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(fields):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(fields[start:index])
            start = index + 1
    parts.append(fields[start:])
    return [part for part in parts if part.strip()]


def duckdb_export_view(data_glob: str) -> str:
    """The DuckDB statement that makes `laurel_export` of an export's gzip data files (a glob), with the
    Glue table's columns: the one rewrite the SQL files need to run locally."""
    columns = ", ".join(f"'{column['Name'][0].upper() + column['Name'][1:]}': '{duckdb_type(column['Type'])}'"
                        for column in export_columns())
    quoted_glob = data_glob.replace("'", "''")
    return (f"CREATE OR REPLACE VIEW {EXPORT_TABLE} AS SELECT * FROM read_json('{quoted_glob}', "
            f"format = 'newline_delimited', compression = 'gzip', columns = {{{columns}}})")
