"""Points expiry, run on a schedule: points that fall due (released from pending, expired, debt settled)
and the reminders that points will expire, found through the index entries the account writes, so each
run costs in proportion to what is due rather than to the number of members.

Every step is an idempotent ledger write, so two runs at once, or a run retried after a crash, change
each member once.
"""
from datetime import datetime, timedelta

from chalicelib.core import clock, db
from chalicelib.core.transact import Replayed, with_retries
from chalicelib.members import account
from chalicelib.notices import notifications
from chalicelib.webhooks import events

REMINDER_DAYS = 7  # members are told this many days ahead that points expire


def _due_members(prefix: str, job: str, now: datetime) -> list[tuple[str, str]]:
    """Member keys indexed under `{prefix}#{day}#{shard}` of gsi2 for every day since the job's last run."""
    state = db.get(db.JobStateItem, db.JobStateItem.key(job))
    today = clock.day(now)
    first = min(state.last_day, today) if state else clock.day(now - timedelta(days=1))
    keys = []
    for day in clock.days_between(first, today):
        for shard in range(db.SHARDS):
            keys += db.index_keys("gsi2", f"{prefix}#{day}#{shard}", 10_000)
    return keys


def _mark_done(job: str, now: datetime) -> None:
    db.JobStateItem(*db.JobStateItem.key(job), last_day=clock.day(now)).save()


def _member(key: tuple[str, str]) -> tuple[db.ProgramItem | None, db.MemberItem | None]:
    member = db.get(db.MemberItem, key)
    if member is None:
        return None, None
    program = db.get(db.ProgramItem, db.ProgramItem.key(member.org_id, member.program_id), consistent=False)
    return program, member


def expire_member(key: tuple[str, str], now: datetime) -> int:
    """Release the member's pending points due by `now`, expire its lots due, and let released points pay
    any debt (chalicelib.members.account: one transaction, once); returns the points expired."""
    def attempt() -> int:
        program, member = _member(key)
        if member is None:
            return 0
        return account.Account(program, member, now).fall_due()

    try:
        return with_retries(attempt)
    except Replayed:
        return 0


def expire_points(now: datetime | None = None) -> dict:
    now = now or clock.now()
    keys = _due_members("DUE", "points_expiry", now)
    expired = sum(expire_member(key, now) for key in dict.fromkeys(keys))
    _mark_done("points_expiry", now)
    return {"members": len(set(keys)), "points_expired": expired, "reminders": remind_expiring(now)}


def remind_expiring(now: datetime) -> int:
    """Tell members, once per date, of points expiring in the next REMINDER_DAYS days.

    Members are found through the expiry index (their soonest lot's day), so a run reads only the
    members with something about to expire. The notice (a message on the member's channels, and the
    `points.expiring` webhook event) is sent before it is marked; delivery sends once per member, date
    and channel, and the event is keyed by member and date, so a crash in between never loses it
    nor tells it twice.
    """
    horizon = now + timedelta(days=REMINDER_DAYS)
    keys = []
    for day in clock.days_between(clock.day(now + timedelta(days=1)), clock.day(horizon)):
        for shard in range(db.SHARDS):
            keys += db.index_keys("gsi2", f"DUE#{day}#{shard}", 10_000)
    sent = 0
    for key in dict.fromkeys(keys):
        program, member = _member(key)
        if member is None or program is None:
            continue
        channels = notifications.channels_of(member, None)
        due = [lot for lot in account.Account(program, member, now).expiring(REMINDER_DAYS + 1)
               if clock.iso(now) < lot["expires_at"] <= clock.iso(horizon)]
        for lot in due:
            day = lot["expires_at"][:10]
            marker = db.ReminderItem(*db.ReminderItem.key(member.program_id, member.external_id, day),
                                     ttl=horizon + timedelta(days=30))
            if db.get(db.ReminderItem, (marker.pk, marker.sk), consistent=False):
                continue
            notifications.publish("points_expiring", channels, {
                "org_id": member.org_id, "program_id": member.program_id, "external_id": member.external_id,
                "day": day, "points": lot["points"], "currency": program.currency_name})
            events.emit(member.org_id, member.program_id, "points.expiring",
                        {"member": {"external_id": member.external_id}, "points": lot["points"],
                         "expires_at": lot["expires_at"]},
                        event_key=f"{member.external_id}:{day}", occurred_at=f"{day}T00:00:00.000Z")
            marker.save()
            sent += 1
    return sent

