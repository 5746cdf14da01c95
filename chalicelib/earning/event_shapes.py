"""The shapes of an event as it arrives: through the API, on the partner queue, or as a shop's order webhook.

Apart from every other shape so the partner queue's consumer, and the first event the API takes,
build only these few.
"""
from typing import Annotated, Any, Literal, Optional

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from chalicelib.core.wire import EXTERNAL_ID, MAX_POINTS, ExternalId, Request, small_object


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


# --- order webhooks --------------------------------------------------------------------------

class Foreign(Request):
    """A shape another system sends (a shop's webhook): the fields Laurel reads are checked, the rest ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, defer_build=True)


class OrderCustomer(Foreign):
    id: ExternalId


class OrderMoney(Foreign):
    amount: Annotated[int, Field(ge=0, le=MAX_POINTS * 100)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class OrderWebhook(Foreign):
    """An e-commerce order's state: `paid` earns, `refunded` (cumulative amount) and `cancelled` claw back."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-:@]{1,100}$")]
    status: Literal["paid", "refunded", "partially_refunded", "cancelled"]
    customer: OrderCustomer
    total: OrderMoney
    refunded: Optional[OrderMoney] = None
