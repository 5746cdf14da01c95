import pytest

from chalicelib.core import pagination
from chalicelib.core.errors import ValidationFailed


def test_a_cursor_round_trips_within_its_own_list():
    cursor = pagination.encode({"pk": {"S": "a"}}, "list-1")
    assert pagination.decode({"cursor": cursor}, "list-1") == {"pk": {"S": "a"}}


@pytest.mark.parametrize("cursor", ["garbage", "eyJwayI6MX0.0000", ""])
def test_a_forged_cursor_is_refused(cursor):
    if cursor:
        with pytest.raises(ValidationFailed):
            pagination.decode({"cursor": cursor}, "list-1")


def test_a_cursor_from_another_list_is_refused():
    cursor = pagination.encode({"pk": {"S": "a"}}, "list-1")
    with pytest.raises(ValidationFailed):
        pagination.decode({"cursor": cursor}, "list-2")


@pytest.mark.parametrize("limit, expected", [(None, 50), ("1", 1), ("100", 100)])
def test_limit(limit, expected):
    assert pagination.limit_from({} if limit is None else {"limit": limit}) == expected


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1.5", "ten"])
def test_a_bad_limit_is_a_validation_error(limit):
    with pytest.raises(ValidationFailed):
        pagination.limit_from({"limit": limit})
