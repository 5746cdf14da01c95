"""When a program's messages may go out, and how long an SMS may be: its `messaging` settings.

Quiet hours are a window of the member's local day (by default 21:00 to 08:00) in which
non-urgent kinds wait. The member's time zone is its attribute `time_zone` (IANA), else the
program's `time_zone`; with neither, Laurel cannot tell the member's night and sends at once.
"""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.core import db

DEFAULTS = {"quiet_hours": {"start": "21:00", "end": "08:00"}, "time_zone": None, "sms_max_segments": 3,
            "announce": []}


def settings_of(program) -> dict:
    return {**DEFAULTS, **(program.messaging or {})}


def announces(program, kind: str) -> bool:
    """Whether the program opted into `welcome` or `points_earned` messages."""
    return kind in settings_of(program)["announce"]


def _zone(name) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError: a zone stored before it was checked
        return None


def zone_of(member: db.MemberItem, settings: dict) -> ZoneInfo | None:
    return _zone((db.profile_of(member).attributes or {}).get("time_zone")) or _zone(settings.get("time_zone"))


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """That wall-clock time in the zone, as a UTC moment (a time skipped by a DST change comes out an hour on)."""
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone).astimezone(timezone.utc)


def quiet_until(now: datetime, zone: ZoneInfo | None, quiet_hours: dict | None) -> datetime | None:
    """When the quiet hours around `now` end, or None if `now` is not in them."""
    if zone is None or not quiet_hours:
        return None
    start, end = _clock_time(quiet_hours["start"]), _clock_time(quiet_hours["end"])
    local = now.astimezone(zone)
    today, wall = local.date(), local.time().replace(tzinfo=None)
    if start < end:  # within one day, e.g. 13:00-15:00
        return _local(today, end, zone) if start <= wall < end else None
    if wall >= start:  # overnight, before midnight
        return _local(today + timedelta(days=1), end, zone)
    if wall < end:  # overnight, after midnight
        return _local(today, end, zone)
    return None
