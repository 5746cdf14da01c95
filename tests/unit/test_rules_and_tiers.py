import pytest

from chalicelib.earning import rules
from chalicelib.members import tiers

RULES = [{"event_type": "signup", "points": 100},
         {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}},
         {"event_type": "purchase", "points": 5}]
TIERS = [{"name": "Silver", "min_points": 1000, "multiplier": 1.25},
         {"name": "Gold", "min_points": 5000, "multiplier": 1.5}]


@pytest.mark.parametrize("event_type, properties, expected", [
    ("signup", {}, 100),
    ("purchase", {"amount": 1999}, 19 + 5),  # floor(1999 / 100) * 1, plus the fixed rule: rules add up
    ("purchase", {"amount": 99}, 0 + 5),
    ("purchase", {}, 5),  # a missing property awards nothing for that rule
    ("purchase", {"amount": "1000"}, 5),  # nor does a non-number
    ("purchase", {"amount": True}, 5),
    ("purchase", {"amount": -500}, 5),
    ("refund", {"amount": 1000}, 0),  # no rule matches
])
def test_base_points(event_type, properties, expected):
    assert rules.base_points(RULES, event_type, properties) == expected


@pytest.mark.parametrize("window_points, expected", [(0, None), (999, None), (1000, "Silver"), (4999, "Silver"),
                                                     (5000, "Gold"), (10**9, "Gold")])
def test_tier_for(window_points, expected):
    tier = tiers.tier_for(TIERS, window_points)
    assert (tier["name"] if tier else None) == expected


def test_the_multiplier_rounds_down():
    assert tiers.apply_multiplier(13, TIERS[0]) == 16  # 16.25
    assert tiers.apply_multiplier(10, TIERS[1]) == 15
    assert tiers.apply_multiplier(29, {"name": "X", "min_points": 0, "multiplier": 1.0}) == 29
    assert tiers.apply_multiplier(7, None) == 7
