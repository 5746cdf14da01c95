"""Tiers: which one a member's rolling earnings reach, and what it multiplies. Pure functions."""
import math


def tier_for(tiers: list[dict], window_points: int) -> dict | None:
    """The highest tier whose `min_points` the member has earned in the window, or None."""
    reached = [tier for tier in tiers if window_points >= tier["min_points"]]
    return max(reached, key=lambda tier: tier["min_points"]) if reached else None


def apply_multiplier(points: int, tier: dict | None) -> int:
    """Earned points times the tier's multiplier, rounded down."""
    if tier is None or points <= 0:
        return points
    return math.floor(points * tier.get("multiplier", 1) + 1e-9)
