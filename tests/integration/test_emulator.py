"""The emulator's DynamoDB keeps DynamoDB's promise: a cancelled transaction changes nothing."""
import boto3
import pytest
from botocore.exceptions import ClientError


def test_a_cancelled_transaction_leaves_every_item_as_it_was(stack):
    # Given two items
    table = stack.env["LAUREL_TABLE"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "T#a"}, "sk": {"S": "x"}, "v": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "T#b"}, "sk": {"S": "x"}, "v": {"N": "1"}})
    # When a transaction changes the first, adds a third, then fails a condition on the second
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "T#a"}, "sk": {"S": "x"}, "v": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "T#c"}, "sk": {"S": "x"}, "v": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "T#b"}, "sk": {"S": "x"}, "v": {"N": "2"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    # Then it was cancelled and nothing changed
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    get = lambda pk: dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "x"}}).get("Item")  # noqa: E731
    assert get("T#a")["v"] == {"N": "1"} and get("T#b")["v"] == {"N": "1"} and get("T#c") is None
