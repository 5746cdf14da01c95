"""Goal rules (wellness and education incentives): thresholds and streaks over a member's events, awarded once
per period. Pure: chalicelib.earning.rules and chalicelib.earning.rule_shapes only."""
import json

import pytest
from pydantic import ValidationError
from test_rules_language import at, run

from chalicelib.earning import rules
from chalicelib.earning.rule_shapes import EarnRule
from chalicelib.earning.rules import MemberFacts

FIVE_WORKOUTS = {"id": "five", "event_type": "workout", "points": 200, "goal": {"period": "week", "count": 5}}


def workouts(*days, minutes=30):
    return [(f"2026-11-{day:02d}T08:00:00Z", {"minutes": minutes}, "workout") for day in days]


def test_a_weekly_count_goal_awards_once_on_the_event_that_meets_it():
    # Given a rule: 5 workouts in an ISO week earn 200 points
    # When a member works out 7 times in the week of Mon 23 Nov 2026, then once the next week
    points, counters = run([FIVE_WORKOUTS], workouts(23, 24, 24, 25, 26, 27, 28, 30))
    # Then the fifth workout earns 200, the sixth and seventh nothing, and the next week starts afresh
    assert points == [0, 0, 0, 0, 200, 0, 0, 0]
    assert counters["five"]["g"] == ["2026-W49", 1, 0, 0]


def test_a_sum_goal_needs_both_the_count_and_the_total():
    # Given a daily goal: 2 sessions adding up to at least 60 minutes
    rule = {"id": "active", "event_type": "workout", "points": 50,
            "goal": {"period": "day", "count": 2, "sum": {"property": "minutes", "at_least": 60}}}
    events = [("2026-11-23T08:00:00Z", {"minutes": 20}, "workout"),
              ("2026-11-23T12:00:00Z", {"minutes": 25}, "workout"),   # 2 sessions, 45 minutes
              ("2026-11-23T18:00:00Z", {"minutes": "lots"}, "workout"),  # not a number: counts, adds nothing
              ("2026-11-23T19:00:00Z", {"minutes": 15.5}, "workout"),  # 60.5 minutes: met
              ("2026-11-23T20:00:00Z", {"minutes": 90}, "workout")]  # already met today
    # When the member's day goes so
    points, counters = run([rule], events)
    # Then it pays once, when both are reached
    assert points == [0, 0, 0, 50, 0]
    assert counters["active"]["g"] == ["2026-11-23", 5, 150.5, 1]


def test_a_streak_pays_after_n_periods_in_a_row_and_a_gap_starts_over():
    # Given a 3-day streak of at least one lesson a day
    rule = {"id": "streak", "event_type": "lesson", "points": 100, "goal": {"period": "day", "streak": 3}}
    days = [1, 2, 4, 5, 6, 6, 7, 8, 9]  # a gap on the 3rd; two lessons on the 6th
    events = [(f"2026-12-{day:02d}T10:00:00Z", {}, "lesson") for day in days]
    # When the lessons are taken
    points, _ = run([rule], events)
    # Then the 4th-5th-6th streak pays, the second lesson of the 6th does not count twice, 7-8-9 pays again
    assert points == [0, 0, 0, 0, 100, 0, 0, 0, 100]


def test_a_weekly_streak_crosses_the_year_and_months_follow_the_calendar():
    # Given weekly and monthly streaks of 2
    weekly = {"id": "w", "event_type": "x", "points": 1, "goal": {"period": "week", "streak": 2}}
    monthly = {"id": "m", "event_type": "x", "points": 10, "goal": {"period": "month", "streak": 2}}
    # When events happen in ISO week 2026-W53 and 2027-W01, and in January and February
    events = [("2026-12-31T10:00:00Z", {}, "x"), ("2027-01-05T10:00:00Z", {}, "x"),
              ("2027-02-28T10:00:00Z", {}, "x")]
    points, _ = run([weekly, monthly], events)
    # Then both weeks in a row pay the weekly streak; December then January, the monthly one
    assert points == [0, 1 + 10, 0]


def test_a_lifetime_goal_is_a_one_off_and_a_late_event_counts_for_nothing():
    # Given "complete 3 course modules" once ever, and a weekly goal
    course = {"id": "course", "event_type": "module_done", "points": 500, "goal": {"period": "lifetime", "count": 3}}
    events = [(f"2026-11-{day:02d}T10:00:00Z", {}, "module_done") for day in (2, 9, 16, 23)]
    # When four modules are done
    assert run([course], events)[0] == [0, 0, 500, 0]
    # And when a workout of last week arrives after this week's have been counted
    points, counters = run([FIVE_WORKOUTS], workouts(30, 30) + workouts(24))
    # Then it neither counts for this week nor reopens the last one
    assert points == [0, 0, 0]
    assert counters["five"]["g"][:2] == ["2026-W49", 2]


def test_goals_follow_the_rule_timezone_and_combine_with_caps_and_first_time_only():
    # Given a daily goal in Rome time, paid at most twice a week, and a first-time-only goal
    rule = {"id": "rome", "event_type": "walk", "points": 10, "timezone": "Europe/Rome",
            "goal": {"period": "day", "count": 1}, "caps": [{"period": "week", "max_awards": 2}]}
    first = {"id": "first", "event_type": "walk", "points": 7, "first_time_only": True,
             "goal": {"period": "day", "count": 2}}
    # When walks happen at 23:30 UTC (00:30 the next day in Rome) on consecutive days
    events = [(f"2026-11-{day}T23:30:00Z", {}, "walk") for day in (22, 23, 24, 25)]
    points, counters = run([rule, first], events)
    # Then each is its own Rome day, the cap stops the third, and the two-a-day goal is never met
    assert points == [10, 10, 0, 0]
    assert counters["rome"]["g"][0] == "2026-11-26" and "first" in counters


def test_goal_progress_survives_malformed_counters_and_leaves_other_rules_alone():
    # Given stored counters that are damaged
    bad = {"five": {"g": ["2026-W48", "x", 0, 0], "s": [1, 2]}}
    # When a workout is scored
    award = rules.evaluate([FIVE_WORKOUTS], "workout", {}, MemberFacts(), bad, at("2026-11-23T08:00:00Z"))
    # Then the damaged progress is dropped and counting starts again
    assert award.counters == {"five": {"g": ["2026-W48", 1, 0, 0]}}
    # And a stateless legacy evaluation never pays a goal
    assert rules.base_points([FIVE_WORKOUTS], "workout", {}) == 0


@pytest.mark.parametrize("goal, message", [
    ({"period": "lifetime", "streak": 2}, "a lifetime goal has no streak"),
    ({"period": "week", "count": 0}, "greater than or equal to 1"),
    ({"period": "fortnight"}, "'day', 'week', 'month' or 'lifetime'"),
    ({"period": "day", "sum": {"property": "minutes", "at_least": 0}}, "greater than 0"),
    ({"period": "day", "streak": 1}, "greater than or equal to 2"),
    ({"period": "day", "every": 2}, "Extra inputs are not permitted"),
])
def test_invalid_goals_are_refused_with_a_reason(goal, message):
    # Given a rule with a malformed goal
    rule = {"event_type": "workout", "points": 1, "goal": goal}
    # When it is validated / Then the reason names the problem
    with pytest.raises(ValidationError, match=message):
        EarnRule.model_validate_json(json.dumps(rule))


def test_a_goal_awards_fixed_points_and_pending_days_is_bounded():
    # Given a goal with proportional points, and pending days out of range
    with pytest.raises(ValidationError, match="a goal rule awards fixed points"):
        EarnRule.model_validate_json(json.dumps({"event_type": "w", "goal": {"period": "day"},
                                                 "points_per": {"property": "a", "every": 1, "points": 1}}))
    with pytest.raises(ValidationError, match="less than or equal to 365"):
        EarnRule.model_validate_json(json.dumps({"event_type": "w", "points": 1, "pending_days": 366}))
    # Then a valid one round-trips to the stored form unchanged
    rule = {"id": "g", "event_type": "w", "points": 5, "pending_days": 14,
            "goal": {"period": "week", "count": 3, "sum": {"property": "km", "at_least": 21.1}, "streak": 4}}
    assert EarnRule.model_validate_json(json.dumps(rule)).model_dump(exclude_none=True) == rule
