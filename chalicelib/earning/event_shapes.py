"""The shapes of an event as it arrives: through the API or on the partner queue.

Apart from every other shape (a shop's order webhook has its own, `order_shapes`) so the partner
queue's consumer, and the first event the API takes, build only these few.
"""
from typing import Annotated, Any, Optional

from pydantic import AwareDatetime, Field, field_validator

from chalicelib.core.wire import EXTERNAL_ID, ExternalId, Request, small_object


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
