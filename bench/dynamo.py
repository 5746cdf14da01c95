"""Every DynamoDB request made through botocore, and what it costs by bench.capacity's rules.

pynamodb and chalicelib.core.aws both end in botocore's `BaseClient._make_api_call`, so wrapping it
sees every request (a retry inside botocore stays one request). Item sizes come from the table
itself: the bench snapshots it before and after the measured call (moto, a handful of items),
replays the writes in order on the "before" state, and takes an UpdateItem's result from the
"after" state.
"""
from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import botocore.session
from botocore.exceptions import ClientError

from bench import capacity
from bench.capacity import Index, Item

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
Key = tuple[str, ...]


@dataclass
class Call:
    operation: str
    params: dict
    response: dict
    error: str | None = None  # the error code when DynamoDB refused it


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)
    clients: list[str] = field(default_factory=list)  # services of the botocore clients created


class Recorder:
    """Records DynamoDB calls, and the botocore clients created, while `recording()` is open;
    other services and other times pass through."""

    def __init__(self) -> None:
        self._recording: Recording | None = None
        self._originals: tuple[Callable, Callable] | None = None

    def install(self) -> None:
        if self._originals is not None:
            return
        make_api_call = botocore.client.BaseClient._make_api_call
        create_client = botocore.session.Session.create_client
        self._originals = (make_api_call, create_client)
        recorder = self

        def _make_api_call(client, operation_name: str, api_params: dict):
            recording = recorder._recording
            if recording is None or client.meta.service_model.service_name != "dynamodb":
                return make_api_call(client, operation_name, api_params)
            params = copy.deepcopy(api_params)
            try:
                response = make_api_call(client, operation_name, api_params)
            except Exception as error:  # still a request (a refused condition costs capacity too)
                answer = error.response if isinstance(error, ClientError) else {}
                code = answer.get("Error", {}).get("Code") or type(error).__name__
                recording.calls.append(Call(operation_name, params, answer, code))
                raise
            recording.calls.append(Call(operation_name, params, response))
            return response

        def _create_client(session, service_name, *args, **kwargs):
            if recorder._recording is not None:
                recorder._recording.clients.append(service_name)
            return create_client(session, service_name, *args, **kwargs)

        botocore.client.BaseClient._make_api_call = _make_api_call
        botocore.session.Session.create_client = _create_client

    def uninstall(self) -> None:
        if self._originals is not None:
            botocore.client.BaseClient._make_api_call, botocore.session.Session.create_client = self._originals
            self._originals = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recording]:
        recording = Recording()
        self._recording = recording
        try:
            yield recording
        finally:
            self._recording = None


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def describe(cls, client, name: str) -> Table:
        table = client.describe_table(TableName=name)["Table"]
        keys = tuple(k["AttributeName"] for k in sorted(table["KeySchema"], key=lambda k: k["KeyType"]))
        indexes = tuple(
            Index(index["IndexName"],
                  tuple(k["AttributeName"] for k in sorted(index["KeySchema"], key=lambda k: k["KeyType"])),
                  index["Projection"]["ProjectionType"],
                  tuple(index["Projection"].get("NonKeyAttributes", ())))
            for index in table.get("GlobalSecondaryIndexes", []))
        return cls(name, keys, indexes)

    def key_of(self, item: dict) -> Key:
        return tuple(json.dumps(item[name], sort_keys=True) for name in self.keys)

    def snapshot(self, client) -> dict[Key, Item]:
        """Every item, strongly consistent (call it outside `recording()`)."""
        items: dict[Key, Item] = {}
        for page in client.get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True):
            for item in page.get("Items", []):
                items[self.key_of(item)] = item
        return items

    def index(self, name: str) -> Index:
        return next(index for index in self.indexes if index.name == name)


def label(item: Item | None, key: Key) -> str:
    """A short name for an item in the breakdown: its type (`_t`), else its partition key's prefix."""
    kind = (item or {}).get("_t", {}).get("S")
    return kind or json.loads(key[0]).get("S", "?").split("#")[0].lower()


# ---------------------------------------------------------------------------- costs


@dataclass
class ItemCost:
    action: str  # e.g. "Put", "Update", "Get"
    item: str  # label()
    size: int  # bytes the units were computed from
    rcu: float = 0.0
    wcu: int = 0
    index_writes: list[capacity.IndexWrite] = field(default_factory=list)
    largest: list[tuple[str, int]] = field(default_factory=list)  # for writes over 1 KB: what makes them big

    @property
    def index_wcu(self) -> int:
        return sum(w.units for w in self.index_writes)

    def describe(self) -> str:
        units = f"{self.rcu:g} RCU" if self.rcu else f"{self.wcu} WCU"
        text = f"{self.action} {self.item} {self.size} B → {units}"
        for write in self.index_writes:
            if write.units:
                text += f" + {write.index} {write.action} {write.units}"
        if self.largest:
            text += " [over 1 KB: " + ", ".join(f"{name} {size} B" for name, size in self.largest) + "]"
        return text


@dataclass
class CallCost:
    operation: str
    error: str | None
    items: list[ItemCost]
    note: str = ""

    @property
    def rcu(self) -> float:
        return sum(item.rcu for item in self.items)

    @property
    def wcu(self) -> int:
        return sum(item.wcu + item.index_wcu for item in self.items)

    def describe(self) -> str:
        head = self.operation + (f" [{self.error}]" if self.error else "")
        body = "; ".join(item.describe() for item in self.items)
        return f"{head}: {body}" + (f" ({self.note})" if self.note else "")


@dataclass
class Measurement:
    """One measured operation: its requests and their computed capacity."""

    name: str
    calls: list[CallCost]
    ms: float
    per: int = 1  # events the figures are divided by (a queue batch)
    clients: list[str] = field(default_factory=list)  # botocore clients created during the call

    @property
    def requests(self) -> float:
        return len(self.calls) / self.per

    @property
    def writes(self) -> float:
        return sum(1 for call in self.calls if call.operation in WRITE_OPERATIONS) / self.per

    @property
    def rcu(self) -> float:
        return sum(call.rcu for call in self.calls) / self.per

    @property
    def wcu(self) -> float:
        return sum(call.wcu for call in self.calls) / self.per

    @property
    def index_wcu(self) -> float:
        return sum(item.index_wcu for call in self.calls for item in call.items) / self.per

    def split(self, prefix: str) -> tuple["Measurement", "Measurement"]:
        """The calls on items of other kinds, and those whose every item's kind starts with `prefix` (the audit
        trail's record of a call, apart from the call's own work)."""
        def theirs(call: CallCost) -> bool:
            return bool(call.items) and all(item.item.startswith(prefix) for item in call.items)

        own = [call for call in self.calls if not theirs(call)]
        return (Measurement(self.name, own, self.ms, self.per, self.clients),
                Measurement(self.name, [call for call in self.calls if theirs(call)], self.ms, self.per))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "per": self.per, "requests": self.requests, "writes": self.writes,
                "rcu": self.rcu, "wcu": self.wcu, "index_wcu": self.index_wcu, "ms": round(self.ms, 1),
                "clients_created": len(self.clients) / self.per, "client_services": self.clients,
                "calls": [{"operation": c.operation, "error": c.error, "note": c.note,
                           "rcu": c.rcu, "wcu": c.wcu, "detail": c.describe()} for c in self.calls]}


class Accountant:
    """Prices a sequence of calls against the table's state before and after them."""

    def __init__(self, table: Table, before: dict[Key, Item], after: dict[Key, Item]) -> None:
        self.table = table
        self.state = dict(before)
        self.after = after

    def price(self, calls: list[Call]) -> list[CallCost]:
        return [self._call(call) for call in calls]

    def _call(self, call: Call) -> CallCost:
        handler = getattr(self, f"_{call.operation}", None)
        if handler is None:
            return CallCost(call.operation, call.error, [], note="not priced")
        items, note = handler(call)
        return CallCost(call.operation, call.error, items, note)

    # reads

    def _get(self, key: Key, action: str, *, consistent: bool, transactional: bool = False) -> ItemCost:
        item = self.state.get(key)
        size = capacity.item_size(item)
        return ItemCost(action, label(item, key), size,
                        rcu=capacity.read_units(size, consistent=consistent, transactional=transactional))

    def _GetItem(self, call: Call):
        key = self.table.key_of(call.params["Key"])
        return [self._get(key, "Get", consistent=call.params.get("ConsistentRead", False))], ""

    def _BatchGetItem(self, call: Call):
        spec = call.params["RequestItems"][self.table.name]
        consistent = spec.get("ConsistentRead", False)
        return [self._get(self.table.key_of(key), "Get", consistent=consistent) for key in spec["Keys"]], ""

    def _TransactGetItems(self, call: Call):
        return [self._get(self.table.key_of(entry["Get"]["Key"]), "TxGet", consistent=True, transactional=True)
                for entry in call.params["TransactItems"]], ""

    def _Query(self, call: Call):
        """The sum of the index entries (or items) read, rounded up once; a filter hides some of them."""
        index = self.table.index(call.params["IndexName"]) if call.params.get("IndexName") else None
        size = 0
        for returned in call.response.get("Items", []):
            full = self.state.get(self.table.key_of(returned), returned)
            size += capacity.item_size(index.entry(full, self.table.keys) if index else full)
        count = len(call.response.get("Items", []))
        scanned = call.response.get("ScannedCount", count)
        note = f"{count} item(s)" + (f", {scanned - count} filtered out and not sized" if scanned > count else "")
        where = f"{index.name}" if index else "table"
        return [ItemCost("Query", where, size,
                         rcu=capacity.read_units(size, consistent=call.params.get("ConsistentRead", False)))], note

    _Scan = _Query

    # writes

    def _write(self, action: str, key: Key, new: Item | None, *, transactional: bool, applied: bool) -> ItemCost:
        old = self.state.get(key)
        size = max(capacity.item_size(old), capacity.item_size(new))
        cost = ItemCost(action, label(new or old, key), size,
                        wcu=capacity.write_units(size, transactional=transactional))
        if size > capacity.WRITE_UNIT_BYTES:
            biggest = max((old, new), key=capacity.item_size)
            cost.largest = sorted(((name, capacity.attribute_size(name, value)) for name, value in biggest.items()),
                                  key=lambda pair: -pair[1])[:3]
        if applied:
            cost.index_writes = [capacity.index_write(index, self.table.keys, old, new)
                                 for index in self.table.indexes]
            if new is None:
                self.state.pop(key, None)
            else:
                self.state[key] = new
        return cost

    def _put(self, item: Item, transactional: bool, applied: bool) -> ItemCost:
        return self._write("Put", self.table.key_of(item), item, transactional=transactional, applied=applied)

    def _update(self, key_item: dict, transactional: bool, applied: bool) -> ItemCost:
        key = self.table.key_of(key_item)
        # The item after the update, from the table after the whole measured call.
        new = self.after.get(key) if applied else self.state.get(key)
        return self._write("Update", key, new, transactional=transactional, applied=applied)

    def _delete(self, key_item: dict, transactional: bool, applied: bool) -> ItemCost:
        return self._write("Delete", self.table.key_of(key_item), None, transactional=transactional,
                           applied=applied)

    def _PutItem(self, call: Call):
        return [self._put(call.params["Item"], False, call.error is None)], ""

    def _UpdateItem(self, call: Call):
        return [self._update(call.params["Key"], False, call.error is None)], ""

    def _DeleteItem(self, call: Call):
        return [self._delete(call.params["Key"], False, call.error is None)], ""

    def _BatchWriteItem(self, call: Call):
        items = []
        for request in call.params["RequestItems"][self.table.name]:
            if "PutRequest" in request:
                items.append(self._put(request["PutRequest"]["Item"], False, call.error is None))
            else:
                items.append(self._delete(request["DeleteRequest"]["Key"], False, call.error is None))
        return items, ""

    def _TransactWriteItems(self, call: Call):
        applied = call.error is None
        items = []
        for entry in call.params["TransactItems"]:
            if "Put" in entry:
                items.append(self._put(entry["Put"]["Item"], True, applied))
            elif "Update" in entry:
                items.append(self._update(entry["Update"]["Key"], True, applied))
            elif "Delete" in entry:
                items.append(self._delete(entry["Delete"]["Key"], True, applied))
            else:  # ConditionCheck: priced as a transactional write of the item checked
                key = self.table.key_of(entry["ConditionCheck"]["Key"])
                item = self.state.get(key)
                size = capacity.item_size(item)
                items.append(ItemCost("Check", label(item, key), size,
                                      wcu=capacity.write_units(size, transactional=True)))
        return items, ("cancelled: priced as if applied" if not applied else "")


# ---------------------------------------------------------------------------- measuring


class Meter:
    """Measures one action: the DynamoDB calls it makes and their capacity."""

    def __init__(self, recorder: Recorder, table: Table, client) -> None:
        self.recorder = recorder
        self.table = table
        self.client = client  # for snapshots: not recorded

    def measure(self, name: str, action: Callable[[], Any], per: int = 1) -> tuple[Measurement, Any]:
        before = self.table.snapshot(self.client)
        with self.recorder.recording() as recording:
            started = time.perf_counter()
            result = action()
            ms = (time.perf_counter() - started) * 1000
        after = self.table.snapshot(self.client)
        priced = Accountant(self.table, before, after).price(recording.calls)
        return Measurement(name, priced, ms, per, recording.clients), result
