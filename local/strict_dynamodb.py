"""DynamoDB's contention limits in the emulator: transaction conflicts and per-item throttling (off by default).

moto applies every request at once under atomic_dynamodb's lock, so two transactions on one item never
overlap and no item is ever too hot: code that would stall or answer 503 on DynamoDB passes every test.
In strict mode the emulator refuses what DynamoDB refuses, with DynamoDB's codes and messages:

- Transactions are in flight for a while. A TransactWriteItems that commits holds every item it names
  (ConditionCheck included) from its start for the commit latency (LAUREL_STRICT_COMMIT_MS, default 5 ms:
  DynamoDB's two-phase commit takes a few ms). Nothing waits for the hold: the request answers at once,
  and the hold only stands in the way of what comes next. A transaction that names an item another
  transaction holds is cancelled: TransactionCanceledException, reason `TransactionConflict` for that
  item and `None` for the others, nothing written. A single-item PutItem, UpdateItem or DeleteItem
  (BatchWriteItem's included) on a held item fails with TransactionConflictException. A cancelled
  transaction holds nothing (its prepare phase is not modelled). A TransactGetItems that names an item a
  transaction holds is cancelled the same way (TransactionConflict for that item, nothing read), as DynamoDB
  cancels a transactional read of an item a write transaction is committing; it holds nothing itself (a
  write never waits for a read). Other reads are never refused (GetItem, Query and BatchGetItem read the
  committed item, as on DynamoDB).
- An item takes at most LAUREL_STRICT_ITEM_WCU write units a second (default 1,000: DynamoDB's per-item
  and per-partition limit). Each write to an item counts its units in a sliding one-second window: a
  standard write 1 per KB, a transactional one (a ConditionCheck too) 2 per KB, of the larger of the item
  before and (for a put) after. A write that would take the window past the limit is refused: a single
  write with ProvisionedThroughputExceededException, a transaction cancelled with reason `ThrottlingError`
  for that item. The emulator is far slower than DynamoDB, so a run that wants to see throttling at
  emulator speed scales the limit down and says so (the bench does).

Switched on by LAUREL_STRICT_DYNAMODB=1 when the emulator starts (local/emulator.py, `make load`), or by
enable() in a process that runs moto in place (the bench's contention run, the contention tests).
counters() says how many requests each rule refused.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException, TransactionCanceledException
from moto.dynamodb.models.dynamo_type import DynamoType, bytesize

SWITCH = "LAUREL_STRICT_DYNAMODB"
COMMIT_MS = "LAUREL_STRICT_COMMIT_MS"
ITEM_WCU = "LAUREL_STRICT_ITEM_WCU"
DEFAULT_COMMIT_MS = 5.0
DYNAMODB_ITEM_WCU = 1000
WINDOW_SECONDS = 1.0
KB = 1024

# DynamoDB's own words.
CONFLICT_REASON = "Transaction is ongoing for the item"
THROTTLED = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling "
             "your table or index so please try again shortly. If exceptions persist, check if you have a hot "
             "key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html")


class TransactionConflictException(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "TransactionConflictException", CONFLICT_REASON)


class ProvisionedThroughputExceededException(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException", THROTTLED)


@dataclass(frozen=True)
class Settings:
    commit_ms: float = DEFAULT_COMMIT_MS
    item_wcu: int = DYNAMODB_ITEM_WCU


@dataclass
class Counters:
    transactions: int = 0  # TransactWriteItems requests seen
    transaction_conflicts: int = 0  # cancelled: an item was held by another transaction
    write_conflicts: int = 0  # single-item writes refused: the item was held by a transaction
    read_conflicts: int = 0  # TransactGetItems cancelled: an item was held by a write transaction
    throttled_transactions: int = 0
    throttled_writes: int = 0


_settings: Settings | None = None  # None: off
_counters = Counters()
_holds: dict[tuple, float] = {}  # item -> until when (time.monotonic()) a transaction holds it
_units: dict[tuple, deque] = {}  # item -> (when, write units) within the last WINDOW_SECONDS
_state_lock = threading.Lock()  # for enable/counters from other threads; the hooks run under the emulator's lock


def enable(commit_ms: float | None = None, item_wcu: int | None = None) -> Settings:
    """Strict from now on (settings from the arguments, else the environment, else DynamoDB's); a fresh start."""
    global _settings
    with _state_lock:
        _settings = Settings(
            commit_ms=float(commit_ms if commit_ms is not None else os.environ.get(COMMIT_MS, DEFAULT_COMMIT_MS)),
            item_wcu=int(item_wcu if item_wcu is not None else os.environ.get(ITEM_WCU, DYNAMODB_ITEM_WCU)))
        _holds.clear()
        _units.clear()
        _reset_counters()
        return _settings


def disable() -> None:
    global _settings
    with _state_lock:
        _settings = None
        _holds.clear()
        _units.clear()


def enable_from_environment() -> Settings | None:
    """enable() if LAUREL_STRICT_DYNAMODB is set to 1 (the emulator's start)."""
    return enable() if os.environ.get(SWITCH, "") == "1" else None


def settings() -> Settings | None:
    return _settings


def counters() -> dict[str, int]:
    with _state_lock:
        return asdict(_counters)


def reset_counters() -> None:
    with _state_lock:
        _reset_counters()


def _reset_counters() -> None:
    global _counters
    _counters = Counters()


# ---------------------------------------------------------------- hooks (called under the emulator's lock)

@dataclass
class Pending:
    """What a write will leave behind once it has been applied: holds and write units."""

    keys: list[tuple]
    units: list[int]
    started: float
    transaction: bool


def before_transaction(backend, transact_items: list[dict]) -> Pending | None:
    """Cancel the transaction as DynamoDB would (conflict first, then throttling), or say what it will leave."""
    if _settings is None:
        return None
    now = time.monotonic()
    _counters.transactions += 1
    named = [_named(backend, entry) for entry in transact_items]
    conflicts = [key is not None and _held(key, now) for key, _ in named]
    if any(conflicts):
        _counters.transaction_conflicts += 1
        raise TransactionCanceledException([("TransactionConflict", CONFLICT_REASON, None) if conflict
                                            else (None, None, None) for conflict in conflicts])
    units = [2 * size_units for _, size_units in named]
    throttled = [key is not None and _over(key, units_now, now) for (key, _), units_now in zip(named, units)]
    if any(throttled):
        _counters.throttled_transactions += 1
        raise TransactionCanceledException([("ThrottlingError", THROTTLED, None) if over else (None, None, None)
                                            for over in throttled])
    return Pending([key for key, _ in named], units, now, transaction=True)


def before_read_transaction(backend, transact_items: list[dict]) -> None:
    """Cancel a TransactGetItems as DynamoDB would when a write transaction holds an item it names."""
    if _settings is None:
        return
    now = time.monotonic()
    conflicts = [key is not None and _held(key, now) for key, _ in (_named(backend, entry) for entry in transact_items)]
    if any(conflicts):
        _counters.read_conflicts += 1
        raise TransactionCanceledException([("TransactionConflict", CONFLICT_REASON, None) if conflict
                                            else (None, None, None) for conflict in conflicts])


def before_write(backend, table_name: str, attributes: dict) -> Pending | None:
    """Refuse a single-item write as DynamoDB would, or say what it will leave."""
    if _settings is None:
        return None
    now = time.monotonic()
    key, size_units = _item(backend, table_name, attributes, attributes)
    if key is None:
        return None
    if _held(key, now):
        _counters.write_conflicts += 1
        raise TransactionConflictException()
    if _over(key, size_units, now):
        _counters.throttled_writes += 1
        raise ProvisionedThroughputExceededException()
    return Pending([key], [size_units], now, transaction=False)


def applied(pending: Pending | None) -> None:
    """The write went through: count its units, and hold a transaction's items for the commit latency."""
    if pending is None or _settings is None:
        return
    until = pending.started + _settings.commit_ms / 1000
    for key, units in zip(pending.keys, pending.units):
        if key is None:
            continue
        _units.setdefault(key, deque()).append((pending.started, units))
        if pending.transaction:
            _holds[key] = until


def _held(key: tuple, now: float) -> bool:
    until = _holds.get(key)
    if until is None:
        return False
    if until <= now:
        del _holds[key]
        return False
    return True


def _over(key: tuple, units: int, now: float) -> bool:
    window = _units.get(key)
    if window is None:
        return units > _settings.item_wcu
    while window and window[0][0] <= now - WINDOW_SECONDS:
        window.popleft()
    if not window:
        del _units[key]
    return sum(u for _, u in window) + units > _settings.item_wcu


def _named(backend, entry: dict) -> tuple[tuple | None, int]:
    operation_type, operation = next(iter(entry.items()))
    attributes = operation.get("Key") or operation.get("Item") or {}
    return _item(backend, operation.get("TableName"), attributes, operation.get("Item"))


def _item(backend, table_name: str, attributes: dict, new_item: dict | None) -> tuple[tuple | None, int]:
    """The item's identity (table, hash key, range key) and its size in KB units (at least 1)."""
    table = backend.tables.get(table_name)
    if table is None or table.hash_key_attr not in attributes:
        return None, 0
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr in attributes else None
    bucket = table.items.get(hash_key)
    current = (bucket or {}).get(range_key) if table.range_key_attr else bucket
    size = current.size() if current is not None else 0
    if new_item:
        size = max(size, sum(bytesize(name) + DynamoType(value).size() for name, value in new_item.items()))
    return (table_name, hash_key, range_key), max(1, math.ceil(size / KB))


def describe() -> dict[str, Any] | None:
    """The settings in force, for a report: None when off."""
    return None if _settings is None else {**asdict(_settings), "dynamodb_item_wcu": DYNAMODB_ITEM_WCU}
