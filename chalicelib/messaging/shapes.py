"""The shapes of communications: a program's own templates and their previews, a member's preferences,
the record of its messages, and broadcasts."""
from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.core.wire import Answer, Locale, Request, Timestamp, drop_null_defaults
from chalicelib.members.shapes import Segment

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
    model_config = ConfigDict(**Request.model_config, json_schema_extra=drop_null_defaults)

    transactional: bool = Field(None, description="Rewards, redemptions, points, tiers, expiry (absent: unchanged)")
    marketing: bool = Field(None, description="Broadcasts (absent: unchanged)")


class LeaderboardChoice(Request):
    listed: bool = Field(description="false: the member never appears on the program's leaderboards; true: it does")


class PreferencesUpdate(Request):
    email: Optional[ChannelChoices] = None
    sms: Optional[ChannelChoices] = None
    leaderboard: Optional[LeaderboardChoice] = None


class EmailChoices(Answer):
    transactional: bool
    marketing: bool


class SmsChoices(EmailChoices):
    stopped: bool = Field(description="The member's phone replied STOP: no SMS until it replies START")


class LeaderboardListing(Answer):
    listed: bool


class Preferences(Answer):
    email: EmailChoices
    sms: SmsChoices
    leaderboard: Optional[LeaderboardListing] = Field(
        None, description="Whether the member appears on the program's leaderboards; absent until the member "
                          "chose (listed by default)")
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
