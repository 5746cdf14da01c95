"""The shapes of an event as it arrives: through the API or on the partner queue.

Apart from every other shape (a shop's order webhook has its own, `order_shapes`) so the partner
queue's consumer, and the first event the API takes, build only these few.
"""
from typing import Annotated, Any, Optional

from pydantic import AwareDatetime, Field, field_validator

from chalicelib.core.wire import EXTERNAL_ID, ExternalId, Request, small_object

NUMBER_LIMIT = 1e100  # a measure, a basis or a total built from a property is stored as a DynamoDB number (< 1e126)


def storable_numbers(value: Any, path: str = "properties") -> Any:
    """Refuse a property number no total could be stored with (a spend measured from it would fail to save)."""
    if isinstance(value, dict):
        for name, item in value.items():
            storable_numbers(item, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            storable_numbers(item, f"{path}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) < NUMBER_LIMIT:
        raise ValueError(f"{path} is {value}: numbers must be smaller than 1e100 in size")
    return value


def _properties(value: dict) -> dict:
    return storable_numbers(small_object(value))


class EventIn(Request):
    id: Annotated[str, Field(pattern=EXTERNAL_ID)]
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-:]+$")]
    member: ExternalId
    occurred_at: Optional[AwareDatetime] = None
    properties: dict[str, Any] = {}

    _properties = field_validator("properties")(_properties)


class PartnerMessage(Request):
    """The body of a message on the partner events queue."""

    org_id: Annotated[str, Field(min_length=1, max_length=64)]
    program_id: Annotated[str, Field(min_length=1, max_length=64)]
    event: EventIn
