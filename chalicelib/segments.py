"""Member segments: which of a program's members a broadcast reaches or a reward is for.

One shape and one test, shared by broadcasts (who is told) and the catalog (who may redeem), so a
segment means the same wherever it is written.
"""
from datetime import timedelta
from typing import Annotated, Optional, Union

from pydantic import Field, field_validator

from chalicelib import clock, db
from chalicelib.wire import Request, small_object


class Segment(Request):
    """Members who match every condition given (none: all the program's members)."""

    tiers: Optional[Annotated[list[Optional[Annotated[str, Field(min_length=1, max_length=64)]]],
                              Field(min_length=1, max_length=20)]] = Field(
        None, description="Tier names; null in the list: members below every tier")
    attributes: Optional[dict[Annotated[str, Field(min_length=1, max_length=64)],
                              Union[Annotated[str, Field(max_length=200)], int, float, bool]]] = Field(
        None, description="Member attributes equal to these values")
    active_within_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = Field(
        None, description="Members whose record changed (an earn, a redemption, a profile change) in this many days")

    _attributes = field_validator("attributes")(lambda value: small_object(value, 10))


def stored(segment: dict | None) -> dict | None:
    """The conditions a segment names, without the unset ones (none left: every member, stored as None)."""
    named = {name: value for name, value in (segment or {}).items() if value is not None}
    return named or None


def in_segment(member: db.MemberItem, segment: dict | None, now_iso: str) -> bool:
    """Every condition the segment names holds for the member (no segment: every member)."""
    segment = segment or {}
    if segment.get("tiers") is not None and member.tier not in segment["tiers"]:
        return False
    attributes = member.attributes or {}
    if any(attributes.get(name) != value for name, value in (segment.get("attributes") or {}).items()):
        return False
    days = segment.get("active_within_days")
    if days is not None:
        since = clock.iso(clock.parse(now_iso) - timedelta(days=int(days)))
        return (member.updated_at or member.created_at) >= since
    return True
