"""Telling of tier changes once: each tier change item is its own outbox entry (sparse gsi2
`TIERNOTICE#{shard}` / created_at) until its notice is sent, so a crash between the change and the
notice delays it to the recovery job's next run (every 5 minutes) and never loses it.

The notices are the `tier.changed` webhook event, keyed by the change, and the member's `tier_up` or
`tier_down` message, sent once per member, tier and day by delivery; so sending them again (a recovery
racing a prompt send) adds no delivery.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from chalicelib.core import clock, db
from chalicelib.core.observability import logger as log
from chalicelib.notices import notifications
from chalicelib.webhooks import events

GRACE = timedelta(minutes=2)  # younger notices are still being sent by the change's own request


def outbox(change: db.TierChangeItem) -> None:
    """Mark a new change as not yet told (before it is written)."""
    change.gsi2pk, change.gsi2sk = f"TIERNOTICE#{db.shard_of(change.pk)}", change.created_at


_told: ContextVar[list | None] = ContextVar("tier_changes_told", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Within this block (a batch job), take told changes out of the outbox 25 at a time at the end."""
    token = _told.set([])
    try:
        yield
    finally:
        told = _told.get()
        _told.reset(token)
        with db.TierChangeItem.batch_write() as batch:
            for change in told:
                batch.save(change)  # the whole (immutable) item again, without its outbox entry


def announce(change: db.TierChangeItem, member: db.MemberItem | None = None) -> bool:
    """Send the change's notices and take it out of the outbox; False (logged) if it must wait for recovery.

    `member` is the member as the change left it (read again when the recovery job tells it).
    """
    try:
        events.emit(change.org_id, change.program_id, "tier.changed",
                    {"member": {"external_id": change.external_id, "tier": change.to_tier,
                                "previous_tier": change.from_tier}},
                    event_key=f"{change.external_id}:{change.sk}", occurred_at=change.created_at)
        if member is None:  # read again with its profile (whose channels), in one BatchGetItem
            member_key, profile_key = (item.key(change.program_id, change.external_id)
                                       for item in (db.MemberItem, db.ProfileItem))
            found = db.get_many(member_key, profile_key)
            member = db.attach_profile(found[member_key], found.get(profile_key)) if member_key in found else None
        if member is not None:
            notifications.publish(f"tier_{change.change}", notifications.channels_of(member, None), {
                "org_id": change.org_id, "program_id": change.program_id, "external_id": change.external_id,
                "tier": change.to_tier, "previous_tier": change.from_tier, "day": change.created_at[:10]})
        told = _told.get()
        if told is None:
            change.update(actions=[db.TierChangeItem.gsi2pk.remove(), db.TierChangeItem.gsi2sk.remove()])
        else:
            change.gsi2pk = change.gsi2sk = None
            told.append(change)
        return True
    except Exception:  # noqa: BLE001 - the change is committed; its outbox entry makes recovery send it
        log.exception("tier notice deferred to recovery", extra={"program_id": change.program_id})
        return False


def recover(now: datetime) -> int:
    """Send the notices older than the grace that are still in the outbox."""
    cutoff = clock.iso(now - GRACE)
    sent = 0
    for shard in range(db.SHARDS):
        for key in db.index_keys("gsi2", f"TIERNOTICE#{shard}", 1000, sort_before=cutoff):
            change = db.get(db.TierChangeItem, key, consistent=False)
            if change is not None and change.gsi2pk and announce(change):
                sent += 1
    return sent
