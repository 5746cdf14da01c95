"""DynamoDB's documented size and capacity rules, for items in the low-level (typed JSON) format.

moto reports no ConsumedCapacity, so the bench computes it from the items themselves:

- item size: for each attribute, the UTF-8 length of its name plus the size of its value
  (String: UTF-8 bytes; Number: 1 byte per two significant digits + 1; Binary: raw bytes;
  Boolean/Null: 1; List/Map: 3 bytes + 1 byte and the size of each element, a Map's element
  also counting its key's UTF-8 length; sets: the sum of their elements);
- writes: ceil(size / 1 KB) write units per item, twice that inside TransactWriteItems;
  PutItem/UpdateItem count the larger of the item before and after, DeleteItem the item deleted;
- reads: ceil(size / 4 KB) read units per item strongly consistent, half that eventually
  consistent, twice that transactional; BatchGetItem rounds each item, Query/Scan round the sum
  of what they return; a read that finds nothing still costs the minimum;
- a global secondary index costs ceil(projected size / 1 KB) for each index entry written: a put
  when an item gains the index keys, a delete when it loses them, both when they change, one
  update when they stay but a projected attribute changes (not doubled inside a transaction).
  The projected size is the item's for an ALL projection, its table and index keys for KEYS_ONLY
  (plus the listed attributes for INCLUDE); the 100 bytes of index overhead AWS adds for storage
  are left out.

Sources: the DynamoDB Developer Guide, "DynamoDB item sizes and formats", "DynamoDB read and
write operations" and "Global secondary indexes: provisioned throughput considerations".
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

KB = 1024
READ_UNIT_BYTES = 4 * KB
WRITE_UNIT_BYTES = KB
Item = dict[str, dict]  # {"name": {"S": "value"}, ...}


# ---------------------------------------------------------------------------- sizes


def number_size(text: str) -> int:
    """Bytes of a Number value: 1 byte per two significant digits, plus 1 (and 1 if negative).

    Leading and trailing zeros are trimmed, as DynamoDB does; zero itself takes 1 byte.
    AWS calls this rule approximate: the real encoding pairs digits around the decimal point.
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a DynamoDB number: {text!r}") from None
    if value.is_zero():
        return 1
    digits = "".join(str(d) for d in value.as_tuple().digits).strip("0")
    return math.ceil(len(digits) / 2) + 1 + (1 if value.is_signed() else 0)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _binary(value) -> int:
    """Raw length of a Binary: botocore hands bytes; a str here is still base64-encoded."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: dict) -> int:
    """Size of one typed attribute value, without its name."""
    (kind, data), = value.items()
    if kind == "S":
        return _utf8(data)
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return _binary(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(element) for element in data)
    if kind == "NS":
        return sum(number_size(element) for element in data)
    if kind == "BS":
        return sum(_binary(element) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + _utf8(name) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def attribute_size(name: str, value: dict) -> int:
    return _utf8(name) + value_size(value)


def item_size(item: Item | None) -> int:
    """Bytes of an item (0 for no item)."""
    return sum(attribute_size(name, value) for name, value in (item or {}).items())


# ---------------------------------------------------------------------------- units


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """Read units for one item (or a Query/Scan page) of `size` bytes; at least the minimum."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def write_units(size: int, *, transactional: bool = False) -> int:
    """Write units for one item of `size` bytes (the larger of before and after); at least 1."""
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


# ---------------------------------------------------------------------------- indexes


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = field(default=())

    def holds(self, item: Item | None) -> bool:
        """An item is in a (sparse) index only if it has every index key attribute."""
        return item is not None and all(key in item for key in self.keys)

    def entry(self, item: Item, table_keys: tuple[str, ...]) -> Item:
        """The index entry of an item: index keys and table keys, plus the projected attributes."""
        if self.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(table_keys)
        if self.projection == "INCLUDE":
            wanted |= set(self.included)
        return {name: value for name, value in item.items() if name in wanted}


@dataclass(frozen=True)
class IndexWrite:
    """What one table write costs in one index."""

    index: str
    action: str  # "put", "delete", "delete+put", "update" or "none"
    units: int
    size: int  # the larger projected size involved, bytes


def index_write(index: Index, table_keys: tuple[str, ...], old: Item | None, new: Item | None) -> IndexWrite:
    """The write units a change of an item from `old` to `new` costs in `index` (None: absent)."""
    was, becomes = index.holds(old), index.holds(new)
    if not was and not becomes:
        return IndexWrite(index.name, "none", 0, 0)
    old_entry = index.entry(old, table_keys) if was else None
    new_entry = index.entry(new, table_keys) if becomes else None
    old_size, new_size = item_size(old_entry), item_size(new_entry)
    if was and not becomes:
        return IndexWrite(index.name, "delete", write_units(old_size), old_size)
    if becomes and not was:
        return IndexWrite(index.name, "put", write_units(new_size), new_size)
    if any(old[key] != new[key] for key in index.keys):
        return IndexWrite(index.name, "delete+put", write_units(old_size) + write_units(new_size),
                          max(old_size, new_size))
    if old_entry != new_entry:
        return IndexWrite(index.name, "update", write_units(max(old_size, new_size)), max(old_size, new_size))
    return IndexWrite(index.name, "none", 0, new_size)
