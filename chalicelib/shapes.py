"""The wire shapes of the public contract: they validate requests, shape answers and make the OpenAPI.

Requests are strict (no type coercion, unknown fields refused) so a client's mistake is a 400
that names the field, never a silent guess.
"""
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from chalicelib.core.wire import (  # noqa: F401
    MAX_POINTS,
    Answer,
    Email,
    EventIn,
    ExternalId,
    Locale,
    Name,
    Phone,
    Points,
    Request,
    RewardType,
    Role,
    Timestamp,
    small_object,
)
from chalicelib.earning.rule_shapes import EarnRule, EarnRules, PointsPer, TimeZone, _timezone  # noqa: F401 (part of the contract's shapes)
from chalicelib.rewards.statuses import STATUSES
from chalicelib.webhooks import KINDS

# --- service -----------------------------------------------------------------------------

class Health(Answer):
    status: Literal["ok"]


class ErrorBody(Answer):
    code: str
    message: str
    details: dict[str, Any]


class Error(Answer):
    error: ErrorBody


# --- organisations and keys ----------------------------------------------------------------

class OrgCreate(Request):
    name: Name


class SecretKey(Answer):
    id: str
    secret: str


class OrgCreated(Answer):
    id: str
    name: str
    admin_key: SecretKey


class Org(Answer):
    id: str
    name: str
    partner_events_queue_url: str
    partner_events_dlq_url: str


class ApiKeyCreate(Request):
    name: Name
    role: Role


class ApiKey(Answer):
    id: str
    name: str
    role: Role
    created_at: Timestamp
    revoked_at: Optional[Timestamp] = None


class ApiKeyCreated(ApiKey):
    secret: str


class ApiKeyList(Answer):
    items: list[ApiKey]
    next_cursor: Optional[str]


# --- programs ------------------------------------------------------------------------------

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

    _tiers = field_validator("tiers")(_check_tiers)


def _absent_means_unchanged(schema: dict) -> None:
    """A PATCH field left out keeps its value: say so in the document, rather than a null default."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]


class ProgramUpdate(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=_absent_means_unchanged)

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
    created_at: Timestamp
    updated_at: Timestamp


class ProgramList(Answer):
    items: list[Program]
    next_cursor: Optional[str]


# --- members -------------------------------------------------------------------------------

class MemberUpsert(Request):
    email: Optional[Email] = None
    phone: Optional[Phone] = None
    name: Optional[Name] = None
    locale: Optional[Locale] = None
    attributes: Optional[dict[str, Any]] = Field(
        None, description="Free-form; `time_zone`, if given, must be an IANA name (quiet hours use it)")

    _attributes = field_validator("attributes")(small_object)

    @field_validator("attributes")
    @classmethod
    def _time_zone(cls, attributes: Optional[dict]) -> Optional[dict]:
        zone = (attributes or {}).get("time_zone")
        if zone is not None and not isinstance(zone, str):
            raise ValueError("time_zone must be an IANA time zone name such as Europe/Rome")
        if zone is not None:
            _timezone(zone)
        return attributes


class Expiring(Answer):
    points: int
    expires_at: Timestamp


class TierProgress(Answer):
    measure: Literal["points", "spend", "events"]
    window_days: int
    qualifying: float = Field(description="The measure in the window, today included")
    next_tier: Optional[str]
    needed: int = Field(description="What the measure still needs for `next_tier` (0 at the top)")
    downgrade_from: Optional[str] = Field(
        None, description="The member is below its tier: the scheduled recalculation may move it down from this day")


class TierChange(Answer):
    change: Literal["up", "down"]
    from_: Optional[str] = Field(alias="from")
    to: Optional[str]
    qualifying: float
    created_at: Timestamp

    model_config = ConfigDict(**Answer.model_config, serialize_by_alias=True, populate_by_name=True)


class TierChangeList(Answer):
    items: list[TierChange]
    next_cursor: Optional[str]


class PendingRelease(Answer):
    points: int
    available_at: Timestamp


class Balance(Answer):
    available: int
    pending: int
    lifetime_earned: int
    lifetime_spent: int
    tier: Optional[str]
    expiring: list[Expiring]
    debt: int = Field(0, description="Points clawed back that the balance could not cover yet (clawback with "
                                     "allow_debt): new points pay it first")
    tier_progress: Optional[TierProgress] = Field(
        None, description="Present when the program has tiers: the qualifying measure and what the next tier needs")
    pending_releases: Optional[list[PendingRelease]] = Field(
        None, description="Present while points are pending (a rule's `pending_days` return window): the next "
                          "releases, soonest first. A refund or cancel of the event meanwhile removes them.")


class Member(Answer):
    external_id: str
    email: Optional[str]
    phone: Optional[str]
    name: Optional[str]
    locale: Optional[str]
    attributes: Optional[dict[str, Any]] = None
    tier: Optional[str]
    balance: Balance
    created_at: Timestamp
    updated_at: Optional[Timestamp] = None


class Transaction(Answer):
    id: str
    kind: Literal["earn", "redeem", "adjust", "expire", "refund", "reverse"]
    points: int
    balance_after: int
    event_id: Optional[str] = None
    redemption_id: Optional[str] = None
    reason: Optional[str] = None
    created_at: Timestamp
    expires_at: Optional[Timestamp] = None
    reverses: Optional[str] = Field(None, description="For `reverse`: the event whose points it takes back")
    available_at: Optional[Timestamp] = Field(None, description="For an `earn` held pending: when its points "
                                                                "become available")


class TransactionList(Answer):
    items: list[Transaction]
    next_cursor: Optional[str]


class AdjustmentCreate(Request):
    points: Points
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("points")
    @classmethod
    def _non_zero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("points must not be zero")
        return points


class Adjustment(Answer):
    transaction: Transaction
    balance: Balance


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


class SessionCreate(Request):
    ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600


class Session(Answer):
    token: str
    expires_at: Timestamp


# --- events ---------------------------------------------------------------------------------

class Foreign(Request):
    """A shape another system sends (a shop's webhook): the fields Laurel reads are checked, the rest ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, defer_build=True)


class OrderCustomer(Foreign):
    id: ExternalId


class OrderMoney(Foreign):
    amount: Annotated[int, Field(ge=0, le=MAX_POINTS * 100)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class OrderWebhook(Foreign):
    """An e-commerce order's state: `paid` earns, `refunded` (cumulative amount) and `cancelled` claw back."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-:@]{1,100}$")]
    status: Literal["paid", "refunded", "partially_refunded", "cancelled"]
    customer: OrderCustomer
    total: OrderMoney
    refunded: Optional[OrderMoney] = None


class EventResult(Answer):
    id: str
    member: str
    points: int
    transactions: list[Transaction]
    balance: Balance


# --- rewards -------------------------------------------------------------------------------

LowStockThreshold = Annotated[int, Field(
    ge=0, le=MAX_POINTS, description="A redemption that leaves fewer than this in stock is announced to webhook "
                                     "endpoints (reward.low_stock), once per restock; 0 never. Default 10")]


class Money(Request):
    amount: Annotated[int, Field(ge=0, le=MAX_POINTS * 100)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class PartnerTransfer(Request):
    """A points_transfer reward's value: the partner program the points go to, and its units per point."""

    partner: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", examples=["skymiles"])]
    rate: Annotated[float, Field(gt=0, le=1000, description="Partner units per point: units = points × rate, "
                                                            "rounded down")]


RewardValue = Union[Money, PartnerTransfer]  # a partner transfer's value for points_transfer, money for the rest


class Slot(Request):
    """One dated session of an experience and its seats."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    starts_at: AwareDatetime
    capacity: Annotated[int, Field(ge=1, le=100000)]


class Charity(Request):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    name: Name


class RewardText(Request):
    """A reward's name and description in one language (either may be left to the reward's own)."""

    name: Optional[Name] = None
    description: Optional[Annotated[str, Field(max_length=2000)]] = None

    @model_validator(mode="after")
    def _something(self):
        if self.name is None and self.description is None:
            raise ValueError("give a name, a description or both")
        return self


Translations = Annotated[dict[Locale, RewardText], Field(min_length=1, max_length=30)]
TRANSLATIONS = ("Name and description per BCP 47 language tag (at most 30): reads show the one for `?locale=`, "
                "else the member's locale (member sessions, the member's catalog), else the program's; fr-CA falls "
                "back to fr, then to the reward's own name and description (absent or null: none)")


class Segment(Request):
    """Members who match every condition given (none: all the program's members)."""

    tiers: Optional[Annotated[list[Optional[Annotated[str, Field(min_length=1, max_length=64)]]],
                              Field(min_length=1, max_length=20)]] = Field(
        None, description="Tier names; null in the list: members below every tier")
    attributes: Optional[dict[Annotated[str, Field(min_length=1, max_length=64)],
                              Union[Annotated[str, Field(max_length=200)], int, float, bool]]] = Field(
        None, description="Member attributes equal to these values")
    active_within_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = Field(
        None, description="Members whose record changed (an earn, a redemption, a profile change) in this many days")

    _attributes = field_validator("attributes")(lambda value: small_object(value, 10))


SEGMENT = ("Only members of this segment (the shape of a broadcast's) may redeem it; others get 409 not_eligible "
           "(absent or null: everyone)")


class RewardCreate(Request):
    type: RewardType
    name: Name
    description: Optional[Annotated[str, Field(max_length=2000)]] = None
    cost: Annotated[int, Field(ge=1, le=MAX_POINTS)]
    value: Optional[RewardValue] = None
    stock: Optional[Annotated[int, Field(ge=0, le=MAX_POINTS)]] = None
    active: bool = True
    low_stock_threshold: Optional[LowStockThreshold] = None
    tiers: Optional[Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=20)]] = Field(
        None, description="A tier benefit: only members of these tiers may redeem it (absent or null: everyone)")
    segment: Optional[Segment] = Field(None, description=SEGMENT)
    translations: Optional[Translations] = Field(None, description=TRANSLATIONS)
    slots: Optional[Annotated[list[Slot], Field(min_length=1, max_length=50)]] = Field(
        None, description="An experience's dated sessions (refused for others; without them an experience is fulfilled at once); a "
                          "redemption books one by `slot_id`, never past its capacity")
    cancel_cutoff_hours: Optional[Annotated[int, Field(ge=0, le=8760)]] = Field(
        None, description="An experience's booking may be cancelled until this many hours before its slot "
                          "starts (absent: until it starts)")
    charities: Optional[Annotated[list[Charity], Field(min_length=1, max_length=50)]] = Field(
        None, description="A donation's charities (refused for others; without them a donation is fulfilled at once); a redemption "
                          "names one by `charity_id`")


class RewardUpdate(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=_absent_means_unchanged)

    name: Name = None  # absent: unchanged; null is refused
    description: Optional[Annotated[str, Field(max_length=2000)]] = None
    cost: Annotated[int, Field(ge=1, le=MAX_POINTS)] = None
    value: Optional[RewardValue] = None
    stock: Optional[Annotated[int, Field(ge=0, le=MAX_POINTS)]] = None
    active: bool = None
    low_stock_threshold: Optional[LowStockThreshold] = None  # null: back to the default
    tiers: Optional[Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=20)]] = Field(
        None, description="A tier benefit: only members of these tiers may redeem it (absent or null: everyone)")
    segment: Optional[Segment] = Field(None, description=SEGMENT)
    translations: Optional[Translations] = Field(None, description=TRANSLATIONS)


class Reward(Answer):
    id: str
    type: RewardType
    name: str
    description: Optional[str]
    cost: int
    value: Optional[dict[str, Any]]
    stock: Optional[int]
    active: bool
    low_stock_threshold: int
    tiers: Optional[list[str]] = Field(None, description="Only members of these tiers may redeem it")
    segment: Optional[dict[str, Any]] = Field(None, description="Only members of this segment may redeem it "
                                                                "(shown to admins and analysts)")
    locale: Optional[str] = Field(description="The translation `name` and `description` are read in; null: the "
                                              "reward's own")
    translations: Optional[dict[str, dict[str, str]]] = Field(None, description="Every translation (shown to admins "
                                                                                "and analysts)")
    slots: Optional[list[dict[str, Any]]] = Field(None, description="An experience's sessions: id, starts_at, "
                                                                    "capacity and booked")
    cancel_cutoff_hours: Optional[int] = None
    charities: Optional[list[dict[str, Any]]] = Field(None, description="A donation's charities: id and name")
    created_at: Timestamp
    updated_at: Timestamp


class CharityTotal(Answer):
    id: str
    name: str
    points: int = Field(description="Points donated to it, in all")
    donations: int


class CharityList(Answer):
    items: list[CharityTotal]
    next_cursor: Optional[str]


class RewardList(Answer):
    items: list[Reward]
    next_cursor: Optional[str]


class CatalogEntry(Reward):
    """A reward as one member sees it: whether it may redeem it and whether it has the points."""

    eligible: bool = Field(description="The member may redeem it now (no `ineligible_reasons`)")
    ineligible_reasons: list[Literal["inactive", "tier", "segment", "out_of_stock"]]
    affordable: bool = Field(description="The member's available points cover its cost")
    points_short: int = Field(description="Points the member still needs for it (0 when affordable)")


class CatalogList(Answer):
    items: list[CatalogEntry]
    next_cursor: Optional[str]


class CodesAdd(Request):
    codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(min_length=1, max_length=1000)]


class CodesAdded(Answer):
    added: int
    duplicates: int


# --- redemptions ---------------------------------------------------------------------------

AddressLine = Annotated[str, Field(min_length=1, max_length=200)]


class ShippingAddress(Request):
    """Where merchandise goes (checked only for merchandise: other rewards keep their free-form address)."""

    name: AddressLine
    line1: AddressLine
    line2: Optional[AddressLine] = None
    city: AddressLine
    region: Optional[AddressLine] = None
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO-3166 alpha-2")]


class Delivery(Request):
    email: Optional[Email] = None
    phone: Optional[Phone] = None
    address: Optional[dict[str, Any]] = None
    account: Optional[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{4,32}$", examples=["SM-12345678"])]] = Field(
        None, description="The member's account number with the partner program (points_transfer rewards)")

    _address = field_validator("address")(small_object)


class RedemptionCreate(Request):
    reward_id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=100)] = 1
    delivery: Optional[Delivery] = None
    slot_id: Optional[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]] = Field(
        None, description="The experience's slot booked (experiences only)")
    charity_id: Optional[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]] = Field(
        None, description="The charity the points go to (donations only)")


class Shipping(Answer):
    address: ShippingAddress


class Redemption(Answer):
    id: str
    member: str
    reward_id: str
    quantity: int
    points: int
    status: Literal[STATUSES] = Field(
        description="processing, shipped, delivered and returned are merchandise's (docs/programs.md, Reward types)")
    fulfillment: Optional[dict[str, Any]] = None
    delivery: Optional[Shipping] = Field(None, description="Where merchandise ships: shown to admins, the member's "
                                                           "own session and fulfilment keys (not to store or analyst)")
    reason: Optional[str] = Field(None, description="Why it was rejected or cancelled")
    created_at: Timestamp
    updated_at: Timestamp


class ShipmentUpdate(Request):
    status: Literal["shipped", "delivered", "returned"] = Field(
        description="processing → shipped → delivered; shipped or delivered → returned (points given back, restocked)")
    carrier: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = Field(None, description="With shipped")
    tracking: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = Field(None, description="With shipped")


class RedemptionList(Answer):
    items: list[Redemption]
    next_cursor: Optional[str]


Reason = Annotated[str, Field(min_length=1, max_length=500)]


class RedemptionReject(Request):
    reason: Reason


class RedemptionCancel(Request):
    reason: Optional[Reason] = None


# --- cash wallets and payouts ------------------------------------------------------------------

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, and mod 97 must be 1."""
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


class BankTransfer(Request):
    type: Literal["bank_transfer"]
    iban: Annotated[str, Field(min_length=15, max_length=34, examples=["DE89370400440532013000"])]
    account_name: Annotated[str, Field(min_length=1, max_length=140)]

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str) -> str:
        value = value.replace(" ", "").upper()
        if not iban_checksum_ok(value):
            raise ValueError("not a valid IBAN (country, check digits and mod-97 checksum)")  # never the value
        return value


class PayPal(Request):
    type: Literal["paypal"]
    email: Email


PayoutMethod = Annotated[Union[BankTransfer, PayPal], Field(discriminator="type")]


class PayoutCreate(Request):
    amount: Annotated[int, Field(ge=1, le=MAX_POINTS * 100, description="Minor units (cents)")]
    currency: Currency
    method: PayoutMethod


class PayoutReject(Request):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class PayoutCancel(Request):
    reason: Optional[Annotated[str, Field(min_length=1, max_length=500)]] = None


class PayoutPaid(Request):
    external_reference: Optional[Annotated[str, Field(min_length=1, max_length=200)]] = None


class Payout(Answer):
    id: str
    member: str
    amount: int
    currency: str
    status: Literal["requested", "approved", "paid", "rejected", "cancelled"]
    method: dict[str, Any] = Field(description="In full to admins and the member's own session; masked to analysts")
    reason: Optional[str] = Field(None, description="Why it was rejected or cancelled")
    external_reference: Optional[str] = None
    created_at: Timestamp
    updated_at: Timestamp


class PayoutList(Answer):
    items: list[Payout]
    next_cursor: Optional[str]


class CashBalance(Answer):
    currency: str
    balance: int


class CashTransaction(Answer):
    id: str
    kind: Literal["credit", "payout_reserved", "payout_paid", "payout_returned"]
    amount: int
    currency: str
    balance_after: int
    redemption_id: Optional[str] = None
    payout_id: Optional[str] = None
    created_at: Timestamp


class CashWallet(Answer):
    balances: list[CashBalance]
    transactions: list[CashTransaction]
    next_cursor: Optional[str]


class ProgramBudget(Answer):
    amount: int = Field(description="In minor units (cents)")
    currency: str
    used: int
    left: int
    alert_at_percent: list[int]


# --- webhooks ------------------------------------------------------------------------------

WebhookKind = Literal[KINDS]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/laurel-webhooks"],
                                  description="https:// and a public address")]
WebhookKinds = Annotated[list[WebhookKind], Field(min_length=1, max_length=len(KINDS))]
Description = Annotated[str, Field(max_length=500)]


class WebhookEndpointCreate(Request):
    url: WebhookUrl
    kinds: WebhookKinds
    program_id: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        None, description="Only this program's events (none: every program of the organisation)")
    description: Optional[Description] = None
    enabled: bool = True


class WebhookEndpointUpdate(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=_absent_means_unchanged)

    url: WebhookUrl = None  # absent: unchanged; null is refused
    kinds: WebhookKinds = None
    program_id: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = None  # null: every program
    description: Optional[Description] = None
    enabled: bool = None


class WebhookEndpoint(Answer):
    id: str
    url: str
    kinds: list[WebhookKind]
    program_id: Optional[str]
    description: Optional[str]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


# --- communications ------------------------------------------------------------------------

MessageKind = Literal["welcome", "points_earned", "reward_delivered", "redemption_status", "donation_receipt", "tier_up", "tier_down",
                      "points_expiring", "campaign_announcement"]
Channel = Literal["email", "sms"]


class EmailTemplate(Request):
    """Placeholders are `{name}` (only those of the kind); `{{` and `}}` are literal braces."""

    subject: Annotated[str, Field(min_length=1, max_length=300, examples=["You earned {points} {currency}"])]
    html: Annotated[str, Field(min_length=1, max_length=100_000,
                               examples=["<p>Hi {name}, you earned <b>{points}</b> {currency}.</p>"])]
    text: Annotated[str, Field(min_length=1, max_length=20_000, examples=["Hi {name}, you earned {points} {currency}."])]


class SmsTemplate(Request):
    text: Annotated[str, Field(min_length=1, max_length=1600, examples=["{program}: +{points} {currency}"])]


class TemplateDraft(Request):
    email: Optional[EmailTemplate] = None
    sms: Optional[SmsTemplate] = None


class TemplateUpsert(TemplateDraft):
    """A program's own template for one kind and locale: email, SMS or both (the other falls back)."""

    @model_validator(mode="after")
    def _something(self):
        if self.email is None and self.sms is None:
            raise ValueError("give an email template, an SMS template or both")
        return self


class Template(Answer):
    kind: MessageKind
    locale: str
    source: Literal["program", "builtin"] = Field(description="The program's own, or the built-in one members of "
                                                              "this locale get without it")
    email: Optional[dict[str, str]]
    sms: Optional[dict[str, str]]
    updated_at: Optional[Timestamp]


class TemplateList(Answer):
    items: list[Template]
    next_cursor: Optional[str]


class EmailPreview(Answer):
    subject: str
    html: str
    text: str


class SmsPreview(Answer):
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    characters: int


class TemplatePreview(Answer):
    email: EmailPreview
    sms: SmsPreview


class ChannelChoices(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=_absent_means_unchanged)

    transactional: bool = Field(None, description="Rewards, redemptions, points, tiers, expiry (absent: unchanged)")
    marketing: bool = Field(None, description="Broadcasts (absent: unchanged)")


class PreferencesUpdate(Request):
    email: Optional[ChannelChoices] = None
    sms: Optional[ChannelChoices] = None


class EmailChoices(Answer):
    transactional: bool
    marketing: bool


class SmsChoices(EmailChoices):
    stopped: bool = Field(description="The member's phone replied STOP: no SMS until it replies START")


class Preferences(Answer):
    email: EmailChoices
    sms: SmsChoices
    updated_at: Optional[Timestamp]


class MessageRecord(Answer):
    """What became of one message: never its text or its address."""

    kind: MessageKind
    channel: Channel
    subject: str = Field(description="What the message is about (its kind and the ids it names)")
    status: Literal["queued", "deferred", "sent", "suppressed", "failed"]
    reason: Optional[str] = Field(description="Why it was suppressed or failed (no_address, opted_out, sms_stop, "
                                              "no_unsubscribe_link; a provider's error)")
    provider_message_id: Optional[str]
    deferred_until: Optional[Timestamp]
    created_at: Timestamp
    updated_at: Timestamp


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="Signs every delivery (Laurel-Signature); shown only now")


class WebhookEndpointList(Answer):
    items: list[WebhookEndpoint]
    next_cursor: Optional[str]


class WebhookSecret(Answer):
    id: str
    secret: str = Field(description="The new signing secret; shown only now")
    previous_secret_expires_at: Timestamp = Field(description="Until then deliveries are signed with both")


class WebhookDelivery(Answer):
    id: str
    event_id: str = Field(description="The same on every try and replay: dedupe on it")
    endpoint_id: str
    kind: str
    status: Literal["pending", "retrying", "delivered", "failed"]
    attempts: int
    last_status_code: Optional[int]
    last_error: Optional[str]
    next_attempt_at: Optional[Timestamp]
    delivered_at: Optional[Timestamp]
    created_at: Timestamp
    updated_at: Timestamp
    event: dict[str, Any] = Field(description="The body sent: {id, type, created_at, org_id, program_id, data}")


class WebhookDeliveryList(Answer):
    items: list[WebhookDelivery]
    next_cursor: Optional[str]


# --- member imports ------------------------------------------------------------------------

IMPORT_FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,192}\.(csv|jsonl|ndjson|CSV|JSONL|NDJSON)$"
MAX_IMPORT_BYTES = 1024 ** 3  # a 100,000-member file is ~10 MB; S3 takes up to 5 GB in one PUT


class ImportCreate(Request):
    file_name: Annotated[str, Field(
        examples=["members.csv"], json_schema_extra={"pattern": IMPORT_FILE_NAME},
        description="At most 200 characters of A-Z a-z 0-9 . _ - ending in .csv, .jsonl or .ndjson (its format)")]
    size: Optional[Annotated[int, Field(ge=1, le=MAX_IMPORT_BYTES, description=(
        "The file's exact size in bytes: the upload URL then takes exactly that many"))]] = None

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, value: str) -> str:
        # Checked here rather than with `pattern`, for a message a person can act on.
        if not re.fullmatch(IMPORT_FILE_NAME, value):
            raise ValueError("must be at most 200 characters of A-Z a-z 0-9 . _ - (not starting with . _ -), "
                             "ending in .csv, .jsonl or .ndjson")
        return value


class ImportUpload(Answer):
    key: Annotated[str, Field(description="The object the file becomes; GET .../imports?key= finds its import")]
    upload_url: Annotated[str, Field(description="A presigned S3 URL: PUT the file's bytes to it, as they are")]
    method: Literal["PUT"]
    headers: Annotated[dict[str, str], Field(description="Headers the PUT must carry (Content-Length with size)")]
    expires_at: Timestamp


class ImportCounts(Answer):
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int


class ImportFailure(Answer):
    code: str
    message: str


class Import(Answer):
    id: str
    file: str
    key: str
    status: Literal["running", "done", "failed"]
    counts: ImportCounts
    report_key: Optional[str]
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Optional[Timestamp]
    error: Optional[ImportFailure] = None
    report_url: Annotated[Optional[str], Field(description="Once finished: a presigned URL of the per-row report")] = None
    report_expires_at: Optional[Timestamp] = None


class ImportList(Answer):
    items: list[Import]
    next_cursor: Optional[str]


class MessageList(Answer):
    items: list[MessageRecord]
    next_cursor: Optional[str]


class BroadcastContent(Request):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=2000)]


class BroadcastCreate(Request):
    kind: Literal["campaign_announcement"] = "campaign_announcement"
    content: Optional[Annotated[dict[Locale, BroadcastContent], Field(min_length=1, max_length=20)]] = Field(
        None, description="Title and body per locale, for the {title} and {body} of the campaign_announcement "
                          "template; without it the program's own template says everything")
    segment: Optional[Segment] = None
    channels: Annotated[list[Channel], Field(min_length=1, max_length=2)] = ["email", "sms"]

    @field_validator("channels")
    @classmethod
    def _unique(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError("channels must be unique")
        return channels


class BroadcastCounts(Answer):
    members: int = Field(description="Members of the segment found so far (reachable or not)")
    targeted: int = Field(description="Messages published to them (one per channel they have)")
    sent: int
    suppressed: int
    failed: int
    pending: int = Field(description="Targeted, not sent, suppressed or failed yet (queued or deferred)")


class Broadcast(Answer):
    id: str
    kind: Literal["campaign_announcement"]
    status: Literal["queued", "running", "done"]
    segment: dict[str, Any]
    channels: list[Channel]
    content_locales: list[str]
    counts: BroadcastCounts
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Optional[Timestamp]
