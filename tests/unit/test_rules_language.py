"""The earn rule language: validation (chalicelib.earning.rule_shapes) and evaluation (chalicelib.earning.rules). Pure and fast."""
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from pydantic import ValidationError
from pydantic.json_schema import models_json_schema

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.web import parse_body
from chalicelib.core.wire import Request
from chalicelib.earning import rules
from chalicelib.earning.rule_shapes import EarnRule, EarnRules, RuleCondition
from chalicelib.earning.rules import MemberFacts

UTC = timezone.utc
NOBODY = MemberFacts()
PER_EURO = {"property": "amount", "every": 100, "points": 1}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


NOON = at("2026-11-25T12:00:00Z")  # a Wednesday


def score(rule_list, event_type="purchase", properties=None, member=NOBODY, counters=None, when=NOON):
    return rules.evaluate(rule_list, event_type, properties or {}, member, counters or {}, when)


def run(rule_list, events, member=NOBODY):
    """Events in order, as (when, properties) or (when, properties, event_type): the points of each, and the counters."""
    counters, points = {}, []
    for event in events:
        when, properties = event[0], event[1]
        award = rules.evaluate(rule_list, event[2] if len(event) > 2 else "purchase", properties, member,
                               counters, at(when) if isinstance(when, str) else when)
        counters = award.counters
        points.append(award.points)
    return points, counters


def leaf(field, operator, value):
    return {"field": field, operator: value}


def matches(condition, properties=None, member=NOBODY) -> bool:
    rule = {"event_type": "purchase", "points": 1, "conditions": condition}
    EarnRule.model_validate_json(json.dumps(rule))  # every condition tested here is a valid one
    return score([rule], properties=properties or {}, member=member).points == 1


class Program(Request):
    """The shape ProgramCreate takes once it uses the rule language."""

    name: str
    earn_rules: EarnRules = []


def parse_rules(rule_list) -> list[dict]:
    """As the API does it: validate the body, then store each rule dumped without nulls."""
    program = parse_body(json.dumps({"name": "P", "earn_rules": rule_list}).encode(), Program)
    return [rule.model_dump(exclude_none=True) for rule in program.earn_rules]


# --- the contract's forms -------------------------------------------------------------------------

CONTRACT = [{"event_type": "signup", "points": 100},
            {"event_type": "purchase", "points_per": PER_EURO}]


@pytest.mark.parametrize("event_type, properties, expected", [
    ("signup", {}, 100),
    ("purchase", {"amount": 1250}, 12),
    ("purchase", {"amount": 99}, 0),
    ("purchase", {"amount": 1250.9}, 12),
    ("purchase", {}, 0),
    ("purchase", {"amount": "1250"}, 0),
    ("purchase", {"amount": True}, 0),
    ("purchase", {"amount": -500}, 0),
    ("purchase", {"amount": float("inf")}, 0),  # a JSON `Infinity` reaches us as inf: it earns nothing, never a 500
    ("refund", {"amount": 1000}, 0),
])
def test_the_contract_forms_score_as_the_contract_says(event_type, properties, expected):
    # Given the contract's two forms, validated and stored as the API stores them
    stored = parse_rules(CONTRACT)
    assert stored == CONTRACT
    # When an event is scored
    award = score(stored, event_type, properties)
    # Then it earns what the contract's formula says, the same as the legacy base_points
    assert award.points == expected
    assert rules.base_points(stored, event_type, properties) == expected
    assert award.counters == {}  # stateless rules keep nothing on the member


def test_several_matching_rules_add_up_and_are_reported_per_rule():
    # Given three purchase rules, two with ids
    rule_list = [{"event_type": "purchase", "points_per": PER_EURO},
                 {"id": "flat", "event_type": "purchase", "points": 5},
                 {"id": "big", "event_type": "purchase", "points": 50, "conditions": leaf("property.amount", "gte", 5000)}]
    # When a purchase of 19.99 is scored
    award = score(rule_list, properties={"amount": 1999})
    # Then the matching rules add up, each under its id (a hash for the rule without one)
    assert award.points == 19 + 5
    assert award.per_rule == {rules.derived_id(rule_list[0]): 19, "flat": 5}
    assert re.fullmatch(r"_[0-9a-f]{10}", rules.derived_id(rule_list[0]))


def test_evaluate_needs_an_aware_moment_and_does_not_touch_its_inputs():
    # Given a capped rule and counters
    rule_list = [{"id": "c", "event_type": "purchase", "points": 5, "caps": [{"period": "day", "max_points": 7}]}]
    counters = {"c": {"d": ["2026-11-25", 5, 1]}}
    frozen = json.dumps(counters)
    # When it is evaluated
    award = score(rule_list, counters=counters)
    # Then the answer is new and the counters passed in are untouched
    assert award.points == 2 and award.counters == {"c": {"d": ["2026-11-25", 7, 2]}}
    assert json.dumps(counters) == frozen
    with pytest.raises(ValueError):
        score(rule_list, when=datetime(2026, 11, 25, 12))


# --- conditions -----------------------------------------------------------------------------------

EVENT = {"amount": 2500, "category": "coffee", "qty": 2, "ratio": 0.5, "gift": False, "code": "100",
         "nothing": None, "item": {"sku": "B-12", "size": {"ml": 350}}}
ADA = MemberFacts(attributes={"department": "engineering", "employee": True, "level": 3, "team": {"name": "core"}},
                  tier="Gold")


@pytest.mark.parametrize("field, operator, value, expected", [
    # equals: strict types, numbers by value, nested paths
    ("property.category", "equals", "coffee", True),
    ("property.category", "equals", "Coffee", False),  # case-sensitive
    ("property.qty", "equals", 2, True),
    ("property.qty", "equals", 2.0, True),
    ("property.code", "equals", 100, False),  # "100" is not 100
    ("property.qty", "equals", "2", False),
    ("property.gift", "equals", False, True),
    ("property.gift", "equals", 0, False),  # false is not 0
    ("property.item.sku", "equals", "B-12", True),
    ("property.item.size.ml", "equals", 350, True),
    ("property.item.sku.x", "equals", "B-12", False),  # the path runs through a string
    ("property.missing", "equals", "x", False),
    ("property.nothing", "equals", "x", False),
    # not_equals is exactly not(equals)
    ("property.category", "not_equals", "tea", True),
    ("property.category", "not_equals", "coffee", False),
    ("property.missing", "not_equals", "x", True),
    ("property.code", "not_equals", 100, True),
    # in / not_in
    ("property.category", "in", ["tea", "coffee"], True),
    ("property.category", "in", ["tea", "cake"], False),
    ("property.qty", "in", [1, 2, 3], True),
    ("property.qty", "in", ["2"], False),
    ("property.gift", "in", [0, 1], False),
    ("property.missing", "in", ["x"], False),
    ("property.category", "not_in", ["tea", "cake"], True),
    ("property.category", "not_in", ["coffee"], False),
    ("property.missing", "not_in", ["x"], True),
    # numeric comparisons: numbers only
    ("property.amount", "gt", 2499, True),
    ("property.amount", "gt", 2500, False),
    ("property.amount", "gte", 2500, True),
    ("property.amount", "gte", 2500.5, False),
    ("property.amount", "lt", 2501, True),
    ("property.amount", "lt", 2500, False),
    ("property.amount", "lte", 2500, True),
    ("property.amount", "lte", 2499.99, False),
    ("property.ratio", "lt", 1, True),
    ("property.code", "gt", 1, False),  # a string is not a number
    ("property.gift", "lt", 1, False),  # nor is a boolean
    ("property.missing", "lt", 1, False),
    ("property.amount", "between", [1000, 2500], True),  # both ends included
    ("property.amount", "between", [2500, 2500], True),
    ("property.amount", "between", [2501, 5000], False),
    ("property.ratio", "between", [0.25, 0.75], True),
    ("property.missing", "between", [0, 1], False),
    # exists
    ("property.category", "exists", True, True),
    ("property.missing", "exists", True, False),
    ("property.nothing", "exists", True, False),  # null counts as missing
    ("property.missing", "exists", False, True),
    ("property.nothing", "exists", False, True),
    ("property.gift", "exists", False, False),
    # member attributes and tier
    ("member.attributes.department", "equals", "engineering", True),
    ("member.attributes.department", "in", ["sales", "support"], False),
    ("member.attributes.employee", "equals", True, True),
    ("member.attributes.level", "gte", 3, True),
    ("member.attributes.team.name", "equals", "core", True),
    ("member.attributes.missing", "exists", False, True),
    ("member.tier", "equals", "Gold", True),
    ("member.tier", "not_equals", "Gold", False),
    ("member.tier", "in", ["Silver", "Gold"], True),
    ("member.tier", "not_in", ["Silver"], True),
    ("member.tier", "exists", True, True),
])
def test_every_operator(field, operator, value, expected):
    # Given a leaf condition, When it is tested on an event and a member, Then it holds exactly as documented
    assert matches(leaf(field, operator, value), EVENT, ADA) is expected


@pytest.mark.parametrize("condition, expected", [
    (leaf("member.tier", "exists", False), True),
    (leaf("member.tier", "equals", "Gold"), False),
    (leaf("member.tier", "not_equals", "Gold"), True),
    (leaf("member.tier", "not_in", ["Gold"]), True),
    (leaf("member.attributes.department", "exists", True), False),
])
def test_a_member_without_tier_or_attributes(condition, expected):
    # Given a member below every tier and without attributes (None, as a fresh member has)
    member = MemberFacts(attributes=None, tier=None)
    # Then the tier and the attributes are missing
    assert matches(condition, {}, member) is expected


COFFEE = leaf("property.category", "equals", "coffee")
TEA = leaf("property.category", "equals", "tea")
BIG = leaf("property.amount", "gte", 2000)


@pytest.mark.parametrize("condition, expected", [
    ({"all": [COFFEE, BIG]}, True),
    ({"all": [COFFEE, {"not": BIG}]}, False),
    ({"any": [TEA, BIG]}, True),
    ({"any": [TEA, {"not": COFFEE}]}, False),
    ({"not": TEA}, True),
    ({"not": {"not": COFFEE}}, True),
    ({"all": [{"any": [TEA, COFFEE]}, {"not": {"all": [BIG, TEA]}}]}, True),
    ({"any": [{"all": [TEA, BIG]}, {"all": [COFFEE, leaf("property.amount", "lt", 100)]}]}, False),
    ({"all": [{"any": [{"not": {"all": [TEA]}}]}]}, True),  # five levels deep, the most allowed
    ({"all": [COFFEE]}, True),
    ({"any": [TEA]}, False),
])
def test_all_any_not_nest(condition, expected):
    # Given a tree of groups over leaves, When it is tested on one event, Then it holds as boolean logic says
    assert matches(condition, EVENT) is expected


def test_huge_and_non_finite_numbers_are_handled_not_crashed_on():
    # Given a condition with a number larger than any float, which is valid
    (rule,) = parse_rules([{"event_type": "purchase", "points_per": PER_EURO, "multiplier": 1.5,
                            "conditions": leaf("property.amount", "gt", 10**400)}])
    # When events carry larger, non-finite or Decimal numbers, Then they are compared exactly or ignored
    assert score([rule], properties={"amount": 10**401}).points == rules.MAX_AWARD
    assert score([rule], properties={"amount": 10**300}).points == 0
    assert score([rule], properties={"amount": float("nan")}).points == 0
    assert matches(leaf("property.x", "equals", 1.5), {"x": Decimal("1.5")})
    assert not matches(leaf("property.x", "lt", 1), {"x": Decimal("NaN")})


# --- how much -------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, properties, expected", [
    ({"points": 10, "multiplier": 2.0}, {}, 20),
    ({"points": 13, "multiplier": 1.25}, {}, 16),  # 16.25 rounds down
    ({"points": 20, "multiplier": 1.15}, {}, 23),  # exactly 23, though 20 * 1.15 is 22.999... in binary floats
    ({"points": 7, "multiplier": 0.5}, {}, 3),
    ({"points": 1, "multiplier": 0.99}, {}, 0),
    ({"points": 100, "multiplier": 0}, {}, 0),
    ({"points_per": PER_EURO, "multiplier": 1.5}, {"amount": 1999}, 28),  # floor(19 * 1.5)
    ({"points_per": PER_EURO, "multiplier": 3}, {"amount": 1000}, 30),
    ({"points": 100, "max_points": 40}, {}, 40),
    ({"points": 100, "multiplier": 3.0, "max_points": 250}, {}, 250),  # max_points after the multiplier
    ({"points_per": PER_EURO, "max_points": 100}, {"amount": 5000}, 50),
    ({"points_per": PER_EURO, "max_points": 100}, {"amount": 50000}, 100),
    ({"points_per": {"property": "amount", "every": 1, "points": 1_000_000}, "multiplier": 100.0},
     {"amount": 10**300}, rules.MAX_AWARD),  # one rule never awards more than a billion for one event
])
def test_multiplier_rounds_down_and_max_points_caps_one_event(rule, properties, expected):
    # Given a rule with a multiplier and/or max_points, When one event is scored, Then it earns exactly this
    stored = parse_rules([{"event_type": "purchase", **rule}])
    assert score(stored, properties=properties).points == expected


# --- caps -----------------------------------------------------------------------------------------

def capped(*caps, points=50, timezone_name=None, **extra):
    rule = {"id": "r", "event_type": "purchase", "points": points, "caps": list(caps), **extra}
    if timezone_name:
        rule["timezone"] = timezone_name
    return parse_rules([rule])


def test_a_day_cap_cuts_the_award_that_crosses_it_then_awards_nothing():
    # Given 50 points per purchase, at most 120 a day
    rule_list = capped({"period": "day", "max_points": 120})
    # When four purchases happen in one day
    points, counters = run(rule_list, [(f"2026-11-25T{hour:02d}:00:00Z", {}) for hour in (9, 10, 11, 12)])
    # Then the third is cut to the 20 left, and the fourth earns nothing
    assert points == [50, 50, 20, 0]
    assert counters == {"r": {"d": ["2026-11-25", 120, 3]}}


def test_day_week_and_month_roll_over_in_the_rules_timezone():
    # Given caps in Europe/Rome (UTC+1 in November): Sunday 22 November, 23:30 and Monday 23, 00:30 in Rome
    # are the same UTC day, and Monday 30 November 23:30 / Tuesday 1 December 00:30 too
    day = capped({"period": "day", "max_points": 50}, timezone_name="Europe/Rome")
    week = capped({"period": "week", "max_points": 50}, timezone_name="Europe/Rome")
    month = capped({"period": "month", "max_points": 50}, timezone_name="Europe/Rome")
    sunday_late, monday_early = "2026-11-22T22:30:00Z", "2026-11-22T23:30:00Z"
    november_last, december_first = "2026-11-30T22:30:00Z", "2026-11-30T23:30:00Z"
    # When two purchases straddle each boundary in Rome
    # Then each period starts afresh at Rome's midnight, not UTC's
    assert run(day, [(sunday_late, {}), (monday_early, {})]) == (
        [50, 50], {"r": {"d": ["2026-11-23", 50, 1]}})
    assert run(week, [(sunday_late, {}), (monday_early, {})]) == (
        [50, 50], {"r": {"w": ["2026-W48", 50, 1]}})
    assert run(week, [("2026-11-16T00:30:00Z", {}), (sunday_late, {})])[0] == [50, 0]  # Monday to Sunday: one week
    assert run(month, [(november_last, {}), (december_first, {})]) == (
        [50, 50], {"r": {"m": ["2026-12", 50, 1]}})
    assert run(month, [("2026-10-31T23:30:00Z", {}), (november_last, {})])[0] == [50, 0]  # 1 to 30 November
    # And in UTC the same pairs fall in one day and one month
    assert run(capped({"period": "day", "max_points": 50}), [(sunday_late, {}), (monday_early, {})])[0] == [50, 0]
    assert run(capped({"period": "month", "max_points": 50}), [(november_last, {}), (december_first, {})])[0] == [50, 0]


def test_a_day_in_rome_is_23_hours_when_summer_time_starts():
    # Given a day cap in Rome, where clocks jump from 02:00 to 03:00 on 29 March 2026
    rule_list = capped({"period": "day", "max_points": 50}, timezone_name="Europe/Rome")
    # When purchases happen just before and after midnight in Rome, on either side of the change
    points, counters = run(rule_list, [("2026-03-28T22:59:00Z", {}),  # 23:59 on the 28th (UTC+1)
                                       ("2026-03-28T23:01:00Z", {}),  # 00:01 on the 29th
                                       ("2026-03-29T21:59:00Z", {}),  # 23:59 on the 29th (UTC+2)
                                       ("2026-03-29T22:01:00Z", {})])  # 00:01 on the 30th
    # Then the days follow Rome's clock
    assert points == [50, 50, 0, 50]
    assert counters == {"r": {"d": ["2026-03-30", 50, 1]}}


def test_a_week_cap_and_the_iso_week_across_new_year():
    # Given at most 80 a week: 31 December 2026 (Thursday) and 1 January 2027 are both in ISO week 2026-W53
    rule_list = capped({"period": "week", "max_points": 80})
    # When purchases happen on both, and on the Monday after
    # Then the week spans the new year, and Monday starts ISO week 2027-W01
    points, counters = run(rule_list, [("2026-12-31T10:00:00Z", {}), ("2027-01-01T10:00:00Z", {}),
                                       ("2027-01-04T10:00:00Z", {})])  # Monday: 2027-W01
    assert points == [50, 30, 50]
    assert counters == {"r": {"w": ["2027-W01", 50, 1]}}


def test_a_lifetime_cap_never_resets():
    # Given at most 120 points in all, When purchases happen over years, Then the third is cut and then nothing
    rule_list = capped({"period": "lifetime", "max_points": 120})
    points, counters = run(rule_list, [("2026-01-01T10:00:00Z", {}), ("2026-06-01T10:00:00Z", {}),
                                       ("2027-01-01T10:00:00Z", {}), ("2030-01-01T10:00:00Z", {})])
    assert points == [50, 50, 20, 0]
    assert counters == {"r": {"l": [120, 3]}}


def test_max_awards_counts_events_that_earned():
    # Given at most two awards a day, and a points_per rule that may earn 0
    rule_list = parse_rules([{"id": "r", "event_type": "purchase", "points_per": PER_EURO,
                              "caps": [{"period": "day", "max_awards": 2}]}])
    # When five purchases happen on one day, one of them too small to earn, and one the next day
    points, counters = run(rule_list, [("2026-11-25T09:00:00Z", {"amount": 500}),
                                       ("2026-11-25T10:00:00Z", {"amount": 50}),  # earns 0: not an award
                                       ("2026-11-25T11:00:00Z", {"amount": 700}),
                                       ("2026-11-25T12:00:00Z", {"amount": 900}),
                                       ("2026-11-26T09:00:00Z", {"amount": 300})])
    # Then only two purchases earn that day, and the next day starts afresh
    assert points == [5, 0, 7, 0, 3]
    assert counters == {"r": {"d": ["2026-11-26", 3, 1]}}


def test_the_tightest_of_several_caps_wins():
    # Given 50 points a purchase, at most 80 a day, 150 a week, 3 awards a month and 400 in all
    rule_list = capped({"period": "day", "max_points": 80}, {"period": "week", "max_points": 150},
                       {"period": "month", "max_awards": 3}, {"period": "lifetime", "max_points": 400})
    events = [(f"2026-11-{day:02d}T10:00:00Z", {}) for day in (2, 2, 3, 4, 5, 9, 16, 30)] + \
             [("2026-12-01T10:00:00Z", {}), ("2026-12-02T10:00:00Z", {}), ("2026-12-07T10:00:00Z", {})]
    points, counters = run(rule_list, events)
    # 2 Nov: 50, 30 (day); 3 Nov: 50; 4 Nov: 20 (week 150) but it is the 4th award of the month: 0;
    # the month has had three awards already, so nothing more in November; December starts afresh
    assert points == [50, 30, 50, 0, 0, 0, 0, 0, 50, 50, 50]
    assert sum(points) == 280
    assert counters == {"r": {"d": ["2026-12-07", 50, 1], "w": ["2026-W50", 50, 1], "m": ["2026-12", 150, 3],
                              "l": [280, 6]}}


def test_an_event_late_for_its_period_counts_in_the_later_period_already_counted():
    # Given at most 60 a day, and 50 already counted on the 26th
    rule_list = capped({"period": "day", "max_points": 60})
    # When an event that occurred on the 25th arrives after it
    points, counters = run(rule_list, [("2026-11-26T10:00:00Z", {}), ("2026-11-25T10:00:00Z", {}),
                                       ("2026-11-27T10:00:00Z", {})])
    # Then it counts in the 26th, so no day ever goes over its cap
    assert points == [50, 10, 50]
    assert counters == {"r": {"d": ["2026-11-27", 50, 1]}}


def test_caps_count_per_member_and_per_rule():
    # Given two capped rules, and one member's counters
    rule_list = [{"id": "a", "event_type": "purchase", "points": 50, "caps": [{"period": "day", "max_points": 50}]},
                 {"id": "b", "event_type": "purchase", "points": 30, "caps": [{"period": "day", "max_points": 60}]}]
    first = score(rule_list)
    # When the same member purchases again, and another member (no counters) purchases
    again, other = score(rule_list, counters=first.counters), score(rule_list)
    # Then each rule spends its own allowance, and the other member has all of it
    assert (first.points, again.points, other.points) == (80, 30, 80)
    assert again.per_rule == {"b": 30}
    assert again.counters == {"a": {"d": ["2026-11-25", 50, 1]}, "b": {"d": ["2026-11-25", 60, 2]}}


# --- first time only ------------------------------------------------------------------------------

def test_first_time_only_awards_the_first_matching_event_only():
    # Given a 500-point bonus on the first purchase of at least 10.00
    rule_list = parse_rules([{"id": "first", "event_type": "purchase", "points": 500, "first_time_only": True,
                              "conditions": leaf("property.amount", "gte", 1000)}])
    # When a small purchase, then two large ones happen
    points, counters = run(rule_list, [(NOON, {"amount": 500}), (NOON, {"amount": 1500}), (NOON, {"amount": 2000})])
    # Then the event that did not match leaves the bonus for the first one that does
    assert points == [0, 500, 0]
    assert counters == {"first": {"f": 1}}


def test_first_time_only_is_used_up_by_a_matching_event_worth_nothing():
    # Given a first-time points_per rule, When the first matching purchase is too small to earn,
    # Then it still uses the rule up
    rule_list = [{"id": "first", "event_type": "purchase", "points_per": PER_EURO, "first_time_only": True}]
    points, counters = run(rule_list, [(NOON, {"amount": 50}), (NOON, {"amount": 5000})])
    assert points == [0, 0]
    assert counters == {"first": {"f": 1}}


def test_first_time_only_ignores_other_event_types():
    # Given a first-purchase bonus, When a signup comes first, Then it does not use the bonus up
    rule_list = [{"id": "first", "event_type": "purchase", "points": 500, "first_time_only": True}]
    points, _ = run(rule_list, [(NOON, {}, "signup"), (NOON, {}, "purchase"), (NOON, {}, "purchase")])
    assert points == [0, 500, 0]


# --- when -----------------------------------------------------------------------------------------

def test_valid_from_is_included_and_valid_until_excluded():
    # Given a rule for December 2026 in Rome (UTC+1)
    rule_list = parse_rules([{"event_type": "purchase", "points": 25, "valid_from": "2026-12-01T00:00:00+01:00",
                              "valid_until": "2027-01-01T00:00:00+01:00"}])
    # When events happen around both ends
    cases = {"2026-11-30T22:59:59Z": 0, "2026-11-30T23:00:00Z": 25, "2026-12-15T12:00:00Z": 25,
             "2026-12-31T22:59:59Z": 25, "2026-12-31T23:00:00Z": 0}
    # Then the window is [valid_from, valid_until)
    assert {when: score(rule_list, when=at(when)).points for when in cases} == cases


def test_timestamps_in_any_rfc_3339_spelling():
    # Given windows written with lowercase t and z, fractions and offsets, Then they are the same instants
    rule_list = parse_rules([{"event_type": "purchase", "points": 5, "valid_from": "2026-12-01t00:00:00.5z",
                              "valid_until": "2026-12-01T02:00:00.000+01:00"}])
    assert [score(rule_list, when=at(w)).points for w in ("2026-12-01T00:00:00Z", "2026-12-01T00:00:00.5Z",
                                                          "2026-12-01T00:59:59Z", "2026-12-01T01:00:00Z")] == [0, 5, 5, 0]


def test_an_open_ended_window():
    # Given rules with only valid_from or only valid_until, Then each is open on its other side
    since = [{"event_type": "purchase", "points": 5, "valid_from": "2026-12-01T00:00:00Z"}]
    until = [{"event_type": "purchase", "points": 5, "valid_until": "2026-12-01T00:00:00Z"}]
    assert [score(since, when=at(w)).points for w in ("2026-11-30T23:59:59Z", "2099-01-01T00:00:00Z")] == [0, 5]
    assert [score(until, when=at(w)).points for w in ("2000-01-01T00:00:00Z", "2026-12-01T00:00:00Z")] == [5, 0]


@pytest.mark.parametrize("when, timezone_name, expected", [
    ("2026-11-27T12:00:00Z", None, 0),  # Friday
    ("2026-11-28T00:00:00Z", None, 10),  # Saturday, UTC
    ("2026-11-29T23:59:59Z", None, 10),  # Sunday, UTC
    ("2026-11-30T00:00:00Z", None, 0),  # Monday, UTC
    ("2026-11-27T23:30:00Z", "Europe/Rome", 10),  # Friday in UTC, Saturday 00:30 in Rome
    ("2026-11-29T23:30:00Z", "Europe/Rome", 0),  # Sunday in UTC, Monday 00:30 in Rome
    ("2026-11-28T03:00:00Z", "America/New_York", 0),  # Saturday in UTC, Friday 22:00 in New York
    ("2026-11-30T03:00:00Z", "America/New_York", 10),  # Monday in UTC, Sunday 22:00 in New York
])
def test_days_of_week_in_the_rules_timezone(when, timezone_name, expected):
    # Given a weekend rule, When an event happens near midnight, Then the day is the one in the rule's zone
    rule = {"event_type": "purchase", "points": 10, "days_of_week": ["sat", "sun"]}
    if timezone_name:
        rule["timezone"] = timezone_name
    assert score(parse_rules([rule]), when=at(when)).points == expected


def test_without_a_moment_the_legacy_base_points_never_awards_timed_or_stateful_rules():
    # Given rules of every kind, When the legacy stateless base_points scores a purchase,
    # Then it never awards more than evaluate could: no stateful rules, and timed ones only given a moment
    rule_list = [{"event_type": "purchase", "points": 1},
                 {"event_type": "purchase", "points": 10, "days_of_week": ["sat"]},
                 {"event_type": "purchase", "points": 100, "first_time_only": True},
                 {"event_type": "purchase", "points": 1000, "caps": [{"period": "day", "max_points": 5}]},
                 {"event_type": "purchase", "points": 10000, "conditions": leaf("property.x", "equals", 1)}]
    assert rules.base_points(rule_list, "purchase", {"x": 1}) == 10001
    assert rules.base_points(rule_list, "purchase", {"x": 1}, at=at("2026-11-28T12:00:00Z")) == 10011


# --- rule ids, and changing rules -----------------------------------------------------------------

def test_a_derived_id_ignores_what_does_not_change_the_meaning():
    # Given the same rule written two ways, and a different one, Then the same rule hashes alike
    rule = {"event_type": "purchase", "points": 5, "multiplier": 2.0, "days_of_week": ["sat", "sun"]}
    same = {"days_of_week": ["sun", "sat"], "multiplier": 2, "points": 5, "event_type": "purchase",
            "first_time_only": False, "max_points": None}
    different = {**rule, "points": 6}
    assert rules.derived_id(rule) == rules.derived_id(same) != rules.derived_id(different)
    assert rules.derived_id(rule) == rules.derived_id(json.loads(json.dumps(rule)))
    assert rules.derived_id({"id": "x", **rule}) == rules.derived_id(rule)
    assert rules.rule_id({"id": "x", **rule}) == "x"


def test_counters_survive_unrelated_edits_and_an_explicit_id_survives_its_own():
    # Given a capped rule without an id, and one with an id, half used
    anonymous = {"event_type": "purchase", "points": 50, "caps": [{"period": "lifetime", "max_points": 75}]}
    named = {"id": "named", "event_type": "purchase", "points": 50, "caps": [{"period": "lifetime", "max_points": 75}]}
    before = score([anonymous, named])
    assert before.points == 100
    # When another rule is added in front and the named rule is edited (more points, same cap)
    edited = {**named, "points": 60}
    after = score([{"event_type": "purchase", "points": 1}, anonymous, edited], counters=before.counters)
    # Then both keep their counters: only what is left of each cap is awarded, from then on
    assert after.points == 1 + 25 + 25
    # But editing the rule without an id makes it a new rule, whose counters start afresh
    fresh = score([{**anonymous, "points": 40}], counters=after.counters)
    assert fresh.points == 40


def test_counters_of_removed_rules_and_unused_parts_are_dropped():
    # Given counters of two capped rules
    rule_list = [{"id": "a", "event_type": "purchase", "points": 5,
                  "caps": [{"period": "day", "max_points": 50}, {"period": "lifetime", "max_points": 500}]},
                 {"id": "b", "event_type": "purchase", "points": 5, "first_time_only": True}]
    counters = score(rule_list).counters
    assert counters == {"a": {"d": ["2026-11-25", 5, 1], "l": [5, 1]}, "b": {"f": 1}}
    # When b is removed and a loses its day cap, and a signup (no purchase rule matches) is scored
    award = score([{**rule_list[0], "caps": [{"period": "lifetime", "max_points": 500}]}], "signup", counters=counters)
    # Then only what the rules still need is kept
    assert award.counters == {"a": {"l": [5, 1]}}


def test_identical_rules_without_ids_each_count_alone():
    # Given two identical capped rules without ids, When a purchase is scored twice,
    # Then each rule awards once and keeps its own counter
    rule = {"event_type": "purchase", "points": 5, "caps": [{"period": "day", "max_awards": 1}]}
    first = score([rule, rule])  # even the same object twice
    base = rules.derived_id(rule)
    assert first.points == 10 and set(first.per_rule) == {base, base + "~2"}
    assert score([rule, dict(rule)], counters=first.counters).points == 0
    assert rules.rule_ids([rule, rule, {**rule, "points": 6}]) == [base, base + "~2", rules.derived_id({**rule, "points": 6})]


def test_counters_tolerate_what_the_database_hands_back():
    # Given counters read back with Decimals (a DynamoDB map) and some damage
    rule_list = capped({"period": "day", "max_points": 120}, {"period": "lifetime", "max_points": 1000})
    counters = {"r": {"d": ["2026-11-25", Decimal("100"), Decimal("2")], "l": ["garbage"], "x": 1}, "gone": {"f": 1}}
    # When a purchase is scored, Then what is sound is used, the rest dropped, and nothing crashes
    award = score(rule_list, counters=counters)
    assert award.points == 20
    assert award.counters == {"r": {"d": ["2026-11-25", 120, 3], "l": [20, 1]}}
    assert score(rule_list, counters="not a dict").points == 50


def test_counters_stay_small():
    # Given three rules, two of them capped and one first-time-only, with ids as long as real ones
    rule_list = [
        {"id": "coffee-bonus", "event_type": "purchase", "points": 20, "timezone": "Europe/Rome",
         "caps": [{"period": "day", "max_points": 60}, {"period": "month", "max_points": 500}]},
        {"id": "weekly-visits", "event_type": "visit", "points": 5,
         "caps": [{"period": "week", "max_awards": 3}, {"period": "lifetime", "max_points": 10000}]},
        {"id": "first-purchase", "event_type": "purchase", "points": 500, "first_time_only": True},
    ]
    # When 100 events spread over five months are scored
    start = at("2026-07-01T08:00:00Z")
    events = [(start + timedelta(hours=37 * n), {}, "purchase" if n % 3 else "visit") for n in range(100)]
    points, counters = run(rule_list, events)
    # Then the counters hold only the current periods: a couple of hundred bytes, whatever the history
    size = len(json.dumps(counters, separators=(",", ":")))
    assert size < 300, (size, counters)
    assert set(counters) == {"coffee-bonus", "weekly-visits", "first-purchase"}
    assert sum(points) > 0


# --- validation ----------------------------------------------------------------------------------

def bad(rule_list):
    with pytest.raises(ValidationFailed) as failed:
        parse_rules(rule_list)
    return failed.value.details["field"], failed.value.message


RULE = {"event_type": "purchase", "points": 10}


@pytest.mark.parametrize("rule, field, message", [
    ({"event_type": "purchase"}, "earn_rules.0", "exactly one of points or points_per"),
    ({**RULE, "points_per": PER_EURO}, "earn_rules.0", "exactly one of points or points_per"),
    ({**RULE, "points": -1}, "earn_rules.0.points", "greater than or equal to 1"),
    ({**RULE, "points": 10.5}, "earn_rules.0.points", "integer"),
    ({**RULE, "bonus": 1}, "earn_rules.0.bonus", "Extra inputs"),
    ({**RULE, "id": "has space"}, "earn_rules.0.id", "pattern"),
    ({**RULE, "id": "_x"}, "earn_rules.0.id", "pattern"),  # derived ids start with _; yours cannot
    ({**RULE, "multiplier": -1}, "earn_rules.0.multiplier", "greater than or equal to 0"),
    ({**RULE, "multiplier": "2"}, "earn_rules.0.multiplier", "number"),
    ({**RULE, "multiplier": None}, "earn_rules.0.multiplier", "number"),
    ({**RULE, "max_points": 0}, "earn_rules.0.max_points", "greater than or equal to 1"),
    ({**RULE, "first_time_only": "yes"}, "earn_rules.0.first_time_only", "boolean"),
    ({**RULE, "caps": []}, "earn_rules.0.caps", "at least 1"),
    ({**RULE, "caps": [{"period": "year", "max_points": 5}]}, "earn_rules.0.caps.0.period", "'day'"),
    ({**RULE, "caps": [{"period": "day"}]}, "earn_rules.0.caps.0", "max_points, max_awards or both"),
    ({**RULE, "caps": [{"period": "day", "max_points": 0}]}, "earn_rules.0.caps.0.max_points", "greater than"),
    ({**RULE, "caps": [{"period": "day", "max_points": 5}, {"period": "day", "max_awards": 1}]},
     "earn_rules.0.caps", "one cap per period"),
    ({**RULE, "days_of_week": ["sat", "Sunday"]}, "earn_rules.0.days_of_week.1", "'mon'"),
    ({**RULE, "days_of_week": ["sat", "sat"]}, "earn_rules.0.days_of_week", "each day at most once"),
    ({**RULE, "days_of_week": []}, "earn_rules.0.days_of_week", "at least 1"),
    ({**RULE, "timezone": "Mars/Olympus_Mons"}, "earn_rules.0.timezone", "not an IANA time zone"),
    ({**RULE, "timezone": "../etc/passwd"}, "earn_rules.0.timezone", "pattern"),
    ({**RULE, "valid_from": "2026-12-01"}, "earn_rules.0.valid_from", "timestamp with a time zone"),
    ({**RULE, "valid_from": "2026-12-01T00:00:00"}, "earn_rules.0.valid_from", "time zone"),
    ({**RULE, "valid_until": "2026-13-01T00:00:00Z"}, "earn_rules.0.valid_until", "timestamp"),
    ({**RULE, "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-01T01:00:00+01:00"},
     "earn_rules.0", "valid_from must be before valid_until"),
    # conditions
    ({**RULE, "conditions": {}}, "earn_rules.0.conditions", "one of all, any, not, or field"),
    ({**RULE, "conditions": []}, "earn_rules.0.conditions", "object"),
    ({**RULE, "conditions": {"field": "property.a"}}, "earn_rules.0.conditions", "exactly one operator"),
    ({**RULE, "conditions": {"field": "property.a", "eq": 1}}, "earn_rules.0.conditions",
     "unknown condition key 'eq'"),
    ({**RULE, "conditions": {"field": "property.a", "equals": 1, "in": [1]}}, "earn_rules.0.conditions",
     "exactly one operator"),
    ({**RULE, "conditions": {"field": "property.a", "equals": None}}, "earn_rules.0.conditions.equals",
     "string, a number or a boolean"),
    ({**RULE, "conditions": {"field": "property.a", "equals": [1]}}, "earn_rules.0.conditions.equals",
     "string, a number or a boolean"),
    ({**RULE, "conditions": {"field": "property.a", "equals": "x" * 257}}, "earn_rules.0.conditions.equals",
     "at most 256"),
    ({**RULE, "conditions": {"field": "property.a", "in": []}}, "earn_rules.0.conditions.in", "at least 1"),
    ({**RULE, "conditions": {"field": "property.a", "in": list(range(101))}}, "earn_rules.0.conditions.in",
     "at most 100"),
    ({**RULE, "conditions": {"field": "property.a", "gt": "5"}}, "earn_rules.0.conditions.gt", "must be a number"),
    ({**RULE, "conditions": {"field": "property.a", "gt": True}}, "earn_rules.0.conditions.gt", "must be a number"),
    ({**RULE, "conditions": {"field": "property.a", "gt": float("nan")}}, "earn_rules.0.conditions.gt",
     "must be a number"),  # a NaN literal parses, and is refused
    ({**RULE, "conditions": {"field": "property.a", "between": [5]}}, "earn_rules.0.conditions.between",
     "at least 2"),
    ({**RULE, "conditions": {"field": "property.a", "between": [1, 2, 3]}}, "earn_rules.0.conditions.between",
     "at most 2"),
    ({**RULE, "conditions": {"field": "property.a", "between": [9, 1]}}, "earn_rules.0.conditions",
     "lo ≤ hi"),
    ({**RULE, "conditions": {"field": "property.a", "between": ["a", "b"]}}, "earn_rules.0.conditions.between.0",
     "must be a number"),
    ({**RULE, "conditions": {"field": "property.a", "exists": "yes"}}, "earn_rules.0.conditions.exists", "boolean"),
    ({**RULE, "conditions": {"field": "amount", "equals": 1}}, "earn_rules.0.conditions.field", "pattern"),
    ({**RULE, "conditions": {"field": "member.email", "equals": 1}}, "earn_rules.0.conditions.field", "pattern"),
    ({**RULE, "conditions": {"field": "property.", "equals": 1}}, "earn_rules.0.conditions.field", "pattern"),
    ({**RULE, "conditions": {"field": "member.tier", "gte": 1}}, "earn_rules.0.conditions",
     "member.tier takes equals"),
    ({**RULE, "conditions": {"field": "member.tier", "in": ["Gold", 1]}}, "earn_rules.0.conditions",
     "tier names"),
    ({**RULE, "conditions": {"all": []}}, "earn_rules.0.conditions.all", "at least 1"),
    ({**RULE, "conditions": {"all": [COFFEE] * 21}}, "earn_rules.0.conditions.all", "at most 20"),
    ({**RULE, "conditions": {"all": [COFFEE], "any": [TEA]}}, "earn_rules.0.conditions", "exactly one key"),
    ({**RULE, "conditions": {"not": COFFEE, "field": "property.a", "equals": 1}}, "earn_rules.0.conditions",
     "exactly one key"),
    ({**RULE, "conditions": {"not": [COFFEE]}}, "earn_rules.0.conditions.not", "object"),
    ({**RULE, "conditions": {"all": [COFFEE, {"any": [{"field": "property.a", "gt": 1, "lt": 2}]}]}},
     "earn_rules.0.conditions.all.1.any.0", "exactly one operator"),
    ({**RULE, "conditions": {"all": [{"not": {"any": [{"not": {"all": [COFFEE]}}]}}]}},
     "earn_rules.0.conditions", "at most 5 levels deep"),
    ({**RULE, "conditions": {"any": [{"all": [COFFEE] * 20}, {"all": [TEA] * 20}, {"all": [BIG] * 20}]}},
     "earn_rules.0.conditions", "at most 50 nodes"),
])
def test_bad_rules_are_refused_with_the_field_named(rule, field, message):
    # Given a program whose second rule is wrong
    # When it is validated
    got_field, got_message = bad([{"event_type": "signup", "points": 1}, rule])
    # Then a 400 names the field and says why
    assert got_field == field.replace("earn_rules.0", "earn_rules.1", 1)
    assert message in got_message


@pytest.mark.parametrize("levels", [6, 100, 5000])
def test_a_condition_nested_beyond_any_sense_is_a_400_not_a_crash(levels):
    # Given a body nesting `not` thousands of levels deep
    raw = '{"name": "P", "earn_rules": [{"event_type": "x", "points": 1, "conditions": ' + \
          '{"not": ' * levels + '{"field": "property.a", "exists": true}' + '}' * levels + '}]}'
    # When it is parsed, Then it is a validation error (the JSON parser's own depth limit, or ours)
    with pytest.raises(ValidationFailed) as failed:
        parse_body(raw.encode(), Program)
    assert failed.value.details["field"] in ("body", "earn_rules.0.conditions")


def test_rule_ids_are_unique_in_a_program():
    # Given a program with a repeated id, Then it is refused
    field, message = bad([{**RULE, "id": "a"}, {**RULE, "id": "b"}, {**RULE, "id": "a", "points": 3}])
    assert field == "earn_rules" and "unique" in message and "a" in message
    # identical rules without ids remain valid, as the contract allowed them
    assert len(parse_rules([RULE, RULE])) == 2


def test_a_full_rule_round_trips_through_storage_unchanged():
    # Given a rule using every field
    rule = {"id": "everything", "event_type": "purchase", "points_per": PER_EURO,
            "conditions": {"all": [{"field": "property.category", "in": ["coffee", 1, True, 2.5]},
                                   {"not": {"field": "member.tier", "equals": "Gold"}},
                                   {"any": [{"field": "property.amount", "between": [100, 2000.5]},
                                            {"field": "member.attributes.vip", "exists": True}]}]},
            "multiplier": 1.5, "max_points": 300,
            "caps": [{"period": "day", "max_points": 100, "max_awards": 3}, {"period": "lifetime", "max_awards": 50}],
            "first_time_only": False, "valid_from": "2026-12-01T00:00:00+01:00",
            "valid_until": "2027-01-01T00:00:00Z", "days_of_week": ["sat", "sun"], "timezone": "Europe/Rome"}
    # When it is validated and stored, Then the stored form is what was sent
    assert parse_rules([rule]) == [rule]


# --- the documentation and the OpenAPI document ---------------------------------------------------

def documented_rules() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), flags=re.S)
    found = []
    for block in blocks:
        value = json.loads(block)
        found += value if isinstance(value, list) else [value]
    return found


DOCUMENTED = {rule.get("id", rule["event_type"]): rule for rule in documented_rules()}


def test_every_rule_in_the_docs_is_valid_and_stored_as_written():
    # Given every rule docs/rules.md shows, Then each is valid and stored exactly as written
    assert len(DOCUMENTED) >= 10
    assert parse_rules(list(DOCUMENTED.values())) == list(DOCUMENTED.values())


def doc_run(rule_ids, events, member=NOBODY):
    return run([DOCUMENTED[rule_id] for rule_id in rule_ids], events, member)[0]


def test_docs_example_weekend_double():
    # The worked examples of docs/rules.md, Given their rules, When their events happen, Then the points it shows
    assert doc_run(["base-weekdays", "base-weekend"], [("2026-11-27T12:00:00Z", {"amount": 1250}),
                                                       ("2026-11-27T23:30:00Z", {"amount": 1250})]) == [12, 24]


def test_docs_example_category_bonus_with_a_monthly_cap():
    assert doc_run(["coffee-bonus"], [("2026-11-03T09:00:00Z", {"amount": 4000, "category": "coffee"}),
                                      ("2026-11-10T09:00:00Z", {"amount": 2500, "category": "tea"}),
                                      ("2026-11-30T22:30:00Z", {"amount": 1000, "category": "coffee"}),
                                      ("2026-11-30T23:30:00Z", {"amount": 1000, "category": "coffee"}),
                                      ("2026-12-02T09:00:00Z", {"amount": 1000, "category": "cake"})]) == [80, 20, 0, 20, 0]


def test_docs_example_first_purchase():
    assert doc_run(["first-purchase"], [(NOON, {"amount": 500}), (NOON, {"amount": 1500}),
                                        (NOON, {"amount": 2000})]) == [0, 500, 0]


def test_docs_example_vip_by_tier():
    week = [(f"2026-11-{day}T10:00:00Z", {}) for day in (23, 24, 25, 26, 30)]  # Monday 23 to Monday 30
    assert doc_run(["vip-bonus"], week, MemberFacts(tier="Gold")) == [50, 50, 50, 0, 50]
    assert doc_run(["vip-bonus"], week, MemberFacts(tier="Silver")) == [0] * 5
    assert doc_run(["vip-bonus"], week) == [0] * 5


def test_docs_example_employees_of_some_departments():
    engineer = MemberFacts(attributes={"employee": True, "department": "engineering"})
    contractor = MemberFacts(attributes={"employee": True, "department": "support", "contractor": True})
    seller = MemberFacts(attributes={"employee": True, "department": "sales"})
    day = [("2026-11-25T14:00:00Z", {"steps": 7500}, "steps_logged"),
           ("2026-11-26T03:00:00Z", {"steps": 12000}, "steps_logged")]  # 22:00 on the 25th in New York
    assert doc_run(["wellness-steps"], day, engineer) == [7, 3]
    assert doc_run(["wellness-steps"], day, contractor) == [0, 0]
    assert doc_run(["wellness-steps"], day, seller) == [0, 0]


def test_docs_example_december_in_rome():
    assert doc_run(["december-2026"], [("2026-11-30T22:30:00Z", {}), ("2026-11-30T23:30:00Z", {}),
                                       ("2026-12-01T18:00:00Z", {}), ("2026-12-31T22:30:00Z", {}),
                                       ("2026-12-31T23:30:00Z", {})]) == [0, 25, 0, 25, 0]


def test_docs_example_app_triple():
    newsletter = MemberFacts(attributes={"newsletter": True})
    events = [(NOON, {"amount": 2550, "channel": "app"}), (NOON, {"amount": 20000, "channel": "app"}),
              (NOON, {"amount": 2550, "channel": "web"}),
              (NOON, {"amount": 2550, "channel": "app", "category": "gift_card"})]
    assert doc_run(["app-triple"], events) == [50, 300, 0, 0]
    assert doc_run(["app-triple"], events[2:3], newsletter) == [50]


def test_docs_example_daily_check_in():
    days = [(at("2026-01-01T08:00:00Z") + timedelta(hours=12 * n), {}, "check_in") for n in range(250)]
    points = doc_run(["check-in"], days)
    assert points[:4] == [10, 0, 10, 0] and sum(points) == 1000


def test_the_schema_is_documented_and_makes_a_valid_openapi_document():
    # Given the JSON schema of a program body using the rule language, as the OpenAPI document builds it
    _, definitions = models_json_schema([(Program, "validation")], ref_template="#/components/schemas/{model}")
    components = definitions["$defs"]
    # Then every field of every rule model is described
    for name in ("EarnRule", "RuleCondition", "RuleCap", "PointsPer"):
        for prop, schema in components[name]["properties"].items():
            assert schema.get("description"), (name, prop)
    assert components["EarnRule"]["examples"] and components["EarnRule"]["description"]
    assert set(components["RuleCondition"]["properties"]) >= {"all", "any", "not", "in", "between", "exists"}
    assert '"null"' not in json.dumps(components["RuleCondition"]) + json.dumps(components["RuleCap"])  # absent, never null
    # And it is a valid OpenAPI 3.1 document
    validate({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
              "paths": {"/p": {"post": {"requestBody": {"content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/Program"}}}},
                  "responses": {"200": {"description": "ok"}}}}},
              "components": {"schemas": components}})


def test_the_document_matches_validation_on_the_docs_examples():
    # Given the JSON schema, Then the documented rules satisfy it and malformed conditions do not
    jsonschema = pytest.importorskip("jsonschema")
    _, definitions = models_json_schema([(Program, "validation")], ref_template="#/$defs/{model}")
    schema = {"$defs": definitions["$defs"], "$ref": "#/$defs/Program"}
    jsonschema.validate({"name": "P", "earn_rules": list(DOCUMENTED.values())}, schema)
    for wrong in ({"field": "property.a", "equals": 1, "exists": True}, {"all": [COFFEE], "not": TEA}, {},
                  {"field": "property.a"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"name": "P", "earn_rules": [{**RULE, "conditions": wrong}]}, schema)


# --- property: no award ever crosses a cap --------------------------------------------------------

cap_strategy = st.fixed_dictionaries(
    {"period": st.sampled_from(["day", "week", "month", "lifetime"])},
    optional={"max_points": st.integers(1, 300), "max_awards": st.integers(1, 6)},
).filter(lambda cap: "max_points" in cap or "max_awards" in cap)

rule_strategy = st.fixed_dictionaries({
    "id": st.sampled_from(["a", "b"]),
    "event_type": st.just("purchase"),
    "points_per": st.just({"property": "amount", "every": 10, "points": 1}),
    "caps": st.lists(cap_strategy, min_size=1, max_size=4, unique_by=lambda cap: cap["period"]),
}, optional={"multiplier": st.sampled_from([0.5, 1.0, 1.25, 3.0]), "max_points": st.integers(1, 200),
             "timezone": st.sampled_from(["UTC", "Europe/Rome", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]),
             "first_time_only": st.booleans()})

event_strategy = st.tuples(st.integers(0, 90 * 24 * 60), st.integers(0, 2000))  # minutes into the quarter, amount


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rule_strategy, events=st.lists(event_strategy, max_size=60), in_order=st.booleans())
def test_awards_never_exceed_any_cap(rule, events, in_order):
    # Given a valid capped rule and a random sequence of events, in time order or not
    (stored,) = parse_rules([rule])
    start = at("2026-10-01T00:00:00Z")
    if in_order:
        events = sorted(events)
    zone = rules.zone(stored.get("timezone"))
    counted: dict[str, dict] = {cap["period"]: {} for cap in stored["caps"]}
    last_key: dict[str, str] = {}
    counters, awards = {}, 0
    for minutes, amount in events:
        when = start + timedelta(minutes=minutes)
        # When each is scored with the counters the last one returned
        award = rules.evaluate([stored], "purchase", {"amount": amount}, NOBODY, counters, when)
        counters = award.counters
        points = award.points
        assert 0 <= points <= stored.get("max_points", rules.MAX_AWARD)
        if points:
            awards += 1
            local = when.astimezone(zone)
            for cap in stored["caps"]:
                period = cap["period"]
                key = "" if period == "lifetime" else rules.period_key(period, local)
                key = max(key, last_key.get(period, key))  # a late event counts in the later period
                last_key[period] = key
                used = counted[period].setdefault(key, [0, 0])
                used[0] += points
                used[1] += 1
    # Then no period of any cap ever holds more points or awards than the cap allows
    for cap in stored["caps"]:
        for used_points, used_awards in counted[cap["period"]].values():
            assert used_points <= cap.get("max_points", float("inf"))
            assert used_awards <= cap.get("max_awards", float("inf"))
    if stored.get("first_time_only"):
        assert awards <= 1
    # And the counters stay small
    assert len(json.dumps(counters, separators=(",", ":"))) < 120


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rule_strategy, events=st.lists(event_strategy, min_size=1, max_size=40))
def test_in_time_order_every_calendar_period_stays_within_its_cap(rule, events):
    # Given events in time order, Then the true calendar periods (in the rule's zone) stay within the caps
    (stored,) = parse_rules([rule])
    start, zone = at("2026-10-01T00:00:00Z"), rules.zone(rule.get("timezone"))
    counters, per_period = {}, {}
    for minutes, amount in sorted(events):
        when = start + timedelta(minutes=minutes)
        award = rules.evaluate([stored], "purchase", {"amount": amount}, NOBODY, counters, when)
        counters = award.counters
        for cap in stored["caps"]:
            key = (cap["period"], "" if cap["period"] == "lifetime" else rules.period_key(cap["period"], when.astimezone(zone)))
            used = per_period.setdefault(key, [0, 0])
            used[0] += award.points
            used[1] += 1 if award.points else 0
            assert used[0] <= cap.get("max_points", float("inf"))
            assert used[1] <= cap.get("max_awards", float("inf"))


def test_condition_models_are_strict_and_deferred():
    # Given the models, Then they are strict, refuse unknown fields and build on first use, as the wire's Request
    # The models follow the wire's Request: strict, unknown fields refused, built on first use
    assert EarnRule.model_config["strict"] and EarnRule.model_config["extra"] == "forbid"
    assert RuleCondition.model_config["defer_build"]
    with pytest.raises(ValidationError):
        EarnRule.model_validate({"event_type": "x", "points": "1"})



def test_docs_example_goals():
    workouts = [(f"2026-11-{day:02d}T08:00:00Z", {}, "workout") for day in (23, 24, 25, 26, 27, 28)]
    assert doc_run(["workout-point", "five-workouts"], workouts) == [1, 1, 1, 1, 201, 1]
    steps = [(f"2026-12-{day:02d}T20:00:00Z", {"steps": steps}, "steps")
             for day, steps in [(1, 12000), (2, 4000), (2, 6500)] + [(day, 10000) for day in range(3, 9)]]
    assert doc_run(["steps-streak"], steps) == [0, 0, 0, 0, 0, 0, 0, 300, 0]  # the 7th day in a row pays
    modules = [(f"2026-11-{day:02d}T08:00:00Z", {}, "module_completed") for day in (1, 2, 3, 4)]
    assert doc_run(["course-done"], modules) == [0, 0, 500, 0]
