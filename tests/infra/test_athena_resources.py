"""The scale-out path's AWS side (its resources in infra/template.yaml): valid CloudFormation, every named query's SQL
the very file DuckDB runs locally, the export table's column readable by DuckDB, and DuckDB kept out of Lambda."""
import re

import duckdb

from infra import athena
from infra.cfn import load_template
from infra.package import CODE_DIRS, ROOT
from infra_support import cfn_lint_errors, resources_of


def test_the_analytics_resources_pass_cfn_lint():
    assert cfn_lint_errors(athena.RESOURCES) == []


def test_each_named_query_is_its_sql_file_verbatim():
    # Given the template's NamedQuery resources
    named = resources_of(load_template(athena.RESOURCES), "AWS::Athena::NamedQuery")
    # Then there is one per view and query file, its QueryString the file's text, in the analytics database
    assert {r["Properties"]["Name"]: r["Properties"]["QueryString"] for r in named.values()} == athena.named_sql()
    assert all(r["Properties"]["Database"] == {"Ref": "AnalyticsDatabase"} for r in named.values())


def test_the_export_table_reads_one_exports_data_folder_with_the_json_serde():
    table = load_template(athena.RESOURCES)["Resources"][athena.EXPORT_TABLE_RESOURCE]["Properties"]["TableInput"]
    storage = table["StorageDescriptor"]
    assert table["Name"] == athena.EXPORT_TABLE
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert storage["Location"]["Fn::Sub"].endswith("/exports/AWSDynamoDB/${LedgerExportId}/data/")
    # And every attribute the SQL files read is a column of it (Glue keeps names lower-case)
    declared = set(re.findall(r"([a-z_]+):struct<[sn]:string>", athena.export_columns()[0]["Type"]))
    read = set(re.findall(r"item\.\"?([a-z_]+)\"?\.[sn]\b", "".join(athena.named_sql().values())))
    assert read and read <= declared


def test_duckdb_reads_the_glue_column_type_with_the_exports_own_key_case():
    assert athena.duckdb_type("struct<pk:struct<s:string>,points:struct<n:string>>") == (
        'STRUCT("pk" STRUCT("S" VARCHAR), "points" STRUCT("N" VARCHAR))')
    connection = duckdb.connect()
    connection.execute(f"SELECT CAST(NULL AS {athena.duckdb_type(athena.export_columns()[0]['Type'])})")


def test_duckdb_stays_out_of_the_lambda_artifacts():
    # The layer is requirements.txt; the function zips hold CODE_DIRS: neither has DuckDB or this SQL
    runtime = (ROOT / "requirements.txt").read_text().lower()
    assert "duckdb" not in runtime and "duckdb" in (ROOT / "requirements-dev.txt").read_text().lower()
    assert "infra" not in CODE_DIRS and "local" not in CODE_DIRS
