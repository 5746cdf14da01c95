"""Fulfilling a redemption: its reward's kind moves it on (kinds.registry: codes assigned, cash credited, a
partner transfer ordered, goods handed to the shipper, a donation recorded, or marked delivered), then the
member and the organisation's webhook endpoints are told.

Safe to run any number of times for the same redemption: every step is a conditional move from
one status to the next (lifecycle.py), and the member is told once (`lifecycle.tell`). A redemption that
failed (refunded on fulfilment's last try) is told too, with the same mark.
"""
from chalicelib.core.errors import NotFound
from chalicelib.rewards import lifecycle
from chalicelib.rewards.kinds import registry
from chalicelib.rewards.kinds.gift_card import CodesMissing


def fulfil(redemption_id: str) -> str:
    """Move a redemption on as far as it goes; returns its status."""
    redemption = lifecycle.find(redemption_id)
    if redemption is None:
        raise NotFound(f"No redemption {redemption_id}.")
    if redemption.status == "pending":
        registry.of(redemption.reward_type).fulfil(redemption)
        redemption.refresh(consistent_read=True)
    lifecycle.tell(redemption, registry.delivered)
    return redemption.status


def tell(redemption_id: str) -> None:
    """Tell the member the redemption's final status, if it has not been told (after a refund)."""
    redemption = lifecycle.find(redemption_id)
    if redemption is not None:
        lifecycle.tell(redemption, registry.delivered)


def untold(redemption_id: str) -> bool:
    """Final, but the member has not been told yet (the notification could not be published)."""
    return lifecycle.untold(lifecycle.find(redemption_id))


def give_up(redemption_id: str, error: Exception) -> bool:
    """The last try failed: mark the redemption failed and refund its points (once).

    The reserved stock goes back too, unless the codes behind it are what went missing.
    """
    return lifecycle.refund(redemption_id, str(error), restock=not isinstance(error, CodesMissing),
                            release=registry.release)
