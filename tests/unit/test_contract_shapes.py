"""The request models and the OpenAPI document, without any AWS."""
import json

import pytest
from openapi_spec_validator import validate

import app  # noqa: F401 - declares the endpoints
from chalicelib import openapi, schemas
from chalicelib.errors import PayloadTooLarge, ValidationFailed
from chalicelib.web import ENDPOINTS, MAX_BODY_BYTES, parse_body


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
        parse_body(raw, schemas.AdjustmentCreate)
    assert failed.value.details["field"] == field


def test_an_oversized_body_is_413():
    with pytest.raises(PayloadTooLarge):
        parse_body(b" " * (MAX_BODY_BYTES + 1), schemas.AdjustmentCreate)


@pytest.mark.parametrize("rule", [{"event_type": "x"}, {"event_type": "x", "points": 1,
                                                        "points_per": {"property": "a", "every": 1, "points": 1}},
                                  {"event_type": "x", "points": -1}])
def test_a_rule_awards_exactly_one_way(rule):
    with pytest.raises(ValidationFailed):
        parse_body(json.dumps({"name": "P", "earn_rules": [rule]}).encode(), schemas.ProgramCreate)


def test_the_openapi_document_is_valid_and_covers_every_endpoint():
    document = openapi.document(ENDPOINTS)
    validate(document)
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert operations == {(endpoint.method, endpoint.path) for endpoint in ENDPOINTS}
    assert len(operations) == 44
