"""Earn rules: how many points an event is worth before the tier multiplier. Pure functions."""
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def rule_points(rule: dict, event_type: str, properties: dict) -> int:
    """A fixed rule awards `points`; a `points_per` rule awards floor(property / every) * points."""
    if rule["event_type"] != event_type:
        return 0
    if "points_per" in rule and rule["points_per"]:
        per = rule["points_per"]
        amount = _number(properties.get(per["property"]))
        if amount is None or amount <= 0:
            return 0
        return int(amount // per["every"]) * per["points"]
    return rule.get("points") or 0


def base_points(rules: list[dict], event_type: str, properties: dict) -> int:
    """Several matching rules add up."""
    return sum(rule_points(rule, event_type, properties) for rule in rules)
