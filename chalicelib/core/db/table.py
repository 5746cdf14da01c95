"""The table itself: its connection, its three overloaded indexes, the base of every item, and the reads
that span item types (a key, a batch of keys, a page of an index)."""
import hashlib
import os

from pynamodb.attributes import DiscriminatorAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core import aws, settings

SHARDS = 8  # write-spreading for the "falls due" partitions of gsi2/gsi3


def shard_of(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % SHARDS


class _Meta:
    table_name = settings.table_name()
    region = settings.region()
    host = os.environ.get("AWS_ENDPOINT_URL") or None
    max_retry_attempts = 3
    connect_timeout_seconds = 2
    read_timeout_seconds = 5


def connection() -> Connection:
    """The table's own connection (one botocore client per process), for transactions."""
    return Item._get_connection().connection


TRANSACTION_FIELDS = ["_t", "txn_id", "kind", "points", "balance_after", "event_id", "redemption_id", "reason",
                      "created_at", "expires_at", "reverses", "available_at"]


class Gsi1(GlobalSecondaryIndex):
    """A member's transactions: only what a transaction shows is copied, so each entry's index write stays small."""

    class Meta(_Meta):
        index_name = "gsi1"
        projection = IncludeProjection(TRANSACTION_FIELDS)

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "gsi2"
        projection = KeysOnlyProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "gsi3"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Item(Model):
    """Every item of the table; `_t` says which kind it is."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute(attr_name="_t")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()


def get(model: type, key: tuple[str, str], consistent: bool = True):
    """One GetItem; None when absent or of another kind."""
    try:
        item = Item.get(*key, consistent_read=consistent)
    except Item.DoesNotExist:
        return None
    return item if isinstance(item, model) else None


def index_keys(index: str, partition: str, limit: int, sort_before: str | None = None) -> list[tuple[str, str]]:
    """Table keys from a KEYS_ONLY index (pynamodb's own query would filter on the unprojected `_t`)."""
    condition, values = f"{index}pk = :p", {":p": {"S": partition}}
    if sort_before is not None:
        condition += f" AND {index}sk < :s"
        values[":s"] = {"S": sort_before}
    keys, start = [], None
    while len(keys) < limit:
        page = aws.client("dynamodb").query(
            TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=condition,
            ExpressionAttributeValues=values, Limit=limit - len(keys), **({"ExclusiveStartKey": start} if start else {}))
        keys += [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return keys


def index_page(index: str, partition: str, limit: int, start: dict | None,
               newest_first: bool = False) -> tuple[list[tuple[str, str]], dict | None]:
    """One page of table keys from a KEYS_ONLY index partition, and where the next page starts (None: done)."""
    page = aws.client("dynamodb").query(
        TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
        ExpressionAttributeValues={":p": {"S": partition}}, Limit=limit, ScanIndexForward=not newest_first,
        **({"ExclusiveStartKey": start} if start else {}))
    return [(item["pk"]["S"], item["sk"]["S"]) for item in page.get("Items", [])], page.get("LastEvaluatedKey")


FILTERED_READS, FILTERED_READ_SIZE = 5, 100  # Queries one filtered page may make, and entries each reads


def filtered_index_page(index: str, partition: str, attribute: str, value: str, wanted: int, start: dict | None,
                        newest_first: bool = False) -> tuple[list[dict], dict | None]:
    """Up to `wanted` items (raw attribute maps) of an index partition whose `attribute` is `value`, and where
    the next page starts (None: done). DynamoDB filters after it reads, and charges for every entry it reads:
    each Query reads up to FILTERED_READ_SIZE entries, at most FILTERED_READS are made, so a page of a partition
    where few items match stops short, with a cursor, instead of reading the whole partition."""
    found: list[dict] = []
    for _ in range(FILTERED_READS):
        page = aws.client("dynamodb").query(
            TableName=_Meta.table_name, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
            FilterExpression="#a = :v", ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":p": {"S": partition}, ":v": {"S": value}}, Limit=FILTERED_READ_SIZE,
            ScanIndexForward=not newest_first, **({"ExclusiveStartKey": start} if start else {}))
        for item in page.get("Items", []):
            found.append(item)
            if len(found) == wanted:  # full: the next page starts after this item
                return found, {name: item[name] for name in ("pk", "sk", f"{index}pk", f"{index}sk")}
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    return found, start


def get_many(*keys: tuple[str, str]) -> dict[tuple[str, str], Item]:
    """One BatchGetItem for several items of any kind, keyed by (pk, sk)."""
    found = Item.batch_get(list(keys), consistent_read=True)
    return {(item.pk, item.sk): item for item in found}
