"""Reward providers: the outside services that deliver a reward (a partner's points, a card, a gift).

A provider is asked to place one order per redemption, named by the redemption's id (`external_id`), so
asking again after a timeout or a lost answer finds the order already placed and never orders twice.
"""
from chalicelib.rewards.providers.base import Provider, ProviderRejected, ProviderResult, ProviderUnavailable

__all__ = ["Provider", "ProviderRejected", "ProviderResult", "ProviderUnavailable", "default"]


def default() -> Provider:
    """The deployment's provider: Tremendous's order API at the configured address."""
    from chalicelib.rewards.providers.tremendous import Tremendous

    return Tremendous.from_settings()
