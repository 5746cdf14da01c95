"""Earn rules: what an event is worth to a member, before the tier multiplier. Pure: no I/O, no clock.

`evaluate` takes the program's rules (as stored: `rule_shapes.EarnRule` dumped without nulls), the
event, what is known about the member, the member's rule counters and the moment the event occurred,
and answers the points, the points per rule and the counters to store. Nothing here reads the time;
the caller passes it.

Counters are a small JSON object kept on the member, one entry per rule that needs one (a rule with
`caps`, `first_time_only` or a `goal`), keyed by the rule's id:

    {"coffee-bonus": {"d": ["2026-11-22", 120, 3],   # this day:   [day, points, awards]
                      "w": ["2026-W47", 300, 7],     # this week:  [ISO week, points, awards]
                      "m": ["2026-11", 500, 12],     # this month: [month, points, awards]
                      "l": [900, 30],                # lifetime:   [points, awards]
                      "f": 1},                       # first_time_only: used up
     "five-workouts": {"g": ["2026-W47", 4, 180, 0],  # goal progress: [period, events, sum, met]
                       "s": ["2026-W46", 2]}}         # streak: [last period met, periods in a row]

An entry holds only the periods the rule caps, and one period of each: the one it last counted,
replaced when the rule next awards in a later period. Entries of rules that are gone, and parts
that the rule no longer needs, are dropped. So the object stays a few dozen bytes per capped rule.
"""
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Optional
from zoneinfo import ZoneInfo

MAX_AWARD = 1_000_000_000  # one rule never awards more than this for one event
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPERATORS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists")
PERIOD_CODES = {"day": "d", "week": "w", "month": "m", "lifetime": "l"}
_MISSING = object()


@dataclass(frozen=True)
class MemberFacts:
    """What conditions may test about a member: its attributes, and its tier's name before this event."""

    attributes: dict = field(default_factory=dict)
    tier: Optional[str] = None


@dataclass(frozen=True)
class Award:
    """What an event earns: `points` (before the tier multiplier), per rule id, and the counters to store."""

    points: int
    per_rule: dict[str, int]
    counters: dict[str, dict]


# --- rule ids ----------------------------------------------------------------------------------

def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def derived_id(rule: dict) -> str:
    """A hash of the rule's content, blind to what does not change its meaning (key order, 2 vs 2.0,
    nulls, `first_time_only: false`, the order of `days_of_week`)."""
    content = _canonical({key: value for key, value in rule.items() if key != "id"})
    if content.get("first_time_only") is False:
        del content["first_time_only"]
    if isinstance(content.get("days_of_week"), list):
        content["days_of_week"] = sorted(content["days_of_week"], key=lambda day: DAYS.index(day) if day in DAYS else 7)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "_" + hashlib.sha256(text.encode()).hexdigest()[:10]


def rule_id(rule: dict) -> str:
    """The rule's own `id`, else `_` and ten hex digits of its content's hash."""
    return rule.get("id") or derived_id(rule)


def rule_ids(rules: list[dict]) -> list[str]:
    """Every rule's id, in order. Identical rules without ids get `~2`, `~3`... so each counts alone."""
    seen: dict[str, int] = {}
    ids = []
    for rule in rules:
        base = rule_id(rule)
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}~{seen[base]}")
    return ids


class _Ids:
    """Rule ids as `rule_ids` gives them, hashed only for the rules that need one (stateful or awarding).

    Identical rules are stateful alike and award alike, so counting duplicates among these alone
    numbers them as counting among all rules would.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.given: dict[int, str] = {}

    def of(self, position: int, rule: dict) -> str:
        if position not in self.given:
            base = rule_id(rule)
            self.seen[base] = self.seen.get(base, 0) + 1
            self.given[position] = base if self.seen[base] == 1 else f"{base}~{self.seen[base]}"
        return self.given[position]


# --- conditions --------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    """A finite int, float or Decimal, never a bool (math.isfinite would overflow on a huge int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    if isinstance(value, int):
        return True
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _same(value: Any, target: Any) -> bool:
    """Equality without Python's coercions: True is not 1, and "1" is not 1."""
    if isinstance(value, bool) or isinstance(target, bool):
        return isinstance(value, bool) and isinstance(target, bool) and value == target
    if _is_number(value) and _is_number(target):
        return value == target
    return isinstance(value, str) and isinstance(target, str) and value == target


def _lookup(path: str, properties: dict, member: MemberFacts) -> Any:
    """The value a leaf tests, or _MISSING (absent, null, or the path runs through a non-object)."""
    if path == "member.tier":
        return _MISSING if member.tier is None else member.tier
    if path.startswith("property."):
        value, parts = properties, path[len("property."):].split(".")
    elif path.startswith("member.attributes."):
        value, parts = member.attributes or {}, path[len("member.attributes."):].split(".")
    else:
        return _MISSING
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return _MISSING if value is None else value


def _leaf(node: dict, properties: dict, member: MemberFacts) -> bool:
    value = _lookup(node.get("field", ""), properties, member)
    present = value is not _MISSING
    operator = next((name for name in OPERATORS if name in node), None)
    operand = node.get(operator)
    if operator == "exists":
        return present == bool(operand)
    if operator in ("equals", "not_equals"):
        return (present and _same(value, operand)) == (operator == "equals")
    if operator in ("in", "not_in"):
        return (present and any(_same(value, item) for item in operand)) == (operator == "in")
    if not present or not _is_number(value):
        return False
    if operator == "gt":
        return value > operand
    if operator == "gte":
        return value >= operand
    if operator == "lt":
        return value < operand
    if operator == "lte":
        return value <= operand
    if operator == "between":
        return operand[0] <= value <= operand[1]
    return False


def holds(node: dict, properties: dict, member: MemberFacts) -> bool:
    """Whether a condition tree holds for this event and member."""
    if not isinstance(node, dict):
        return False
    if "all" in node:
        return all(holds(child, properties, member) for child in node["all"])
    if "any" in node:
        return any(holds(child, properties, member) for child in node["any"])
    if "not" in node:
        return not holds(node["not"], properties, member)
    return _leaf(node, properties, member)


# --- time --------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def zone(name: Optional[str]) -> ZoneInfo:
    """A rule's time zone (UTC when it names none)."""
    return ZoneInfo(name or "UTC")


@lru_cache(maxsize=1024)
def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.upper())
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def period_key(period: str, local: datetime) -> str:
    """The day ("2026-11-22"), ISO week ("2026-W47") or month ("2026-11") of a local time; keys sort in time order."""
    if period == "day":
        return local.date().isoformat()
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{local.year:04d}-{local.month:02d}"


def previous_period_key(period: str, local: datetime) -> str:
    """The key of the period just before the one `local` is in (for streaks)."""
    if period == "day":
        return period_key(period, local - timedelta(days=1))
    if period == "week":
        return period_key(period, local - timedelta(days=7))
    return period_key(period, local.replace(day=1) - timedelta(days=1))


def _timed(rule: dict) -> bool:
    return any(rule.get(name) for name in ("valid_from", "valid_until", "days_of_week"))


def _when(rule: dict, at: datetime, local: datetime) -> bool:
    if rule.get("valid_from") and at < _instant(rule["valid_from"]):
        return False
    if rule.get("valid_until") and at >= _instant(rule["valid_until"]):
        return False
    days = rule.get("days_of_week")
    return not days or DAYS[local.weekday()] in days


# --- points ------------------------------------------------------------------------------------

def _base(rule: dict, properties: dict) -> int:
    """A fixed rule awards `points`; a `points_per` rule floor(property / every) * points."""
    per = rule.get("points_per")
    if per:
        amount = properties.get(per["property"])
        if not _is_number(amount) or amount <= 0:
            return 0
        return int(amount // per["every"]) * int(per["points"])
    return int(rule.get("points") or 0)


def _shaped(rule: dict, points: int) -> int:
    """The rule's `multiplier` (rounded down, in exact decimal arithmetic), then its `max_points`."""
    multiplier = rule.get("multiplier")
    if multiplier is not None and points:
        points = math.floor(Decimal(str(multiplier)) * points)
    if rule.get("max_points") is not None:
        points = min(points, int(rule["max_points"]))
    return max(0, min(points, MAX_AWARD))


# --- counters ----------------------------------------------------------------------------------

def _int(value: Any) -> Optional[int]:
    return int(value) if _is_number(value) else None


def _carried(entry: Any, caps: dict[str, dict], first_time: bool, goal: Optional[dict]) -> dict:
    """The parts of a stored entry that the rule still needs, checked (anything malformed is dropped)."""
    kept: dict = {}
    if not isinstance(entry, dict):
        return kept
    if goal:
        progress, streak = entry.get("g"), entry.get("s")
        if isinstance(progress, (list, tuple)) and len(progress) == 4 and isinstance(progress[0], str) \
                and all(_is_number(value) for value in progress[1:]):
            kept["g"] = list(progress)
        if goal.get("streak") and isinstance(streak, (list, tuple)) and len(streak) == 2 \
                and isinstance(streak[0], str) and _int(streak[1]) is not None:
            kept["s"] = [streak[0], _int(streak[1])]
    for code in caps:
        value = entry.get(code)
        if code == "l":
            if isinstance(value, (list, tuple)) and len(value) == 2:
                points, awards = _int(value[0]), _int(value[1])
                if points is not None and awards is not None:
                    kept["l"] = [points, awards]
        elif isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str):
            points, awards = _int(value[1]), _int(value[2])
            if points is not None and awards is not None:
                kept[code] = [value[0], points, awards]
    if first_time and entry.get("f"):
        kept["f"] = 1
    return kept


def _capped(points: int, caps: dict[str, dict], entry: dict, local: datetime) -> tuple[int, dict]:
    """Cut `points` to what every cap allows; count the award in each cap's period."""
    usage = {}
    for code, cap in caps.items():
        stored = entry.get(code)
        if code == "l":
            key, used = None, stored[0:2] if stored else [0, 0]
        else:
            key = period_key(cap["period"], local)
            if stored and stored[0] >= key:  # the rule last counted in this period, or a later one
                key, used = stored[0], stored[1:3]  # (an event late for its period counts in the later one)
            else:
                used = [0, 0]
        usage[code] = (key, used)
        if cap.get("max_points") is not None:
            points = min(points, int(cap["max_points"]) - used[0])
        if cap.get("max_awards") is not None and used[1] >= int(cap["max_awards"]):
            points = 0
    points = max(0, points)
    if points:
        entry = dict(entry)
        for code, (key, (used_points, used_awards)) in usage.items():
            counted = [used_points + points, used_awards + 1]
            entry[code] = counted if key is None else [key, *counted]
    return points, entry


def _goal_met(goal: dict, entry: dict, properties: dict, local: datetime) -> tuple[bool, dict]:
    """Count one matching event toward the rule's goal; True when it completes the goal (once per period).

    A goal is met in a period when the period holds `count` matching events and, with `sum`, their
    property adds up to `at_least`. With `streak`, it must be met in that many periods in a row; the
    award then starts the streak afresh. An event late for a period already left counts for nothing.
    """
    period = goal["period"]
    key = "lifetime" if period == "lifetime" else period_key(period, local)
    stored = entry.get("g")
    if stored and stored[0] > key:
        return False, entry
    count, total, done = stored[1:4] if stored and stored[0] == key else (0, 0, 0)
    count += 1
    summed = goal.get("sum")
    if summed:
        amount = properties.get(summed["property"])
        if _is_number(amount) and amount > 0:
            total += float(amount) if isinstance(amount, Decimal) else amount
    met = not done and count >= goal.get("count", 1) and (not summed or total >= summed["at_least"])
    entry = dict(entry)
    entry["g"] = [key, count, total, 1 if done or met else 0]
    if met and goal.get("streak"):
        last, length = entry.get("s") or (None, 0)
        length = length + 1 if last == previous_period_key(period, local) else 1
        met = length >= goal["streak"]
        entry["s"] = [key, 0 if met else length]
    return met, entry


# --- evaluation --------------------------------------------------------------------------------

def evaluate(rules: list[dict], event_type: str, properties: dict, member: MemberFacts, counters: dict,
             at: datetime) -> Award:
    """What an event is worth to a member under the program's rules, and the member's new counters.

    `rules` is every rule of the program (counters of rules not in it are dropped); `counters` is what
    the last award returned (or {}); `at` is when the event occurred (timezone-aware). Each matching
    rule awards its points, times its multiplier, at most its max_points, cut to what its caps allow;
    the rules' awards add up. The caller applies the tier multiplier to `points`.
    """
    if at.tzinfo is None:
        raise ValueError("evaluate needs a timezone-aware `at`")
    return _evaluate(rules, event_type, properties, member, counters, at)


def _evaluate(rules: list[dict], event_type: str, properties: dict, member: MemberFacts, counters: dict,
              at: Optional[datetime]) -> Award:
    properties = properties if isinstance(properties, dict) else {}
    counters = counters if isinstance(counters, dict) else {}
    total, per_rule, new_counters = 0, {}, {}
    ids = _Ids()
    for position, rule in enumerate(rules):
        caps = {PERIOD_CODES[cap["period"]]: cap for cap in rule.get("caps") or [] if cap.get("period") in PERIOD_CODES}
        first_time, goal = bool(rule.get("first_time_only")), rule.get("goal")
        stateful = bool(caps) or first_time or bool(goal)
        entry = _carried(counters.get(ids.of(position, rule)), caps, first_time, goal) if stateful else {}
        points = 0
        if rule.get("event_type") == event_type and _matches(rule, properties, member, at):
            if not (first_time and entry.get("f")):
                met = True
                if goal:
                    met, entry = _goal_met(goal, entry, properties, at.astimezone(zone(rule.get("timezone"))))
                if first_time and met:
                    entry["f"] = 1
                points = _shaped(rule, _base(rule, properties)) if met else 0
                if points and caps:
                    points, entry = _capped(points, caps, entry, at.astimezone(zone(rule.get("timezone"))))
        if points:
            per_rule[ids.of(position, rule)] = points
            total += points
        if entry:
            new_counters[ids.of(position, rule)] = entry
    return Award(points=total, per_rule=per_rule, counters=new_counters)


def pending_days(rules: list[dict], award: Award) -> int:
    """The longest return window (`pending_days`) among the rules that awarded; 0: available at once."""
    if not any(rule.get("pending_days") for rule in rules):
        return 0
    return max((int(rule["pending_days"]) for rule, rid in zip(rules, rule_ids(rules))
                if rule.get("pending_days") and rid in award.per_rule), default=0)


def _matches(rule: dict, properties: dict, member: MemberFacts, at: Optional[datetime]) -> bool:
    if at is None:
        if _timed(rule):
            return False
    elif not _when(rule, at, at.astimezone(zone(rule.get("timezone")))):
        return False
    return "conditions" not in rule or holds(rule["conditions"], properties, member)


def base_points(rules: list[dict], event_type: str, properties: dict, *, at: Optional[datetime] = None) -> int:
    """Legacy and stateless: the points of the rules that need no member state, before the tier multiplier.

    For the contract's two forms this is exactly the old answer. It knows no member and no counters, so
    a rule with caps, first_time_only or a goal awards nothing here (never more than `evaluate` would), member
    conditions see no attributes and no tier, and a rule with dates or days matches only given `at`.
    Use `evaluate`.
    """
    stateless = [rule for rule in rules if not any(rule.get(name) for name in ("caps", "first_time_only", "goal"))]
    return _evaluate(stateless, event_type, properties, MemberFacts(), {}, at).points
