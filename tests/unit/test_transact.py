"""Transactions: how DynamoDB failures are told apart."""
import pytest


def test_a_dynamodb_timeout_is_a_retry_not_a_crash():
    """pynamodb's cause_response_code raises on a timeout; the ledger must treat it as transient."""
    from botocore.exceptions import ReadTimeoutError
    from pynamodb.exceptions import PutError, TransactWriteError

    from chalicelib.core.transact import error_code

    assert error_code(TransactWriteError("x", ReadTimeoutError(endpoint_url="http://h"))) is None
    assert error_code(PutError("x", ReadTimeoutError(endpoint_url="http://h"))) is None


def test_throttling_and_timeouts_are_transient_but_a_failed_condition_is_not():
    from botocore.exceptions import ClientError, ReadTimeoutError
    from pynamodb.exceptions import GetError

    from chalicelib.core.transact import is_transient

    def client_error(code):
        return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetItem")

    assert is_transient(GetError("x", client_error("ProvisionedThroughputExceededException")))
    assert is_transient(GetError("x", ReadTimeoutError(endpoint_url="http://h")))
    assert not is_transient(GetError("x", client_error("ValidationException")))
    assert not is_transient(ValueError("not DynamoDB"))


class _RefusingTransactWrite:
    """Stands in for pynamodb's TransactWrite: commits nothing and raises `error` on leaving the block."""

    error: Exception

    def __init__(self, connection=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        raise self.error


def _dynamodb_refuses(monkeypatch, code: str, reasons: tuple[str, ...] = ()) -> None:
    """Every transaction fails with DynamoDB error `code` (and these cancellation reason codes)."""
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    from chalicelib.core import transact

    cause = VerboseClientError({"Error": {"Code": code, "Message": "refused"}}, "TransactWriteItems",
                               cancellation_reasons=[CancellationReason(reason) if reason != "None" else None
                                                     for reason in reasons])
    refusing = type("Refusing", (_RefusingTransactWrite,), {"error": TransactWriteError("x", cause)})
    monkeypatch.setattr(transact, "TransactWrite", refusing)
    monkeypatch.setattr(transact.db, "connection", lambda: None)


def _attempts_until_it_gives_up(monkeypatch) -> tuple[int, Exception]:
    """How many times with_retries commits before an error escapes it, and that error."""
    from chalicelib.core import transact

    monkeypatch.setattr(transact.time, "sleep", lambda seconds: None)
    attempts = []

    def attempt():
        attempts.append(1)
        transact.Tx().commit()

    try:
        transact.with_retries(attempt)
    except Exception as error:  # noqa: BLE001 - which error escapes is what is tested
        return len(attempts), error
    raise AssertionError("the commit succeeded")


@pytest.mark.parametrize("code, reasons", [
    ("ValidationException", ()),  # e.g. an item larger than 400 KB, or an expression DynamoDB rejects
    ("TransactionCanceledException", ("None", "ValidationError")),  # an item of the transaction too large
    ("TransactionCanceledException", ("ItemCollectionSizeLimitExceeded",)),
    ("AccessDeniedException", ()),
])
def test_a_permanent_refusal_is_raised_at_once_not_retried_into_a_503(monkeypatch, code, reasons):
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.core.errors import Contention

    # Given DynamoDB refuses the transaction for good
    _dynamodb_refuses(monkeypatch, code, reasons)

    # When a change commits under the retry loop
    attempts, error = _attempts_until_it_gives_up(monkeypatch)

    # Then it is tried once and DynamoDB's own error escapes (the API's 500 and its log), not a 503 "busy"
    assert attempts == 1
    assert isinstance(error, TransactWriteError) and not isinstance(error, Contention)


@pytest.mark.parametrize("code, reasons", [
    ("ThrottlingException", ()),
    ("ProvisionedThroughputExceededException", ()),
    ("RequestLimitExceeded", ()),
    ("InternalServerError", ()),
    ("TransactionConflictException", ()),
    ("TransactionInProgressException", ()),
    ("TransactionCanceledException", ("None", "TransactionConflict")),
    ("TransactionCanceledException", ("ThrottlingError", "None")),
    ("TransactionCanceledException", ("ProvisionedThroughputExceeded",)),
])
def test_throttling_conflicts_and_server_errors_are_retried_until_busy(monkeypatch, code, reasons):
    from chalicelib.core import transact
    from chalicelib.core.errors import Contention

    # Given DynamoDB keeps failing the transaction in a way that may pass later
    _dynamodb_refuses(monkeypatch, code, reasons)

    # When a change commits under the retry loop
    attempts, error = _attempts_until_it_gives_up(monkeypatch)

    # Then every attempt is made before the caller is told to try again (503 busy)
    assert attempts == transact.ATTEMPTS
    assert isinstance(error, Contention)


def test_a_lost_connection_is_retried(monkeypatch):
    from botocore.exceptions import EndpointConnectionError
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.core import transact
    from chalicelib.core.errors import Contention

    # Given the connection to DynamoDB is lost on every attempt
    refusing = type("Refusing", (_RefusingTransactWrite,),
                    {"error": TransactWriteError("x", EndpointConnectionError(endpoint_url="http://h"))})
    monkeypatch.setattr(transact, "TransactWrite", refusing)
    monkeypatch.setattr(transact.db, "connection", lambda: None)

    # When a change commits under the retry loop
    attempts, error = _attempts_until_it_gives_up(monkeypatch)

    # Then it is retried each time, and the caller is told to try again
    assert (attempts, type(error)) == (transact.ATTEMPTS, Contention)
