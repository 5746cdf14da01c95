"""Member segments: which of a program's members a broadcast reaches or a reward is for.

One shape (members.shapes.Segment) and one test, shared by broadcasts (who is told) and the catalog (who may
redeem), so a segment means the same wherever it is written. The test is kept apart from the shape so
the queue and schedule handlers that run it do not import pydantic.
"""
from datetime import timedelta

from chalicelib.core import clock, db
from chalicelib.members import predictions, profiles


def stored(segment: dict | None) -> dict | None:
    """The conditions a segment names, without the unset ones (none left: every member, stored as None)."""
    named = {name: value for name, value in (segment or {}).items() if value is not None}
    return named or None


def in_segment(member: db.MemberItem, segment: dict | None, now_iso: str) -> bool:
    """Every condition the segment names holds for the member (no segment: every member)."""
    segment = segment or {}
    if segment.get("tiers") is not None and member.tier not in segment["tiers"]:
        return False
    attributes = db.profile_of(member).attributes or {}
    if any(attributes.get(name) != value for name, value in (segment.get("attributes") or {}).items()):
        return False
    days = segment.get("active_within_days")
    if days is not None:
        since = clock.iso(clock.parse(now_iso) - timedelta(days=int(days)))
        if (profiles.updated_at(member) or member.created_at) < since:
            return False
    floor = segment.get("churn_risk_at_least")
    if floor is not None:  # last: the one condition that reads (the member's activity)
        risk = predictions.churn_risk(member.program_id, member.external_id,
                                      predictions.fitted_model(member.program_id), now_iso[:10])
        return risk is not None and risk >= floor
    return True
