"""What fulfilment needs from a provider, and the two ways an order can fail."""
from dataclasses import dataclass
from typing import Literal, Protocol

from chalicelib.core.errors import Contention


@dataclass(frozen=True)
class ProviderResult:
    """Where the provider's order stands: `executed` (delivered) or `pending` (ask again later)."""

    status: Literal["executed", "pending"]
    provider_order_id: str


@dataclass(frozen=True)
class Order:
    """One order in the provider's terms: an amount of a product for one recipient."""

    denomination: float
    currency_code: str
    product: str
    recipient: dict


class ProviderUnavailable(Contention):
    """The provider was slow, busy or failing (timeout, 429, 5xx): asking again, with the same id, may work."""


class ProviderRejected(Exception):
    """The provider refused the order (4xx other than 429): asking again never helps, the points go back."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"The provider refused the order ({status}): {reason}")
        self.status, self.reason = status, reason


class Provider(Protocol):
    def place_order(self, external_id: str, order: Order) -> ProviderResult:
        """Place the order named `external_id`, or find the one placed under it before."""
