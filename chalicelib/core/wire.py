"""The wire types every shape shares: the two bases, the common fields and their checks.

Requests are strict (no type coercion, unknown fields refused) so a client's mistake is a 400
that names the field, never a silent guess. Each area's shapes (`chalicelib.<area>.shapes`) build on
these alone, so a handler loads the shapes of its own area and no other's.
"""
import math
from typing import Annotated, Literal, Optional
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.core.locales import LOCALE
from chalicelib.core.patterns import E164, EMAIL, EXTERNAL_ID, TIMEZONE  # noqa: F401 (the shapes' names for them)

MAX_POINTS = 1_000_000_000

ExternalId = Annotated[str, Field(pattern=EXTERNAL_ID, examples=["member-42"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Email = Annotated[str, Field(pattern=EMAIL, max_length=254, examples=["ada@example.com"])]
Phone = Annotated[str, Field(pattern=E164, examples=["+393331234567"])]
Locale = Annotated[str, Field(pattern=LOCALE, max_length=35, examples=["en"])]
Timestamp = Annotated[str, Field(examples=["2026-11-22T09:30:00.000Z"], description="ISO-8601, UTC, Z suffix")]
Role = Literal["admin", "partner", "store", "analyst", "fulfilment", "auditor"]
RewardType = Literal["gift_card", "cashback", "points_transfer", "merchandise", "experience", "donation"]


class Request(BaseModel):
    # defer_build: a Lambda builds only the validators it uses, on first use, not all at import.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def small_object(value: Optional[dict], limit: int = 50) -> Optional[dict]:
    """A free-form object of at most `limit` keys whose numbers are finite: JSON has no NaN or Infinity, so
    one taken in would be echoed back as a document no client can parse."""
    if value is not None and len(value) > limit:
        raise ValueError(f"at most {limit} keys")
    pending = [value]
    while pending:  # iterative: the parser already bounds the depth, this walk adds no recursion
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (JSON has no NaN or Infinity)")
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


def drop_null_defaults(schema: dict) -> None:
    """A model's `json_schema_extra` when a field left out is not null but absent (a PATCH keeps the value, an
    optional part of a rule is unused): the document shows no null default."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]


def time_zone_name(value: str) -> str:
    """The value, if it names an IANA time zone (quiet hours, rules' calendars, a member's `time_zone`)."""
    try:
        ZoneInfo(value)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError, OSError: all mean "no such zone"
        raise ValueError(f"{value!r} is not an IANA time zone name such as Europe/Rome or UTC") from None
    return value


TimeZone = Annotated[str, Field(pattern=TIMEZONE, max_length=64, examples=["Europe/Rome"]),
                     AfterValidator(time_zone_name)]
