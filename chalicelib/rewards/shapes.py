"""The shapes of rewards and redemptions: the catalog (a reward of each kind, its translations, its codes, a
member's view of it), redeeming, shipping merchandise, reviewing, and the use of the program's budget."""
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from chalicelib.core.wire import (
    MAX_POINTS,
    Answer,
    Email,
    Locale,
    Name,
    Phone,
    Request,
    RewardType,
    Timestamp,
    drop_null_defaults,
    small_object,
)
from chalicelib.members.shapes import Segment
from chalicelib.rewards.statuses import STATUSES

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
    model_config = ConfigDict(**Request.model_config, json_schema_extra=drop_null_defaults)

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


class ProgramBudget(Answer):
    amount: int = Field(description="In minor units (cents)")
    currency: str
    used: int
    left: int
    alert_at_percent: list[int]
