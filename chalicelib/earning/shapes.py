"""The shapes of a program's settings, and of campaigns, referrals and recognition.

A program's settings are mostly what it earns (`earn_rules` in the rule language, clawback, referral,
recognition), so they live here, where they may embed the rule language (`earning.rule_shapes`); the
settings other areas read (tiers, redemption approvals, the budget, messaging) are plain shapes with them.
"""
from typing import Annotated, Any, Literal, Optional

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from chalicelib.core.wire import (
    MAX_POINTS,
    Answer,
    ExternalId,
    Locale,
    Name,
    Request,
    Timestamp,
    TimeZone,
    drop_null_defaults,
)
from chalicelib.earning.rule_shapes import EarnRules

# --- campaigns --------------------------------------------------------------------------------

class CampaignCreate(Request):
    """A promotion layered on the program's rules for a while, with an optional points budget."""

    name: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    budget_points: Optional[Annotated[int, Field(ge=1, le=MAX_POINTS)]] = Field(
        None, description="The campaign stops awarding once it has given this many points (no budget: unlimited)")
    earn_rules: Annotated[EarnRules, Field(min_length=1)]

    @model_validator(mode="after")
    def _window(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CampaignUpdate(Request):
    active: Literal[False] = Field(description="false stops the campaign now")


class Campaign(Answer):
    id: str
    name: str
    starts_at: Timestamp
    ends_at: Timestamp
    budget_points: Optional[int]
    spent_points: int
    active: bool
    earn_rules: list[dict[str, Any]]


class CampaignList(Answer):
    items: list[Campaign]
    next_cursor: Optional[str]


# --- programs --------------------------------------------------------------------------------

class Tier(Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    min_points: Annotated[int, Field(ge=0, le=MAX_POINTS)] = Field(
        description="The qualifying measure (points earned in the window, unless `tier_policy` says otherwise) "
                    "that reaches this tier")
    multiplier: Annotated[float, Field(ge=1, le=10)] = 1.0
    bonus_points: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        0, description="Points given once, the first time a member reaches this tier")


class TierPolicy(Request):
    """How members qualify for tiers and how they leave them (see docs/programs.md#tiers)."""

    measure: Literal["points", "spend", "events"] = Field(
        "points", description="What counts toward `min_points` in the window: points earned (the default), the sum "
                              "of an event property (`spend_property`), or the number of events")
    window_days: Annotated[int, Field(ge=1, le=1095)] = Field(365, description="The rolling window, in days")
    spend_property: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        "amount", description="For `spend`: the event property summed")
    event_types: Optional[Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                                    Field(min_length=1, max_length=20)]] = Field(
        None, description="For `spend` and `events`: only these event types count (all when absent)")
    grace_days: Annotated[int, Field(ge=0, le=730)] = Field(
        0, description="A member below its tier keeps it this many days before the scheduled recalculation "
                       "moves it down")
    downgrade: Literal["to_earned", "one_step"] = Field(
        "to_earned", description="Down to the tier the measure reaches, or one tier at a time (each step after "
                                 "another grace period)")


def _check_tiers(tiers: Optional[list[Tier]]) -> Optional[list[Tier]]:
    if tiers:
        if len({tier.name for tier in tiers}) != len(tiers):
            raise ValueError("tier names must be unique")
        if len({tier.min_points for tier in tiers}) != len(tiers):
            raise ValueError("tier min_points must be unique")
    return tiers


class Clawback(Request):
    """Refund and cancel events take back what their purchase earned (see docs/rules.md)."""

    event_types: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                           Field(min_length=1, max_length=10, examples=[["refund", "cancel"]])]
    amount_property: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        "amount", description="The property whose refunded share sets how many points go back")
    allow_debt: bool = Field(False, description="Keep what the balance cannot cover as debt (else it is forgiven)")


class ReferralScheme(Request):
    """Referrer and referee are both rewarded when the referee's first qualifying event happens."""

    qualifying_event: Annotated[str, Field(min_length=1, max_length=64, examples=["purchase"])]
    referrer_points: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    referee_points: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class RecognitionScheme(Request):
    """Members give each other points from an allowance that resets every calendar month (UTC)."""

    monthly_allowance: Annotated[int, Field(ge=1, le=1_000_000)]
    max_per_gift: Optional[Annotated[int, Field(ge=1, le=1_000_000)]] = None


class RedemptionPolicy(Request):
    """Which redemptions wait for an admin (docs/programs.md, "Approvals, cancellation and budgets")."""

    approval_above_points: Annotated[int, Field(ge=0, le=MAX_POINTS)] = Field(
        description="A redemption of more points than this waits for an admin's approval: its points and stock "
                    "are taken at once, its fulfilment starts only once approved")


def _levels(levels: list[int]) -> list[int]:
    return sorted(set(levels))


class Budget(Request):
    """What the program's rewards may cost in money, in all: each redemption of a reward with a `value`
    takes value × quantity from it, and none may take it past `amount`."""

    amount: Annotated[int, Field(ge=1, le=MAX_POINTS * 100, description="In minor units (cents)")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
    alert_at_percent: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)] = Field(
        [50, 80, 100], description="Used shares of the amount announced once each (webhook `budget.threshold`)")

    _alert_levels = field_validator("alert_at_percent")(_levels)


class QuietHours(Request):
    """A window of the member's local day in which non-urgent messages wait (it may span midnight)."""

    start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["21:00"])]
    end: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["08:00"])]

    @model_validator(mode="after")
    def _not_empty(self):
        if self.start == self.end:
            raise ValueError("start and end must differ (null turns quiet hours off)")
        return self


class Messaging(Request):
    """When and how the program's messages go out (docs/notifications.md)."""

    quiet_hours: Optional[QuietHours] = Field(
        {"start": "21:00", "end": "08:00"}, validate_default=True,  # plain, so import builds no model; validated
        # into QuietHours when used, so a default program answers (and serialises) the same shape as one set
        description="Points, tier, expiry and marketing messages wait for its end in the member's time zone; "
                    "null: none")
    time_zone: Optional[TimeZone] = Field(
        None, description="For members without a `time_zone` attribute (none: such members are never held)")
    sms_max_segments: Annotated[int, Field(ge=1, le=10)] = Field(
        3, description="An SMS longer than this many segments is cut, with an ellipsis")
    announce: Annotated[list[Literal["welcome", "points_earned"]], Field(max_length=2)] = Field(
        [], description="Messages the program opts into: `welcome` when a member is created (by PUT or its first "
                        "event), `points_earned` for every event that earns points. Tier, reward, redemption and "
                        "expiry messages always go out; these two are off unless listed.")


class Offboarding(Request):
    """What closing a member does to its balance (docs/privacy.md, "Offboarding")."""

    forfeit_on_close: bool = Field(False, description="true: a close forfeits the available points (a `forfeit` "
                                                      "entry); false: they stay, expiring as they would")


class ProgramCreate(Request):
    name: Name
    currency_name: Annotated[str, Field(min_length=1, max_length=64)] = "points"
    locale: Locale = "en"
    points_expiry_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = None
    clawback: Optional[Clawback] = None
    referral: Optional[ReferralScheme] = None
    recognition: Optional[RecognitionScheme] = None
    messaging: Optional[Messaging] = None
    earn_rules: EarnRules = []
    tiers: Annotated[list[Tier], Field(max_length=20)] = []
    tier_policy: Optional[TierPolicy] = None
    redemption_policy: Optional[RedemptionPolicy] = None
    budget: Optional[Budget] = None
    offboarding: Optional[Offboarding] = None

    _tiers = field_validator("tiers")(_check_tiers)


class ProgramUpdate(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=drop_null_defaults)

    name: Name = None  # absent: unchanged; null is refused (a program always has one)
    currency_name: Annotated[str, Field(min_length=1, max_length=64)] = None
    locale: Locale = None
    points_expiry_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = None
    clawback: Optional[Clawback] = None
    referral: Optional[ReferralScheme] = None
    recognition: Optional[RecognitionScheme] = None
    messaging: Optional[Messaging] = None
    earn_rules: EarnRules = None
    tiers: Annotated[list[Tier], Field(max_length=20)] = None
    tier_policy: Optional[TierPolicy] = None
    redemption_policy: Optional[RedemptionPolicy] = None
    budget: Optional[Budget] = None
    offboarding: Optional[Offboarding] = None

    _tiers = field_validator("tiers")(_check_tiers)


class Program(Answer):
    id: str
    name: str
    currency_name: str
    locale: str
    points_expiry_days: Optional[int]
    clawback: Optional[dict[str, Any]] = None
    referral: Optional[dict[str, Any]] = None
    recognition: Optional[dict[str, Any]] = None
    messaging: dict[str, Any] = Field(description="Quiet hours, default time zone and SMS length, defaults filled in")
    earn_rules: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    tier_policy: Optional[dict[str, Any]] = None
    redemption_policy: Optional[dict[str, Any]] = None
    budget: Optional[dict[str, Any]] = Field(None, description="The setting; what is used: GET .../budget")
    offboarding: Optional[dict[str, Any]] = Field(None, description="Present once set: what closing a member does")
    created_at: Timestamp
    updated_at: Timestamp


class ProgramList(Answer):
    items: list[Program]
    next_cursor: Optional[str]


# --- referrals and recognition ---------------------------------------------------------------

class ReferralCode(Answer):
    code: Annotated[str, Field(examples=["K7QH2MZA"])]


class ReferralAttach(Request):
    code: Annotated[str, Field(pattern=r"^[A-Za-z2-7]{8}$", examples=["K7QH2MZA"])]


class Referral(Answer):
    referred_by: Optional[str]
    status: Optional[Literal["pending", "rewarded"]]


class RecognitionCreate(Request):
    to: ExternalId
    points: Annotated[int, Field(ge=1, le=1_000_000)]
    message: Annotated[str, Field(min_length=1, max_length=280)]


class Recognition(Answer):
    id: str
    from_: str = Field(alias="from")
    to: str
    points: int
    message: str
    allowance_left: int
    created_at: Timestamp
