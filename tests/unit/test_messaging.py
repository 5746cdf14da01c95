"""Quiet hours in the member's time zone, and which time zone that is."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core import db
from chalicelib.notices import policy

NIGHT = {"start": "21:00", "end": "08:00"}
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("now, zone, until", [
    ("2026-06-01T15:00", "Asia/Tokyo", "2026-06-01T23:00"),  # midnight in Tokyo: until 08:00 there
    ("2026-06-01T12:30", "Asia/Tokyo", "2026-06-01T23:00"),  # 21:30 in Tokyo, before midnight
    ("2026-06-01T22:59", "Asia/Tokyo", "2026-06-01T23:00"),  # 07:59 in Tokyo
    ("2026-06-01T23:00", "Asia/Tokyo", None),  # 08:00 in Tokyo: over
    ("2026-06-01T11:59", "Asia/Tokyo", None),  # 20:59 in Tokyo: not yet
    ("2026-06-01T15:00", "Europe/Rome", None),  # 17:00 in Rome
    ("2026-06-01T19:00", "Europe/Rome", "2026-06-02T06:00"),  # 21:00 in Rome (summer, +02:00)
    ("2026-03-29T00:30", "Europe/Rome", "2026-03-29T06:00"),  # the night clocks go forward: 08:00 is +02:00
    ("2026-10-25T00:30", "Europe/Rome", "2026-10-25T07:00"),  # the night they go back: 08:00 is +01:00
    ("2026-06-02T03:00", "America/New_York", "2026-06-02T12:00"),  # 23:00 the day before, in New York
])
def test_a_member_in_the_night_waits_until_the_morning_in_its_own_zone(now, zone, until):
    assert policy.quiet_until(at(now), ZoneInfo(zone), NIGHT) == (at(until) if until else None)


def test_quiet_hours_within_one_day():
    siesta = {"start": "13:00", "end": "15:30"}
    rome = ZoneInfo("Europe/Rome")
    assert policy.quiet_until(at("2026-06-01T11:00"), rome, siesta) == at("2026-06-01T13:30")
    assert policy.quiet_until(at("2026-06-01T13:30"), rome, siesta) is None
    assert policy.quiet_until(at("2026-06-01T10:59"), rome, siesta) is None


def test_without_a_zone_or_quiet_hours_nothing_waits():
    assert policy.quiet_until(at("2026-06-01T02:00"), None, NIGHT) is None
    assert policy.quiet_until(at("2026-06-01T02:00"), ZoneInfo("UTC"), None) is None


@pytest.mark.parametrize("member_zone, program_zone, expected", [
    ("Asia/Tokyo", "Europe/Rome", "Asia/Tokyo"),  # the member's own
    (None, "Europe/Rome", "Europe/Rome"),  # else the program's
    ("Mars/Olympus", "Europe/Rome", "Europe/Rome"),  # a zone stored before zones were checked is ignored
    (None, None, None),  # else none: nothing waits
])
def test_the_members_zone_then_the_programs(member_zone, program_zone, expected):
    member = db.MemberItem(attributes={"time_zone": member_zone} if member_zone else {"tier": "x"})
    settings = policy.settings_of(db.ProgramItem(messaging={"time_zone": program_zone}))
    zone = policy.zone_of(member, settings)
    assert (zone.key if zone else None) == expected


def test_a_program_without_settings_has_the_default_night():
    assert policy.settings_of(db.ProgramItem()) == {"quiet_hours": NIGHT, "time_zone": None, "sms_max_segments": 3,
                                                   "announce": []}
