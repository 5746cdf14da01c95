"""Makes moto's DynamoDB apply each request atomically, as DynamoDB does.

moto checks a write's conditions and then applies it without a lock, so two threads can both pass
the same condition. Real DynamoDB never lets that happen, and Laurel's no-overspend guarantee rests
on it, so the emulator used by `make run` and the tests serialises its item operations.
"""
import functools
import threading

from moto.dynamodb.models import DynamoDBBackend

OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "batch_get_item",
              "batch_write_item", "transact_get_items", "transact_write_items")
_lock = threading.RLock()


def install() -> None:
    """Idempotent: wraps each operation of moto's DynamoDB backend in one process-wide lock."""
    for name in OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is None or getattr(operation, "atomic", False):
            continue

        def atomic(self, *args, _operation=operation, **kwargs):
            with _lock:
                return _operation(self, *args, **kwargs)

        functools.update_wrapper(atomic, operation)
        atomic.atomic = True
        setattr(DynamoDBBackend, name, atomic)
