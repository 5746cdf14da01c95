"""Transactions: how DynamoDB failures are told apart."""


def test_a_dynamodb_timeout_is_a_retry_not_a_crash():
    """pynamodb's cause_response_code raises on a timeout; the ledger must treat it as transient."""
    from botocore.exceptions import ReadTimeoutError
    from pynamodb.exceptions import PutError, TransactWriteError

    from chalicelib.transact import error_code

    assert error_code(TransactWriteError("x", ReadTimeoutError(endpoint_url="http://h"))) is None
    assert error_code(PutError("x", ReadTimeoutError(endpoint_url="http://h"))) is None


def test_throttling_and_timeouts_are_transient_but_a_failed_condition_is_not():
    from botocore.exceptions import ClientError, ReadTimeoutError
    from pynamodb.exceptions import GetError

    from chalicelib.transact import is_transient

    def client_error(code):
        return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetItem")

    assert is_transient(GetError("x", client_error("ProvisionedThroughputExceededException")))
    assert is_transient(GetError("x", ReadTimeoutError(endpoint_url="http://h")))
    assert not is_transient(GetError("x", client_error("ValidationException")))
    assert not is_transient(ValueError("not DynamoDB"))
