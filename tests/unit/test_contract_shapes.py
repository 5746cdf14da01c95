"""The request models and the OpenAPI document, without any AWS."""
import json

import pytest
from openapi_spec_validator import validate

import app  # noqa: F401 - declares the endpoints
from chalicelib.core import openapi
from chalicelib.core.errors import PayloadTooLarge, ValidationFailed
from chalicelib.core.web import ENDPOINTS, MAX_BODY_BYTES, parse_body
from chalicelib.earning.shapes import ProgramCreate
from chalicelib.members.shapes import IMPORT_FILE_NAME, AdjustmentCreate, ImportCreate


@pytest.mark.parametrize("raw, field", [
    (b"{not json", "body"),
    (b"[]", "body"),
    (b'{"points": "10", "reason": "x"}', "points"),
    (b'{"points": 1.5, "reason": "x"}', "points"),
    (b'{"points": 0, "reason": "x"}', "points"),
    (b'{"points": 10}', "reason"),
    (b'{"points": 10, "reason": "x", "balance": 5}', "balance"),
    (b'{"points": 10000000000, "reason": "x"}', "points"),
])
def test_bad_adjustments_name_the_field(raw, field):
    with pytest.raises(ValidationFailed) as failed:
        parse_body(raw, AdjustmentCreate)
    assert failed.value.details["field"] == field


def test_an_oversized_body_is_413():
    with pytest.raises(PayloadTooLarge):
        parse_body(b" " * (MAX_BODY_BYTES + 1), AdjustmentCreate)


@pytest.mark.parametrize("rule", [{"event_type": "x"}, {"event_type": "x", "points": 1,
                                                        "points_per": {"property": "a", "every": 1, "points": 1}},
                                  {"event_type": "x", "points": -1}])
def test_a_rule_awards_exactly_one_way(rule):
    with pytest.raises(ValidationFailed):
        parse_body(json.dumps({"name": "P", "earn_rules": [rule]}).encode(), ProgramCreate)


def test_the_openapi_document_is_valid_and_covers_every_endpoint():
    document = openapi.document(ENDPOINTS)
    validate(document)
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert operations == {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}
    assert len(operations) == 93


@pytest.mark.parametrize("name", ["members.csv", "HRMS_2024-06.01.CSV", "crm.jsonl", "crm.NDJSON", "a.csv",
                                  "x" * 193 + ".ndjson"])
def test_an_import_file_name_is_taken(name):
    assert parse_body(json.dumps({"file_name": name}).encode(), ImportCreate).file_name == name


@pytest.mark.parametrize("name", ["members.xlsx", "members", ".csv", "-members.csv", "a/b.csv", "../b.csv",
                                  "my members.csv", "membres-é.csv", "members.csv\n", "x" * 194 + ".ndjson", ""])
def test_an_import_file_name_that_is_not_a_plain_csv_or_jsonl_name_is_refused_with_the_rule(name):
    with pytest.raises(ValidationFailed) as failed:
        parse_body(json.dumps({"file_name": name}).encode(), ImportCreate)
    assert failed.value.details["field"] == "file_name"
    assert ".csv, .jsonl or .ndjson" in failed.value.message


def test_every_import_file_name_taken_is_one_the_import_function_reads():
    from chalicelib.members.imports import bucket

    suffixes = {suffix for suffix in bucket.FORMATS}
    for suffix in suffixes:
        assert parse_body(json.dumps({"file_name": f"m{suffix}"}).encode(), ImportCreate)
    assert set(IMPORT_FILE_NAME.rsplit("(", 1)[1].split(")")[0].lower().split("|")) == {
        suffix.lstrip(".") for suffix in suffixes}


@pytest.mark.parametrize("size", [0, -1, 1024 ** 3 + 1, "10", 1.5, True])
def test_an_import_size_must_be_a_whole_number_of_bytes_up_to_a_gibibyte(size):
    with pytest.raises(ValidationFailed) as failed:
        parse_body(json.dumps({"file_name": "m.csv", "size": size}).encode(), ImportCreate)
    assert failed.value.details["field"] == "size"


def test_the_import_list_documents_its_key_filter():
    document = openapi.document(ENDPOINTS)
    parameters = document["paths"]["/v1/programs/{program_id}/imports"]["get"]["parameters"]
    assert {"limit", "cursor", "key"} <= {parameter["name"] for parameter in parameters}


def test_the_member_directory_documents_every_filter():
    document = openapi.document(ENDPOINTS)
    parameters = document["paths"]["/v1/programs/{program_id}/members"]["get"]["parameters"]
    assert {"limit", "cursor", "tier", "status", "attribute", "email", "phone", "external_id_prefix", "name_prefix"} == {
        parameter["name"] for parameter in parameters if parameter["in"] == "query"}
