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

from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, db
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.transact import error_code
from chalicelib.rewards import redemptions
from chalicelib.rewards.providers import Provider, ProviderRejected, ProviderUnavailable
from chalicelib.rewards.providers.base import Order

KIND = "points_transfer"
UNIT = "PTS"  # the currency code partner units are ordered in


def is_partnered(reward: db.RewardItem) -> bool:
    """A points_transfer reward with a partner and rate goes through the provider; the contract's plain
    one (a money value, or none) is fulfilled at once, as every reward was."""
    return reward.reward_type == KIND and isinstance(reward.value, dict) and "partner" in reward.value


def check_value(reward_type: str, value: dict | None) -> None:
    """Only a points_transfer reward may have a partner and rate as its value."""
    is_transfer = value is not None and "partner" in value
    if reward_type != KIND and is_transfer:
        raise ValidationFailed("Only a points_transfer reward has a partner as its value.", {"field": "value"})


def check_request(reward: db.RewardItem, request: dict) -> None:
    """A transfer needs the member's account number with the partner."""
    if is_partnered(reward) and not (request.get("delivery") or {}).get("account"):
        raise ValidationFailed("A points transfer needs the member's account number with the partner.",
                               {"field": "delivery.account"})


def terms_of(reward: db.RewardItem) -> dict | None:
    return dict(reward.value) if is_partnered(reward) else None


def units(redemption: db.RedemptionItem) -> int:
    """The partner units the redemption's points buy, rounded down."""
    return math.floor(int(redemption.points) * float(redemption.terms["rate"]) + 1e-9)


def fulfil(redemption: db.RedemptionItem, provider: Provider) -> None:
    """Order the transfer and mark the redemption fulfilled with the provider's order id; refund on refusal.

    Raises ProviderUnavailable while the provider is down or the order not yet executed (the queue retries)."""
    if not redemption.sent_at and not sent(redemption):
        return  # cancelled before it was sent
    member = redemptions.member_of(redemption)
    account = redemption.delivery["account"]
    order = Order(denomination=units(redemption), currency_code=UNIT, product=redemption.terms["partner"],
                  recipient={"name": member.name or redemption.external_id, "email": member.email,
                             "account": account})
    try:
        result = provider.place_order(redemption.redemption_id, order)
    except ProviderRejected as refused:
        redemptions.refund(redemption.redemption_id, f"The partner transfer was refused ({refused.status}).",
                           restock=True)
        return
    if result.status != "executed":
        raise ProviderUnavailable("The partner transfer is not executed yet.")
    redemptions.mark_fulfilled(redemption, {
        "type": KIND, "partner": redemption.terms["partner"], "units": order.denomination,
        "account_last4": account[-4:], "provider_order_id": result.provider_order_id})


def sent(redemption: db.RedemptionItem) -> bool:
    """Mark a pending transfer sent, before its first order request, so an admin's cancel (conditional on
    the mark's absence) and the order never both happen; False if it moved on (was cancelled) first."""
    try:
        redemption.update(actions=[db.RedemptionItem.sent_at.set(clock.iso(clock.now()))],
                          condition=db.RedemptionItem.status == "pending")
    except UpdateError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
