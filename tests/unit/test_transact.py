"""Transactions: how DynamoDB failures are told apart."""


def test_a_dynamodb_timeout_is_a_retry_not_a_crash():
    """pynamodb's cause_response_code raises on a timeout; the ledger must treat it as transient."""
    from botocore.exceptions import ReadTimeoutError
    from pynamodb.exceptions import PutError, TransactWriteError

    from chalicelib.transact import error_code

    assert error_code(TransactWriteError("x", ReadTimeoutError(endpoint_url="http://h"))) is None
    assert error_code(PutError("x", ReadTimeoutError(endpoint_url="http://h"))) is None
