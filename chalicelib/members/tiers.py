"""Tiers: which one a member's qualifying measure reaches, when its stored tier moves, what it multiplies.

Pure functions. A member's tier goes up at once, on the change that crosses a threshold; it goes down
only on the scheduled recalculation, once the member has been below its tier for the program's grace
period, by one step or to the level earned (the program's `tier_policy`).
"""
import math
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_POLICY = {"measure": "points", "window_days": 365, "grace_days": 0, "downgrade": "to_earned"}


def policy_of(program_policy: dict | None) -> dict:
    """The program's tier policy with its defaults (the contract's: points earned in the last 365 days)."""
    return {**DEFAULT_POLICY, **(program_policy or {})}


def ordered(tiers: list[dict]) -> list[dict]:
    return sorted(tiers or [], key=lambda tier: tier["min_points"])


def tier_for(tiers: list[dict], window_points: float) -> dict | None:
    """The highest tier whose `min_points` the member's qualifying measure reaches, or None."""
    reached = [tier for tier in tiers if window_points >= tier["min_points"]]
    return max(reached, key=lambda tier: tier["min_points"]) if reached else None


def apply_multiplier(points: int, tier: dict | None) -> int:
    """Earned points times the tier's multiplier, rounded down."""
    if tier is None or points <= 0:
        return points
    return math.floor(points * tier.get("multiplier", 1) + 1e-9)


@dataclass(frozen=True)
class Standing:
    """Where a member stands: its tier, since when it is below it (None: it is not), what changed."""

    tier: dict | None
    below_since: str | None
    change: str | None = None  # "up" or "down"
    reached: tuple[dict, ...] = ()  # tiers passed on the way up (for their bonuses)


def _rank(ladder: list[dict], tier: dict | None) -> int:
    return -1 if tier is None else next(i for i, t in enumerate(ladder) if t["name"] == tier["name"])


def decide(tiers: list[dict], policy: dict, stored_name: str | None, measure: float, below_since: str | None,
           today: str, *, scheduled: bool) -> Standing:
    """The member's tier after a change (or on the scheduled recalculation when `scheduled`).

    A stored tier the program no longer has counts as no tier, so the member is placed afresh.
    """
    ladder = ordered(tiers)
    stored = next((tier for tier in ladder if tier["name"] == stored_name), None)
    earned = tier_for(ladder, measure)
    have, reach = _rank(ladder, stored), _rank(ladder, earned)
    if reach > have:
        return Standing(earned, None, "up", tuple(ladder[have + 1:reach + 1]))
    if reach == have:
        return Standing(stored, None)
    below_since = below_since or today
    if not scheduled or date.fromisoformat(today) < review_day(below_since, policy):
        return Standing(stored, below_since)
    target = earned if policy["downgrade"] == "to_earned" else (ladder[have - 1] if have > 0 else None)
    return Standing(target, None if _rank(ladder, target) == reach else today, "down")


def review_day(below_since: str, policy: dict) -> date:
    """The day a member below its tier since `below_since` may be moved down."""
    return date.fromisoformat(below_since) + timedelta(days=int(policy["grace_days"]))


def progress(tiers: list[dict], policy: dict, stored_name: str | None, measure: float,
             below_since: str | None) -> dict:
    """What the balance shows: the measure, the next tier and what it still needs, a pending downgrade."""
    ladder = ordered(tiers)
    stored = next((tier for tier in ladder if tier["name"] == stored_name), None)
    above = [tier for tier in ladder if _rank(ladder, tier) > _rank(ladder, stored)]
    shown = int(measure) if float(measure).is_integer() else round(measure, 2)
    view = {"measure": policy["measure"], "window_days": int(policy["window_days"]), "qualifying": shown,
            "next_tier": above[0]["name"] if above else None,
            "needed": max(0, math.ceil(above[0]["min_points"] - measure)) if above else 0}
    if below_since:
        view["downgrade_from"] = review_day(below_since, policy).isoformat()
    return view
