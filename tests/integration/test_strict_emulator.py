"""The emulator's strict mode refuses what DynamoDB refuses under contention, and only when switched on."""
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from local import strict_dynamodb


@pytest.fixture
def strict(stack):
    """Strict mode for one test: a long hold (so overlap is certain) and DynamoDB's per-item limit."""
    def switch_on(commit_ms: float = 500, item_wcu: int = strict_dynamodb.DYNAMODB_ITEM_WCU):
        return strict_dynamodb.enable(commit_ms=commit_ms, item_wcu=item_wcu)

    yield switch_on
    strict_dynamodb.disable()


def put(table: str, pk: str, value: int = 1, condition: str | None = None) -> dict:
    operation = {"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, "v": {"N": str(value)}}}
    if condition:
        operation["ConditionExpression"] = condition
    return {"Put": operation}


def stored(table: str, pk: str):
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "x"}}).get("Item")
    return int(item["v"]["N"]) if item else None


def test_a_transaction_overlapping_another_on_an_item_is_cancelled_with_transaction_conflict(stack, strict):
    # Given strict mode, and a transaction that has just written items a and b
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb")
    strict()
    dynamodb.transact_write_items(TransactItems=[put(table, "S#a"), put(table, "S#b")])
    # When another transaction writes c and b while the first still holds b
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[put(table, "S#c", 2), put(table, "S#b", 2)])
    # Then it is cancelled as DynamoDB cancels it: TransactionConflict on b, None on c, nothing written
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert error["CancellationReasons"][1]["Message"] == "Transaction is ongoing for the item"
    assert (stored(table, "S#b"), stored(table, "S#c")) == (1, None)
    assert strict_dynamodb.counters()["transaction_conflicts"] == 1


def test_a_single_write_to_an_item_a_transaction_holds_fails_with_transaction_conflict(stack, strict):
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb")
    strict()
    dynamodb.transact_write_items(TransactItems=[put(table, "S#held")])
    with pytest.raises(ClientError) as refused:
        dynamodb.update_item(TableName=table, Key={"pk": {"S": "S#held"}, "sk": {"S": "x"}},
                             UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "9"}})
    assert refused.value.response["Error"]["Code"] == "TransactionConflictException"
    assert stored(table, "S#held") == 1
    assert strict_dynamodb.counters()["write_conflicts"] == 1


def test_disjoint_transactions_and_a_transaction_after_the_hold_commit(stack, strict):
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb")
    strict(commit_ms=50)
    dynamodb.transact_write_items(TransactItems=[put(table, "S#d1"), put(table, "S#d2")])
    dynamodb.transact_write_items(TransactItems=[put(table, "S#d3"), put(table, "S#d4")])  # disjoint: at once
    time.sleep(0.06)
    dynamodb.transact_write_items(TransactItems=[put(table, "S#d1", 2)])  # the first's hold is over
    assert [stored(table, f"S#d{n}") for n in (1, 2, 3, 4)] == [2, 1, 1, 1]
    assert strict_dynamodb.counters()["transaction_conflicts"] == 0


def test_an_item_written_past_its_limit_is_throttled(stack, strict):
    # Given strict mode with a per-item limit of 4 WCU a second
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb", config=_no_sdk_retries())
    strict(commit_ms=0, item_wcu=4)
    # When an item under 1 KB is written 4 times (1 WCU each), then once more, and then in a transaction
    for value in range(4):
        dynamodb.put_item(**put(table, "S#hot", value)["Put"])
    with pytest.raises(ClientError) as throttled:
        dynamodb.put_item(**put(table, "S#hot", 99)["Put"])
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[put(table, "S#cold"), put(table, "S#hot", 98)])
    # Then both are refused as DynamoDB refuses them, and another item is not
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttled.value.response["Error"]["Message"] == strict_dynamodb.THROTTLED
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert stored(table, "S#hot") == 3
    dynamodb.put_item(**put(table, "S#other")["Put"])
    # And a second later the item takes writes again
    time.sleep(1.05)
    dynamodb.put_item(**put(table, "S#hot", 7)["Put"])
    assert stored(table, "S#hot") == 7
    assert strict_dynamodb.counters()["throttled_writes"] == 1
    assert strict_dynamodb.counters()["throttled_transactions"] == 1


def test_strict_mode_is_off_by_default(stack):
    # Given the emulator as every other test uses it
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb")
    assert strict_dynamodb.settings() is None
    # When transactions on one item follow each other at once, and it is written far past any limit
    for value in range(3):
        dynamodb.transact_write_items(TransactItems=[put(table, "S#free", value)])
    for value in range(20):
        dynamodb.update_item(TableName=table, Key={"pk": {"S": "S#free"}, "sk": {"S": "x"}},
                             UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": str(value)}})
    # Then nothing is refused
    assert stored(table, "S#free") == 19


def test_a_conditional_write_that_meets_a_transaction_in_flight_is_sent_again(stack, strict):
    from pynamodb.attributes import NumberAttribute

    from chalicelib.core import db, transact

    class Counter(db.Item, discriminator="strict-test-counter"):
        n = NumberAttribute(default=0)

    # Given an item a transaction holds for 50 ms
    strict(commit_ms=50)
    counter = Counter("S#counter", "x", n=0)
    tx = transact.Tx()
    tx.put("counter", counter)
    tx.commit()
    transact.tally.take()
    # When a single conditional write to it follows at once
    written = transact.update_if(counter, [Counter.n.add(1)], Counter.n < 10)
    # Then it was refused while the transaction held the item, sent again, and written once
    assert written is True
    assert strict_dynamodb.counters()["write_conflicts"] >= 1
    assert transact.tally.take()["retried"] == strict_dynamodb.counters()["write_conflicts"]
    assert stored_n(stack.env["LAUREL_TABLE"], "S#counter") == 1


def stored_n(table: str, pk: str) -> int:
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "x"}})["Item"]
    return int(item["n"]["N"])


def _no_sdk_retries():
    from botocore.config import Config

    return Config(retries={"total_max_attempts": 1})


def test_a_transactional_read_of_an_item_a_transaction_holds_is_cancelled_with_transaction_conflict(stack, strict):
    # Given strict mode, and a transaction that has just written item r1
    table, dynamodb = stack.env["LAUREL_TABLE"], boto3.client("dynamodb")
    strict(commit_ms=100)
    dynamodb.transact_write_items(TransactItems=[put(table, "S#r1"), put(table, "S#r2")])
    time.sleep(0.11)
    dynamodb.transact_write_items(TransactItems=[put(table, "S#r1", 2)])
    # When a TransactGetItems reads r2 and r1 while that transaction still holds r1
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_get_items(TransactItems=[get(table, "S#r2"), get(table, "S#r1")])
    # Then it is cancelled as DynamoDB cancels it: TransactionConflict on r1, None on r2
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert strict_dynamodb.counters()["read_conflicts"] == 1
    # And once the hold is over it reads both, as committed
    time.sleep(0.11)
    read = dynamodb.transact_get_items(TransactItems=[get(table, "S#r2"), get(table, "S#r1")])["Responses"]
    assert [int(answer["Item"]["v"]["N"]) for answer in read] == [1, 2]


def test_a_split_stock_read_while_a_transaction_holds_a_shard_is_read_again_not_a_500(stack, api, program, strict):
    from chalicelib.core import db, shards, transact
    from chalicelib.rewards import redemptions, stock

    # Given a reward whose stock is split into shards, and a member with points
    path, admin = program["path"], program["admin"]
    api.call("PUT", f"{path}/members/reader", admin, {"name": "Reader"})
    api.call("POST", f"{path}/members/reader/adjustments", admin, {"points": 10, "reason": "seed"},
             {"Idempotency-Key": "seed-reader"})
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cup", "cost": 1, "stock": 64})[1]
    redemptions.create(program["org_id"], program["id"], "reader", {"reward_id": reward["id"]}, "first")
    counter = stock.counter(db.get(db.RewardItem, db.RewardItem.key(program["id"], reward["id"])))
    assert counter is not None and counter.count > 1
    # And the shard the next redemption takes from is empty (its units moved to another shard)
    own = shards.index_for("second", counter.count)
    other = (own + 1) % counter.count
    emptied = counter.shard(own)
    emptied.refresh()
    moved = int(emptied.left)
    emptied.update(actions=[db.ShardItem.left.set(0)])
    counter.shard(other).update(actions=[db.ShardItem.left.add(moved)])
    # When, in strict mode, a transaction has just written a third shard, and the redemption comes at once
    strict(commit_ms=300)
    held = transact.Tx()
    held.update("held", counter.shard((own + 2) % counter.count), [db.ShardItem.taken.add(0)])
    held.commit()
    transact.tally.take()
    redemptions.create(program["org_id"], program["id"], "reader", {"reward_id": reward["id"]}, "second")
    # Then its read of every shard met the hold, was tried again, and the redemption went through
    assert strict_dynamodb.counters()["read_conflicts"] >= 1
    assert transact.tally.take()["retried"] >= 1
    assert api.call("GET", f"{path}/rewards/{reward['id']}", admin)[1]["stock"] == 62


def get(table: str, pk: str) -> dict:
    return {"Get": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": "x"}}}}
