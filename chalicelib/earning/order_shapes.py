"""The shape of a shop's order webhook (`POST .../orders`): another system's body, of which only the fields
Laurel reads are checked. Apart from the event shapes, so the partner queue builds none of these."""
from typing import Annotated, Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.core.wire import MAX_POINTS, ExternalId, Request


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
