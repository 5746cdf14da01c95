"""The wire types every shape shares, and the event shapes: the partner queue needs only these.

Kept apart from `schemas` so a queue consumer builds a handful of models at cold start, not all.
"""
from typing import Annotated, Any, Literal, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from chalicelib.core.locales import LOCALE

EXTERNAL_ID = r"^[A-Za-z0-9._\-:@]{1,128}$"
EMAIL = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
E164 = r"^\+[1-9][0-9]{6,14}$"
MAX_POINTS = 1_000_000_000

ExternalId = Annotated[str, Field(pattern=EXTERNAL_ID, examples=["member-42"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Email = Annotated[str, Field(pattern=EMAIL, max_length=254, examples=["ada@example.com"])]
Phone = Annotated[str, Field(pattern=E164, examples=["+393331234567"])]
Locale = Annotated[str, Field(pattern=LOCALE, max_length=35, examples=["en"])]
Timestamp = Annotated[str, Field(examples=["2026-11-22T09:30:00.000Z"], description="ISO-8601, UTC, Z suffix")]
Role = Literal["admin", "partner", "store", "analyst", "fulfilment"]
RewardType = Literal["gift_card", "cashback", "points_transfer", "merchandise", "experience", "donation"]


class Request(BaseModel):
    # defer_build: a Lambda builds only the validators it uses, on first use, not all at import.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def small_object(value: Optional[dict], limit: int = 50) -> Optional[dict]:
    if value is not None and len(value) > limit:
        raise ValueError(f"at most {limit} keys")
    return value


# --- events --------------------------------------------------------------------------------

class EventIn(Request):
    id: Annotated[str, Field(pattern=EXTERNAL_ID)]
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-:]+$")]
    member: ExternalId
    occurred_at: Optional[AwareDatetime] = None
    properties: dict[str, Any] = {}

    _properties = field_validator("properties")(small_object)


class PartnerMessage(Request):
    """The body of a message on the partner events queue."""

    org_id: Annotated[str, Field(min_length=1, max_length=64)]
    program_id: Annotated[str, Field(min_length=1, max_length=64)]
    event: EventIn
