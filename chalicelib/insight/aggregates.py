"""A program's aggregates, one item per hour and per day under one partition, written once per stream record.

| item | pk | sk |
|---|---|---|
| aggregate (counters, active-members sketch) | `AGG#{program_id}` | `D#{YYYY-MM-DD}` or `H#{YYYY-MM-DDTHH}` |
| members entering and leaving each tier since the program began | `AGG#{program_id}` | `ALL` |
| record counted (marker, expires after a week) | `AGGDONE#{source item key}` | `DONE` |

Counts by reward, campaign and tier are top-level attributes named by deltas (`r#…`, `c#…`, `t#…`): ADD works on
top-level attributes only, so a new reward or tier is a new attribute, kept in `dimensions` when read. A tier
change is also added to the program's `ALL` item, whose ins less outs are the members in each tier now.

Exactly once: a record's ADDs to its hour and day and the put of its marker, on the condition that the marker is
new, are one transaction. A redelivered record (a retried or bisected batch, a split shard's parent replayed)
fails that condition and adds nothing. The stream keeps records 24 h, so a week-old marker is no longer needed.
Counters only ADD; a sketch that the record's member changes is rewritten on the condition that nobody rewrote it
since it was read (`sketch_version`), else the record is tried again. Never part of the write that made the change.

A range reads one Query over the partition: as many items as hours or days asked, whatever the members or events.
"""
from datetime import timedelta
from typing import Optional

from pynamodb.attributes import BinaryAttribute, NumberAttribute, TTLAttribute

from chalicelib.core import clock, db
from chalicelib.core.transact import ConditionFailed, Retry, Tx, with_retries
from chalicelib.insight.deltas import COUNTERS, TIER, Change, dimension_of
from chalicelib.insight.sketch import Sketch

MARKER_DAYS = 7
ALL = "ALL"


class AggregateItem(db.Item, discriminator="agg"):
    """What a program's ledger added up to in one hour or day (counters are declared from deltas.COUNTERS)."""

    active = BinaryAttribute(null=True, legacy_encoding=False)  # sketch.Sketch of the members active in it
    sketch_version = NumberAttribute(null=True)

    locals().update({name: NumberAttribute(null=True) for name in COUNTERS})

    @staticmethod
    def key(program_id: str, period: str) -> tuple[str, str]:
        """`period` is a day (YYYY-MM-DD), an hour (YYYY-MM-DDTHH) or ALL (since the program began)."""
        if period == ALL:
            return f"AGG#{program_id}", ALL
        return f"AGG#{program_id}", f"{'H' if len(period) > 10 else 'D'}#{period}"

    @classmethod
    def _instantiate(cls, attribute_values: dict):
        """As read from the table, with the dynamic counters (by reward, campaign, tier) that no declared
        attribute reads kept in `dimensions`."""
        item = super()._instantiate(attribute_values)
        item.dimensions = {name: int(value["N"]) for name, value in attribute_values.items()
                           if "N" in value and dimension_of(name) is not None}
        return item


class CountedItem(db.Item, discriminator="aggdone"):
    """Marks a stream record as counted."""

    ttl = TTLAttribute(null=True)


def count(change: Change) -> bool:
    """Add `change` to its hour and day, once; False if it was counted before."""
    try:
        with_retries(lambda: _count_once(change))
    except ConditionFailed as failed:
        if failed.label == "marker":
            return False
        raise
    return True


def _count_once(change: Change) -> None:
    periods = (change.hour, change.day)
    sketches = _sketches_to_change(change, periods)
    tx = Tx()
    marker = CountedItem(f"AGGDONE#{change.marker}", "DONE",
                         ttl=clock.now() + timedelta(days=MARKER_DAYS))
    tx.put("marker", marker, condition=CountedItem.pk.does_not_exist())
    for period in periods:
        item = AggregateItem(*AggregateItem.key(change.program_id, period))
        actions = [_counter(name).add(value) for name, value in change.counts.items()]
        actions.append(AggregateItem.item_type.set(AggregateItem))  # an update writes no `_t` of its own
        condition = None
        if period in sketches:
            sketch, version = sketches[period]
            actions += [AggregateItem.active.set(sketch.to_bytes()), AggregateItem.sketch_version.add(1)]
            condition = (AggregateItem.sketch_version.does_not_exist() if version is None
                         else AggregateItem.sketch_version == version)
        tx.update(f"sketch:{period}", item, actions=actions, condition=condition)
    tiers = {name: value for name, value in change.counts.items() if name.startswith(TIER)}
    if tiers:
        tx.update("all", AggregateItem(*AggregateItem.key(change.program_id, ALL)),
                  actions=[*(_counter(name).add(value) for name, value in tiers.items()),
                           AggregateItem.item_type.set(AggregateItem)])
    try:
        tx.commit()
    except ConditionFailed as failed:
        if failed.label.startswith("sketch:"):
            raise Retry() from failed  # another shard's record rewrote the sketch first: read it again
        raise


def _counter(name: str) -> NumberAttribute:
    """A declared counter, or a dynamic one (by reward, campaign or tier) named as deltas names it."""
    return getattr(AggregateItem, name) if name in COUNTERS else NumberAttribute(attr_name=name)


def _sketches_to_change(change: Change, periods: tuple[str, ...]) -> dict[str, tuple[Sketch, Optional[int]]]:
    """The sketches the change's member is new to, with it added, and the version each was read at."""
    if change.active is None:
        return {}
    keys = [AggregateItem.key(change.program_id, period) for period in periods]
    found = db.get_many(*keys)
    changed = {}
    for period, key in zip(periods, keys):
        item = found.get(key)
        sketch = Sketch.from_bytes(item.active if item else None)
        if sketch.add(change.active):
            changed[period] = (sketch, int(item.sketch_version) if item and item.sketch_version is not None else None)
    return changed


def read(program_id: str, first: str, last: str) -> list[AggregateItem]:
    """The items of the periods from `first` to `last` (days, or hours), in order: one Query, paged by DynamoDB."""
    low, high = AggregateItem.key(program_id, first), AggregateItem.key(program_id, last)
    return list(AggregateItem.query(low[0], AggregateItem.sk.between(low[1], high[1])))


def with_since_start(key: tuple[str, str], program_id: str) -> tuple[Optional[db.Item], dict[str, int]]:
    """The item at `key` (the program, read anyway) and the program's counts since it began (members in and out
    of each tier), in one BatchGetItem: raw, as the dynamic counters are no declared attribute."""
    keys = [key, AggregateItem.key(program_id, ALL)]
    wanted = {db.Item.Meta.table_name: {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys],
                                        "ConsistentRead": True}}
    found: dict[tuple[str, str], dict] = {}
    while wanted:
        answer = db.connection().client.batch_get_item(RequestItems=wanted)
        for raw in answer["Responses"].get(db.Item.Meta.table_name, []):
            found[raw["pk"]["S"], raw["sk"]["S"]] = raw
        wanted = answer.get("UnprocessedKeys") or {}
    item = db.Item.from_raw_data(found[key]) if key in found else None
    counts = found.get(keys[1])
    return item, AggregateItem._instantiate(counts).dimensions if counts else {}
