"""Makes moto's DynamoDB apply each request atomically, as DynamoDB does, and keeps transactions cheap.

moto checks a write's conditions and then applies it without a lock, so two threads can both pass
the same condition. Real DynamoDB never lets that happen, and Laurel's no-overspend guarantee rests
on it, so the emulator used by `make run` and the tests serialises its item operations.

moto also backs up every table a transaction touches by deep-copying it whole, once per item, which
makes each transaction slower as the table grows (hundreds of ms at a few thousand items). Under the
lock, backing up only the items the transaction names is enough to roll it back.

moto applies a transaction's writes one by one, each adding its stream record, and a later item's failed
condition rolls the items back but not those records: DynamoDB streams nothing of a cancelled transaction, so
the records it added are taken back with its items (the analytics' exactly-once counting rests on it).

moto's TransactGetItems reads its items one GetItem at a time (its backend method does nothing), so a
write could land between two of them: here the whole request runs under the lock, one instant, as on
DynamoDB (core/shards.py's exact "sold out" rests on it).

Under the same lock, local/strict_dynamodb.py (when switched on) refuses what DynamoDB would refuse
under contention: transactions that overlap on an item, transactional reads of an item a transaction
holds, items written too fast.
"""
import copy
import functools
import threading

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from local import strict_dynamodb

OPERATIONS = ("get_item", "query", "scan", "batch_get_item", "batch_write_item")
WRITES = ("put_item", "update_item", "delete_item")  # the item's key: their second argument
_lock = threading.RLock()
_inside = threading.local()  # a transaction's own writes are moto's put/update/delete_item calls


class _NoWholeTableCopy:
    """Stands in for `copy` inside moto's transact_write_items: tables are not copied whole."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched(backend: DynamoDBBackend, transact_items: list[dict]) -> list[tuple]:
    """(table, hash key, range key, a copy of the item as it is now or None) for every item named."""
    saved = []
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        table = backend.tables.get(operation.get("TableName"))
        attributes = operation.get("Key") or operation.get("Item") or {}
        if table is None or table.hash_key_attr not in attributes:
            continue
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr in attributes else None
        bucket = table.items.get(hash_key)
        current = (bucket or {}).get(range_key) if table.range_key_attr else bucket
        saved.append((table, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
    return saved


def _restore(saved: list[tuple]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if not table.range_key_attr:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            continue
        bucket = table.items[hash_key]
        if item is None:
            bucket.pop(range_key, None)
            if not bucket:
                table.items.pop(hash_key, None)
        else:
            bucket[range_key] = item


def _stream_lengths(saved: list[tuple]) -> list[tuple]:
    """(stream shard, records in it now) of every streamed table the transaction names."""
    shards = {id(table.stream_shard): table.stream_shard for table, *_ in saved if table.stream_shard is not None}
    return [(shard, len(shard.items)) for shard in shards.values()]


def _transact_write_items(operation):
    def transact_write_items(self, transact_items, *args, **kwargs):
        with _lock:
            pending = strict_dynamodb.before_transaction(self, transact_items)
            saved = _touched(self, transact_items)
            streamed = _stream_lengths(saved)
            models.copy = _NoWholeTableCopy
            _inside.transaction = True
            try:
                result = operation(self, transact_items, *args, **kwargs)
            except Exception:
                _restore(saved)
                for shard, length in streamed:
                    del shard.items[length:]
                raise
            finally:
                models.copy = copy
                _inside.transaction = False
            strict_dynamodb.applied(pending)
            return result

    return transact_write_items


def _serialised(operation):
    def atomic(self, *args, **kwargs):
        with _lock:
            return operation(self, *args, **kwargs)

    return atomic


def _serialised_write(operation):
    def atomic(self, table_name, attributes, *args, **kwargs):
        with _lock:
            if getattr(_inside, "transaction", False):
                return operation(self, table_name, attributes, *args, **kwargs)
            pending = strict_dynamodb.before_write(self, table_name, attributes)
            result = operation(self, table_name, attributes, *args, **kwargs)
            strict_dynamodb.applied(pending)
            return result

    return atomic


def _transact_get_items(operation):
    def transact_get_items(self, *args, **kwargs):
        with _lock:
            strict_dynamodb.before_read_transaction(self.dynamodb_backend, self.body["TransactItems"])
            return operation(self, *args, **kwargs)

    return transact_get_items


def install() -> None:
    """Idempotent: every item operation of moto's DynamoDB backend runs under one process-wide lock."""
    wrappers = {name: _serialised for name in OPERATIONS}
    wrappers.update({name: _serialised_write for name in WRITES})
    wrappers["transact_write_items"] = _transact_write_items
    for name, wrap in wrappers.items():
        operation = getattr(DynamoDBBackend, name, None)
        if operation is None or getattr(operation, "atomic", False):
            continue
        wrapped = functools.update_wrapper(wrap(operation), operation)
        wrapped.atomic = True
        setattr(DynamoDBBackend, name, wrapped)
    if not getattr(DynamoHandler.transact_get_items, "atomic", False):
        wrapped = functools.update_wrapper(_transact_get_items(DynamoHandler.transact_get_items),
                                           DynamoHandler.transact_get_items)
        wrapped.atomic = True
        DynamoHandler.transact_get_items = wrapped
