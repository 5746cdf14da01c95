"""The shapes of members: the member and its profile, its account (balance, transactions, tier progress and
changes, adjustments, and what an event did to it), member sessions, segments, and member imports.

`MemberUpsert` also checks each row of a member import (`members.imports`).
"""
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, field_validator

from chalicelib.core.wire import (
    Answer,
    Email,
    Locale,
    Name,
    Phone,
    Points,
    Request,
    Timestamp,
    small_object,
    time_zone_name,
)


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
            time_zone_name(zone)
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


class BalanceSummary(Answer):
    available: int
    pending: int
    lifetime_earned: int
    lifetime_spent: int


class DirectoryMember(Answer):
    """A member as the program's member directory lists it."""

    external_id: str
    name: Optional[str]
    email: Optional[str]
    phone: Optional[str]
    attributes: Optional[dict[str, Any]] = None
    tier: Optional[str]
    status: Literal["active", "closed", "blocked"] = Field(description="closed: offboarded; blocked: held for fraud "
                                                                       "(POST .../close, .../block)")
    balance: BalanceSummary = Field(description="As the account holds it now (expiring points and tier progress: "
                                                "GET the member)")
    created_at: Timestamp = Field(description="When the member was enrolled (by PUT member, an import or an event)")


class MemberDirectory(Answer):
    items: list[DirectoryMember]
    next_cursor: Optional[str]


class Transaction(Answer):
    id: str
    kind: Literal["earn", "redeem", "adjust", "expire", "refund", "reverse", "forfeit"]
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


class SessionCreate(Request):
    ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 3600


class Session(Answer):
    token: str
    expires_at: Timestamp


class EventResult(Answer):
    id: str
    member: str
    points: int
    transactions: list[Transaction]
    balance: Balance


# --- segments --------------------------------------------------------------------------------

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
    churn_risk_at_least: Optional[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(
        None, description="Members at risk: churn risk (1 - the probability the member is still active, as "
                          "GET .../members/{external_id}/predictions shows it) at least this. Members never active, "
                          "and every member while the program's model is not fitted yet, are left out")

    _attributes = field_validator("attributes")(lambda value: small_object(value, 10))


# --- member imports --------------------------------------------------------------------------

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


# --- predictions --------------------------------------------------------------------------------

class ActivitySummary(Answer):
    first_active_day: str
    last_active_day: str
    repeat_active_days: int = Field(description="Active days (an earn or a redemption) after the first")


class ChurnModel(Answer):
    method: str
    fitted_at: str
    members_in_sample: int
    parameters: dict[str, float] = Field(description="MBG/NBD's r, alpha, a and b")


class Predictions(Answer):
    """Null figures: the member was never active, or the program's model is not fitted yet (it needs 30 members)."""

    external_id: str
    active_probability: Optional[float] = Field(description="The probability the member is still active")
    churn_risk: Optional[float] = Field(description="1 - active_probability")
    expected_active_days: Optional[float] = Field(description="Active days expected in the next horizon_days")
    horizon_days: int
    activity: Optional[ActivitySummary]
    model: Optional[ChurnModel]


class MemberClose(Request):
    reason: Optional[Annotated[str, Field(min_length=1, max_length=500)]] = None


class MemberBlock(Request):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class MemberStatus(Answer):
    member: str
    status: Literal["active", "closed", "blocked"]
    reason: Optional[str] = Field(None, description="Why it was closed or blocked, as the admin said")
    changed_at: Optional[Timestamp] = Field(None, description="When it was closed or blocked (null: active)")
    forfeited: Optional[int] = Field(None, description="Points forfeited at the close (program setting "
                                                       "offboarding.forfeit_on_close)")
    erased_at: Optional[Timestamp] = Field(None, description="When its personal data was erased (never reopened)")


class MemberExport(Answer):
    """An access request's answer: each part as the API's own read of it shows it (docs/privacy.md, "Access")."""

    format: str = Field(description="laurel.member-export.v1")
    exported_at: Timestamp
    program_id: str
    member: dict[str, Any] = Field(description="As GET the member shows it: profile, balance, tier and progress")
    status: dict[str, Any] = Field(description="As the status routes answer it (active, closed, blocked)")
    referral: dict[str, Any] = Field(description="Its referral code (if the program refers), referrer and status")
    transactions: list[dict[str, Any]] = Field(description="Every ledger entry, newest first")
    tier_history: list[dict[str, Any]]
    redemptions: list[dict[str, Any]] = Field(description="Every redemption, with its codes and shipping address")
    cash_wallet: dict[str, Any] = Field(description="Balances per currency and every cash transaction")
    payouts: list[dict[str, Any]] = Field(description="Every payout, its method in full")
    messages: list[dict[str, Any]] = Field(description="Every message record: kind, channel, status (never text)")
    preferences: dict[str, Any]
    consents: dict[str, Any] = Field(description="Per channel, the last marketing choice: granted, at, via")
    predictions: dict[str, Any]
