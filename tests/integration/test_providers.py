"""The Tremendous adapter against a stand-in server: one order per external id whatever the retries,
429s waited out as Retry-After asks, 5xx and timeouts transient, other 4xx final."""
import pytest

from chalicelib.rewards.providers import ProviderRejected, ProviderUnavailable
from chalicelib.rewards.providers.base import Order
from chalicelib.rewards.providers.tremendous import Tremendous
from fake_tremendous import FakeTremendous

ORDER = Order(denomination=250, currency_code="PTS", product="skymiles",
              recipient={"name": "Ada", "email": "ada@example.com", "account": "SM-1234"})


@pytest.fixture
def fake():
    with FakeTremendous() as server:
        yield server


def adapter(fake, waits=None, **options):
    return Tremendous(fake.url, fake.api_key, **{"timeout": 0.3, "sleep": ([] if waits is None else waits).append, **options})


def test_an_order_is_placed_with_its_external_id_value_and_bearer_key(fake):
    # When an order is placed
    result = adapter(fake).place_order("rdm_1", ORDER)
    # Then the provider received Tremendous's order shape with the API key, and it is executed
    assert (result.status, result.provider_order_id) == ("executed", "ORD000001")
    sent = fake.requests[0]
    assert sent["authorization"] == "Bearer test-key"
    assert sent["body"]["external_id"] == "rdm_1"
    assert sent["body"]["reward"]["value"] == {"denomination": 250, "currency_code": "PTS"}
    assert sent["body"]["reward"]["delivery"] == {"method": "LINK"}
    assert sent["body"]["reward"]["recipient"]["account"] == "SM-1234"


def test_retries_after_a_timeout_and_a_500_reuse_the_external_id_and_order_once(fake):
    # Given the first answer lost to a timeout (the order placed all the same) and the second a 500
    fake.fail_next(("hang", 1.0), ("status", 500, {}))
    # When the order is placed, and placed again later (the queue's retry)
    first = adapter(fake).place_order("rdm_2", ORDER)
    again = adapter(fake).place_order("rdm_2", ORDER)
    # Then every try named the same external id, and the provider holds exactly one order
    assert {r["body"]["external_id"] for r in fake.requests} == {"rdm_2"}
    assert len(fake.requests) == 4
    assert list(fake.orders) == ["rdm_2"]
    assert first.provider_order_id == again.provider_order_id


def test_a_429_is_waited_out_as_retry_after_asks(fake):
    # Given the provider asks twice to wait 2 seconds
    fake.fail_next(("status", 429, {"Retry-After": "2"}), ("status", 429, {"Retry-After": "2"}))
    waits = []
    # When the order is placed
    result = adapter(fake, waits).place_order("rdm_3", ORDER)
    # Then the adapter waited as asked before each retry, and ordered once
    assert waits == [2.0, 2.0]
    assert result.status == "executed" and len(fake.orders) == 1


def test_a_long_retry_after_is_left_to_the_queue(fake):
    # Given the provider asks to wait a minute
    fake.fail_next(("status", 429, {"Retry-After": "60"}))
    waits = []
    # When the order is placed, then Then it is transient, nothing was waited in the function, nothing ordered
    with pytest.raises(ProviderUnavailable):
        adapter(fake, waits).place_order("rdm_4", ORDER)
    assert (waits, fake.orders, len(fake.requests)) == ([], {}, 1)


def test_persistent_5xx_is_transient_after_its_attempts(fake):
    fake.fail_next(*[("status", 503, {})] * 3)
    with pytest.raises(ProviderUnavailable):
        adapter(fake).place_order("rdm_5", ORDER)
    assert (len(fake.requests), fake.orders) == (3, {})


def test_a_4xx_is_final_and_not_retried(fake):
    # Given the provider refuses the order
    fake.fail_next(("status", 422, {}))
    # When it is placed, Then it is rejected at once, with the provider's reason, after one request
    with pytest.raises(ProviderRejected) as refused:
        adapter(fake).place_order("rdm_6", ORDER)
    assert (refused.value.status, refused.value.reason, len(fake.requests)) == (422, "fault 422", 1)


def test_a_refused_api_key_is_not_the_orders_fault(fake):
    # Given a wrong API key, When an order is placed, Then it is transient (the queue retries), asked once
    with pytest.raises(ProviderUnavailable, match="credentials"):
        Tremendous(fake.url, "wrong-key", timeout=0.3).place_order("rdm_7", ORDER)
    assert (len(fake.requests), fake.orders) == (1, {})
