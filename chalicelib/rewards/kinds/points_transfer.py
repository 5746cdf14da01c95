"""Points transfers: a member's points sent to a partner program (an airline's miles, say) through the
reward provider, at the reward's rate, to the account number the member gives when redeeming.

The partner and rate are copied onto the redemption when it is made (`terms`), so a later change of
the reward never changes what a redemption already paid for. The provider order is named by the
redemption's id: the queue's retries find the order placed before, never a second one. A provider's
refusal gives the points back at once; its outage is retried by the queue and, on the last try,
refunded like any other failure. Once sent, a transfer can no longer be cancelled: an answer lost to a
timeout may hide an order placed, and the partner's units cannot be taken back.
"""
import math

from chalicelib.core import db
from chalicelib.core.errors import ValidationFailed
from chalicelib.rewards import lifecycle, providers
from chalicelib.rewards.kinds.base import Kind
from chalicelib.rewards.providers import Provider, ProviderRejected, ProviderUnavailable
from chalicelib.rewards.providers.base import Order

KIND = "points_transfer"
UNIT = "PTS"  # the currency code partner units are ordered in


class PointsTransfer(Kind):
    name = KIND

    def check_fields(self, reward_type: str, fields: dict) -> None:
        """Only a points_transfer reward may have a partner and rate as its value."""
        value = fields.get("value")
        if reward_type != KIND and value is not None and "partner" in value:
            raise ValidationFailed("Only a points_transfer reward has a partner as its value.", {"field": "value"})

    def check(self, reward: db.RewardItem, request: dict) -> dict | None:
        """A transfer needs the member's account number with the partner; its terms are the partner and rate."""
        if not is_partnered(reward):
            return None
        if not (request.get("delivery") or {}).get("account"):
            raise ValidationFailed("A points transfer needs the member's account number with the partner.",
                                   {"field": "delivery.account"})
        return dict(reward.value)

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        if (redemption.terms or {}).get("partner"):
            self.transfer(redemption, providers.default())
        else:
            super().fulfil(redemption)

    def transfer(self, redemption: db.RedemptionItem, provider: Provider) -> None:
        """Order the transfer and mark the redemption fulfilled with the provider's order id; refund on refusal.

        Raises ProviderUnavailable while the provider is down or the order not yet executed (the queue retries)."""
        if not redemption.sent_at and not lifecycle.mark_sent(redemption):
            return  # cancelled before it was sent
        profile = db.profile_of(lifecycle.member_of(redemption))
        account = redemption.delivery["account"]
        order = Order(denomination=units(redemption), currency_code=UNIT, product=redemption.terms["partner"],
                      recipient={"name": profile.name or redemption.external_id, "email": profile.email,
                                 "account": account})
        try:
            result = provider.place_order(redemption.redemption_id, order)
        except ProviderRejected as refused:
            lifecycle.refund(redemption.redemption_id, f"The partner transfer was refused ({refused.status}).",
                             restock=True, release=self.release)
            return
        if result.status != "executed":
            raise ProviderUnavailable("The partner transfer is not executed yet.")
        lifecycle.mark_fulfilled(redemption, {
            "type": KIND, "partner": redemption.terms["partner"], "units": order.denomination,
            "account_last4": account[-4:], "provider_order_id": result.provider_order_id})


def is_partnered(reward: db.RewardItem) -> bool:
    """A points_transfer reward with a partner and rate goes through the provider; the contract's plain
    one (a money value, or none) is fulfilled at once, as every reward was."""
    return reward.reward_type == KIND and isinstance(reward.value, dict) and "partner" in reward.value


def units(redemption: db.RedemptionItem) -> int:
    """The partner units the redemption's points buy, rounded down."""
    return math.floor(int(redemption.points) * float(redemption.terms["rate"]) + 1e-9)
