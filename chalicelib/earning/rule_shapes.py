"""The earn rule language, as strict request models: what a program's `earn_rules` may say.

The contract's two forms, `{"event_type", "points"}` and `{"event_type", "points_per"}`, are valid
rules exactly as before; every other field is optional. A rule is stored as
`EarnRule.model_dump(exclude_none=True)`, which is the JSON the client sent (the one difference: an
integer `multiplier` comes back as a float). `chalicelib.earning.rules` evaluates that stored form, and
docs/rules.md is the reference with worked examples.

The new fields are absent or valid, never null: "absent" is the only way to say "not used", so the
document and the validation agree exactly (`points` and `points_per` keep accepting null, as before).
"""
import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, ConfigDict, Field, PlainValidator, WithJsonSchema, field_validator, model_validator

from chalicelib.core.wire import MAX_POINTS, TIMEZONE, Request, drop_null_defaults, time_zone_name

MAX_DEPTH = 5  # a leaf is depth 1, {"all": [leaf]} is depth 2
MAX_NODES = 50  # condition nodes (groups, nots and leaves) in one rule
MAX_CHILDREN = 20  # conditions in one all/any group
MAX_VALUES = 100  # values in one in/not_in list
MAX_STRING = 256  # characters in one compared string

GROUPS = ("all", "any", "not")
OPERATORS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists")
TIER_OPERATORS = ("equals", "not_equals", "in", "not_in", "exists")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIODS = ("day", "week", "month", "lifetime")

RULE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
_SEGMENT = r"[^.\x00-\x1f]{1,64}"
FIELD_PATH = rf"^(property(\.{_SEGMENT}){{1,4}}|member\.attributes(\.{_SEGMENT}){{1,4}}|member\.tier)$"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}")
_TIMESTAMP_HELP = "an ISO-8601 timestamp with a time zone, e.g. 2026-12-01T00:00:00+01:00"


def _number(value: Any) -> Union[int, float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not math.isfinite(value)):  # (math.isfinite overflows on huge ints)
        raise ValueError("must be a number")
    return value


def _scalar(value: Any) -> Union[str, int, float, bool]:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ValueError(f"a string value has at most {MAX_STRING} characters")
        return value
    if isinstance(value, bool):
        return value
    try:
        return _number(value)
    except ValueError:
        raise ValueError("must be a string, a number or a boolean") from None


# Plain validators: one clear message per bad value, instead of one per member of a union.
Number = Annotated[Union[int, float], PlainValidator(_number), WithJsonSchema({"type": "number"})]
Scalar = Annotated[Union[str, int, float, bool], PlainValidator(_scalar),
                   WithJsonSchema({"type": ["string", "number", "boolean"], "maxLength": MAX_STRING})]
Values = Annotated[list[Scalar], Field(min_length=1, max_length=MAX_VALUES)]


# --- conditions ------------------------------------------------------------------------------

def _condition_schema(schema: dict[str, Any], cls: Any) -> None:
    """One object model validates every node; the document says which shapes a node may take."""
    drop_null_defaults(schema)
    groups = [{"required": [name], "maxProperties": 1} for name in GROUPS]
    leaf = {"required": ["field"], "minProperties": 2, "maxProperties": 2,
            "not": {"anyOf": [{"required": [name]} for name in GROUPS]}}
    schema["oneOf"] = groups + [leaf]


class RuleCondition(Request):
    """A condition: a group (`all`, `any` or `not`) or a leaf (`field` and exactly one operator)."""

    model_config = ConfigDict(serialize_by_alias=True, json_schema_extra=_condition_schema, title="RuleCondition")

    all: Annotated[list["RuleCondition"], Field(min_length=1, max_length=MAX_CHILDREN)] = Field(
        None, description="True when every condition in the list is true.")
    any: Annotated[list["RuleCondition"], Field(min_length=1, max_length=MAX_CHILDREN)] = Field(
        None, description="True when at least one condition in the list is true.")
    not_: "RuleCondition" = Field(None, alias="not", description="True when the condition is false.")
    field: Annotated[str, Field(pattern=FIELD_PATH, max_length=300)] = Field(
        None, description="What a leaf tests: `property.<name>` (an event property; more dots reach into nested "
                          "objects), `member.attributes.<name>` (a member attribute) or `member.tier` (the "
                          "member's tier before this event; missing below every tier).",
        examples=["property.category", "member.attributes.department", "member.tier"])
    equals: Scalar = Field(None, description="The value equals this one (numbers by value; a string never "
                                             "equals a number, nor a boolean a number).")
    not_equals: Scalar = Field(None, description="Exactly the negation of `equals`: true when the value is "
                                                 "missing.")
    in_: Values = Field(None, alias="in", description="The value equals one of these.")
    not_in: Values = Field(None, description="Exactly the negation of `in`: true when the value is missing.")
    gt: Number = Field(None, description="The value is a number greater than this.")
    gte: Number = Field(None, description="The value is a number greater than or equal to this.")
    lt: Number = Field(None, description="The value is a number less than this.")
    lte: Number = Field(None, description="The value is a number less than or equal to this.")
    between: Annotated[list[Number], Field(min_length=2, max_length=2)] = Field(
        None, description="`[lo, hi]`: the value is a number with lo ≤ value ≤ hi (both ends included).",
        examples=[[1000, 5000]])
    exists: bool = Field(None, description="true: the value is present and not null; false: it is missing or "
                                           "null.")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in GROUPS and key not in OPERATORS and key != "field":
                    raise ValueError(f"unknown condition key {str(key)[:64]!r}: a condition is one of all, any, "
                                     f"not, or field with one operator of {', '.join(OPERATORS)}")
        return data

    @model_validator(mode="after")
    def _one_shape(self) -> "RuleCondition":
        present = [name for name in (*GROUPS, "field", *OPERATORS) if getattr(self, _attr(name)) is not None]
        if any(name in GROUPS for name in present):
            if len(present) != 1:
                raise ValueError(f"a condition group has exactly one key, not {', '.join(present)}")
            return self
        if self.field is None:
            raise ValueError("a condition is one of all, any, not, or field with one operator")
        operators = [name for name in present if name in OPERATORS]
        if len(operators) != 1:
            raise ValueError(f"a condition on {self.field} has exactly one operator of {', '.join(OPERATORS)}")
        operator = operators[0]
        if self.field == "member.tier":
            if operator not in TIER_OPERATORS:
                raise ValueError(f"member.tier takes {', '.join(TIER_OPERATORS)}, not {operator}")
            value = getattr(self, _attr(operator))
            if operator != "exists" and not all(isinstance(item, str) for item in _as_list(value)):
                raise ValueError("member.tier is compared with tier names (strings)")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between takes [lo, hi] with lo ≤ hi")
        return self


def _attr(name: str) -> str:
    return {"not": "not_", "in": "in_"}.get(name, name)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _children(node: RuleCondition) -> list[RuleCondition]:
    return node.all or node.any or ([node.not_] if node.not_ is not None else [])


def depth(node: RuleCondition) -> int:
    """A leaf is 1; a group is one more than its deepest member."""
    return 1 + max((depth(child) for child in _children(node)), default=0)


def size(node: RuleCondition) -> int:
    """Every node counts: groups, nots and leaves."""
    return 1 + sum(size(child) for child in _children(node))


# --- the parts of a rule -----------------------------------------------------------------------

class PointsPer(Request):
    """Proportional points: floor(properties[property] / every) * points."""

    property: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The event property holding the amount (a number; a missing, negative or non-number "
                    "value awards nothing).", examples=["amount"])
    every: Annotated[int, Field(ge=1, le=MAX_POINTS)] = Field(description="For every this much of the amount…",
                                                              examples=[100])
    points: Annotated[int, Field(ge=1, le=1_000_000)] = Field(description="…award this many points.",
                                                              examples=[1])


class RuleCap(Request):
    """A per-member limit on one rule, per calendar period in the rule's timezone."""

    model_config = ConfigDict(json_schema_extra=lambda schema, cls: drop_null_defaults(schema))

    period: Literal["day", "week", "month", "lifetime"] = Field(
        description="The calendar day, the ISO week (Monday to Sunday), the calendar month, or for ever.")
    max_points: Annotated[int, Field(ge=1, le=MAX_POINTS)] = Field(
        None, description="At most this many points from this rule per member per period. An award that would "
                          "cross it is cut to what is left.")
    max_awards: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        None, description="At most this many awards (events that earned points) from this rule per member per "
                          "period.")

    @model_validator(mode="after")
    def _some_limit(self) -> "RuleCap":
        if self.max_points is None and self.max_awards is None:
            raise ValueError("a cap has max_points, max_awards or both")
        return self


class GoalSum(Request):
    """A threshold on the sum of a numeric event property over the period's matching events."""

    property: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The event property to add up (a missing, negative or non-number value adds nothing).",
        examples=["minutes"])
    at_least: Annotated[Number, Field(json_schema_extra={"exclusiveMinimum": 0})] = Field(
        description="The goal needs the sum to reach this.", examples=[150])

    @field_validator("at_least")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value


class RuleGoal(Request):
    """A goal over the member's matching events in a period; the rule's points are awarded once per period, when
    it is met (wellness and education programs: 5 workouts a week, 150 active minutes, a course completed)."""

    model_config = ConfigDict(json_schema_extra=lambda schema, cls: drop_null_defaults(schema))

    period: Literal["day", "week", "month", "lifetime"] = Field(
        description="The calendar day, ISO week or month (in the rule's timezone) the goal is counted in, or "
                    "`lifetime` for a goal met once ever.")
    count: Annotated[int, Field(ge=1, le=10_000)] = Field(
        None, description="Matching events needed in the period (1 when absent).", examples=[5])
    sum: GoalSum = Field(None, description="A threshold on a property summed over the period's matching events.")
    streak: Annotated[int, Field(ge=2, le=366)] = Field(
        None, description="The goal must be met in this many periods in a row (a streak); the award then starts "
                          "the next streak. Not with `lifetime`.", examples=[4])

    @model_validator(mode="after")
    def _streak_has_periods(self) -> "RuleGoal":
        if self.streak is not None and self.period == "lifetime":
            raise ValueError("a lifetime goal has no streak")
        return self


def _timestamp(value: str) -> str:
    if not _TIMESTAMP.match(value):
        raise ValueError(f"must be {_TIMESTAMP_HELP}")
    try:
        moment = datetime.fromisoformat(value.upper())  # RFC 3339 allows a lowercase t and z
    except ValueError:
        raise ValueError(f"must be {_TIMESTAMP_HELP}") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (Z or an offset such as +01:00)")
    return value


RuleTimestamp = Annotated[str, Field(max_length=40, json_schema_extra={"format": "date-time"}),
                          AfterValidator(_timestamp)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

EXAMPLES = [
    {"event_type": "signup", "points": 100},
    {"event_type": "purchase", "points_per": {"property": "amount", "every": 100, "points": 1}},
    {"id": "weekend-double", "event_type": "purchase",
     "points_per": {"property": "amount", "every": 100, "points": 1},
     "multiplier": 2.0, "days_of_week": ["sat", "sun"], "timezone": "Europe/Rome"},
    {"id": "coffee-bonus", "event_type": "purchase", "points": 50,
     "conditions": {"all": [{"field": "property.category", "in": ["coffee", "tea"]},
                            {"field": "property.amount", "gte": 500}]},
     "caps": [{"period": "month", "max_points": 500}]},
    {"id": "first-purchase", "event_type": "purchase", "points": 500, "first_time_only": True},
    {"id": "five-workouts", "event_type": "workout", "points": 200, "goal": {"period": "week", "count": 5},
     "timezone": "Europe/Rome"},
    {"id": "daily-steps-streak", "event_type": "steps", "points": 300,
     "goal": {"period": "day", "sum": {"property": "steps", "at_least": 10000}, "streak": 7}},
]


def _rule_schema(schema: dict[str, Any], cls: Any) -> None:
    drop_null_defaults(schema)
    schema["examples"] = EXAMPLES


class EarnRule(Request):
    """An earn rule: which events earn points, how many, for whom, when, and how often.

    Exactly one of `points` and `points_per` says how much; every other field is optional. Several
    rules that match one event add up, and the member's tier multiplier applies to the sum (rounded
    down). `multiplier`, `max_points` and `caps` shape one rule's points before the tier multiplier.
    A change to a rule applies to events from then on.
    """

    model_config = ConfigDict(title="EarnRule", json_schema_extra=_rule_schema)

    id: Annotated[str, Field(pattern=RULE_ID)] = Field(
        None, description="A stable id of your choice, unique in the program. A rule's per-member counters (caps, "
                          "first_time_only) belong to its id, so they survive edits of the rule. Without an id, "
                          "the id is a hash of the rule's content, and editing the rule starts its counters afresh.",
        examples=["coffee-bonus"])
    event_type: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The event `type` the rule applies to.", examples=["purchase"])
    points: Optional[Annotated[int, Field(ge=1, le=1_000_000)]] = Field(
        None, description="Fixed points per matching event.", examples=[100])
    points_per: Optional[PointsPer] = Field(None, description="Points in proportion to a numeric event property.")
    conditions: RuleCondition = Field(
        None, description=f"Who and what qualifies: all/any/not groups over tests of the event's properties and "
                          f"the member's attributes and tier; at most {MAX_DEPTH} levels deep and {MAX_NODES} "
                          f"nodes.",
        examples=[{"any": [{"field": "member.tier", "in": ["Gold", "Platinum"]},
                           {"field": "property.amount", "between": [10000, 50000]}]}])
    multiplier: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = Field(
        None, description="Multiplies this rule's points, rounded down: 2.0 is double points.", examples=[2.0])
    max_points: Annotated[int, Field(ge=1, le=MAX_POINTS)] = Field(
        None, description="At most this many points from this rule for one event (after `multiplier`).",
        examples=[500])
    caps: Annotated[list[RuleCap], Field(min_length=1, max_length=len(PERIODS))] = Field(
        None, description="Per-member limits, at most one per period. An award is cut to what every cap still "
                          "allows.", examples=[[{"period": "month", "max_points": 1000}]])
    first_time_only: bool = Field(
        None, description="true: only the member's first event that matches this rule (type, dates, days and "
                          "conditions) earns from it.")
    pending_days: Annotated[int, Field(ge=1, le=365)] = Field(
        None, description="The event's points stay pending for this many days (a return window) and become "
                          "available at the end of that UTC day; a refund or cancel of the event meanwhile removes "
                          "them. When several awarding rules say so, the longest wins.", examples=[30])
    goal: RuleGoal = Field(
        None, description="Award `points` once per period, when the member's matching events meet this goal, "
                          "instead of on every matching event.",
        examples=[{"period": "week", "count": 5}])
    valid_from: RuleTimestamp = Field(
        None, description="The rule applies to events that occurred at or after this instant.",
        examples=["2026-12-01T00:00:00+01:00"])
    valid_until: RuleTimestamp = Field(
        None, description="The rule applies to events that occurred before this instant (not at it).",
        examples=["2027-01-01T00:00:00+01:00"])
    days_of_week: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = Field(
        None, description="The rule applies only on these days of the week, in the rule's timezone.",
        examples=[["sat", "sun"]])
    timezone: Annotated[str, Field(pattern=TIMEZONE, max_length=64), AfterValidator(time_zone_name)] = Field(
        None, description="The IANA time zone of `days_of_week` and of the days, weeks and months of `caps` and "
                          "`goal`; UTC when absent.", examples=["Europe/Rome"])

    @field_validator("conditions")
    @classmethod
    def _bounded(cls, conditions: RuleCondition) -> RuleCondition:
        if depth(conditions) > MAX_DEPTH:
            raise ValueError(f"conditions nest at most {MAX_DEPTH} levels deep")
        if size(conditions) > MAX_NODES:
            raise ValueError(f"conditions have at most {MAX_NODES} nodes")
        return conditions

    @field_validator("caps")
    @classmethod
    def _one_cap_per_period(cls, caps: list[RuleCap]) -> list[RuleCap]:
        if len({cap.period for cap in caps}) != len(caps):
            raise ValueError("at most one cap per period")
        return caps

    @field_validator("days_of_week")
    @classmethod
    def _distinct_days(cls, days: list[str]) -> list[str]:
        if len(set(days)) != len(days):
            raise ValueError("each day at most once")
        return days

    @model_validator(mode="after")
    def _one_award(self) -> "EarnRule":
        if (self.points is None) == (self.points_per is None):
            raise ValueError("a rule has exactly one of points or points_per")
        if self.goal is not None and self.points is None:
            raise ValueError("a goal rule awards fixed points (points, not points_per)")
        if self.valid_from is not None and self.valid_until is not None and \
                datetime.fromisoformat(self.valid_from.upper()) >= datetime.fromisoformat(self.valid_until.upper()):
            raise ValueError("valid_from must be before valid_until")
        return self


def check_rule_ids(rules: Optional[list[EarnRule]]) -> Optional[list[EarnRule]]:
    """A program's explicit rule ids are unique. For `earn_rules` of ProgramCreate and ProgramUpdate."""
    if rules:
        ids = [rule.id for rule in rules if rule.id is not None]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique in a program: {', '.join(duplicates)}")
    return rules


# What ProgramCreate.earn_rules can be: at most 100 rules, explicit ids unique.
EarnRules = Annotated[list[EarnRule], Field(max_length=100), AfterValidator(check_rule_ids)]
