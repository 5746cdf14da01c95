"""Each member's recency and frequency, kept from the change stream: the churn model's only input.

An active day is a day the member earned or redeemed. The stream consumer records each such ledger entry
here; recording is idempotent by construction (a day no later than the last one recorded changes nothing),
so a redelivered record needs no marker. An entry that reaches the stream after a later day's (another
shard's) is not counted as a day of its own: the summary may undercount, never overcount.
"""
from datetime import date

from chalicelib.core import db
from chalicelib.core.db.activity_items import ActivityItem
from chalicelib.core.transact import save_if, update_if
from chalicelib.members.churn import Summary

ATTEMPTS = 3  # an update that met the item's creation by another record is tried again


def record(program_id: str, external_id: str, day: str) -> None:
    """Count `day` as an active day of the member (YYYY-MM-DD), once."""
    key = ActivityItem.key(program_id, external_id)
    listed = ActivityItem.active_on(day, program_id, external_id)
    for _ in range(ATTEMPTS):
        later = update_if(ActivityItem(*key), [ActivityItem.last.set(day), ActivityItem.repeats.add(1),
                                               ActivityItem.gsi2pk.set(listed[0]), ActivityItem.gsi2sk.set(listed[1])],
                          ActivityItem.last < day)
        if later:
            return
        first = ActivityItem(*key, program_id=program_id, external_id=external_id, first=day, last=day, repeats=0,
                             gsi2pk=listed[0], gsi2sk=listed[1])
        if save_if(first, ActivityItem.pk.does_not_exist()):
            return
        current = db.get(ActivityItem, key)
        if current is not None and current.last >= day:
            return  # counted before (a redelivery), or a later day already was


def read(program_id: str, external_id: str) -> ActivityItem | None:
    return db.get(ActivityItem, ActivityItem.key(program_id, external_id), consistent=False)


def summary(first: str, last: str, repeats: int, today: str) -> Summary:
    """The model's summary in days, as of `today`."""
    start, end, now = date.fromisoformat(first), date.fromisoformat(last), date.fromisoformat(max(today, last))
    return Summary(x=int(repeats), t_x=float((end - start).days), T=float((now - start).days))
