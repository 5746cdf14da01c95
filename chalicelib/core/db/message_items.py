"""Item types of messaging: delivery records, preferences, phone opt-outs, templates and broadcasts."""
import hashlib

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.db.member_items import member_pk
from chalicelib.core.db.table import Item


def messages_pk(program_id: str, external_id: str) -> str:
    return f"MSG#{program_id}#{external_id}"


class DeliveryItem(Item, discriminator="delivery"):
    """One message to one member on one channel: sent once however often it is asked for.

    `subject` names what the message is about (message_kinds.Kind.subject). `status`: `sending`
    (claimed by a delivery function), `queued` (to be tried again), `deferred` (quiet hours, until
    `deferred_until`), `sent`, `suppressed` or `failed` (with `reason`).
    """

    program_id = UnicodeAttribute()
    external_id = UnicodeAttribute()
    subject = UnicodeAttribute()
    channel = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    deferred_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str, subject: str, channel: str) -> tuple[str, str]:
        return messages_pk(program_id, external_id), f"{subject}#{channel}"


class PreferencesItem(Item, discriminator="prefs"):
    """What a member wants to receive, per channel and category; unset means the default (preferences.py)."""

    email_transactional = BooleanAttribute(null=True)
    email_marketing = BooleanAttribute(null=True)
    sms_transactional = BooleanAttribute(null=True)
    sms_marketing = BooleanAttribute(null=True)
    leaderboard_listed = BooleanAttribute(null=True)  # False: kept off the program's leaderboards
    # Consent to marketing, per channel: {"granted", "at", "via"} of the last choice (messaging/preferences.py)
    email_marketing_consent = JSONAttribute(null=True, attr_name="emc")
    sms_marketing_consent = JSONAttribute(null=True, attr_name="smc")
    updated_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(program_id: str, external_id: str) -> tuple[str, str]:
        return member_pk(program_id, external_id), "PREFS"


class PhoneOptOutItem(Item, discriminator="optout"):
    """A phone number that replied STOP: no SMS reaches it until it replies START."""

    opted_out_at = UnicodeAttribute()

    @staticmethod
    def key(phone: str) -> tuple[str, str]:
        return f"PHONE#{hashlib.sha256(phone.encode()).hexdigest()}", "OPTOUT"


class TemplateItem(Item, discriminator="template"):
    """A program's own template for one kind and locale: `email` {subject, html, text}, `sms` {text}."""

    program_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    locale = UnicodeAttribute()
    email = JSONAttribute(null=True)
    sms = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, kind: str, locale: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"TPL#{kind}#{locale}"


class BroadcastItem(Item, discriminator="broadcast"):
    """A message to a segment of a program's members, sent a slice at a time (broadcasts.py)."""

    org_id = UnicodeAttribute()
    program_id = UnicodeAttribute()
    broadcast_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    content = JSONAttribute(null=True)  # {locale: {"title", "body"}}
    segment = JSONAttribute(null=True)  # {"tiers", "attributes", "active_within_days"}
    channels = JSONAttribute()
    status = UnicodeAttribute()  # queued, running, done
    slice = NumberAttribute(default=0)  # the slice the next worker message must name
    cursor = JSONAttribute(null=True)  # where the members' scan goes on
    members = NumberAttribute(default=0)
    targeted = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    suppressed = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    fingerprint = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(program_id: str, broadcast_id: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"BRD#{broadcast_id}"


class BroadcastKeyItem(Item, discriminator="broadcast_key"):
    """Which broadcast an Idempotency-Key made, so a repeated POST starts nothing new."""

    broadcast_id = UnicodeAttribute()

    @staticmethod
    def key(program_id: str, idempotency_key: str) -> tuple[str, str]:
        return f"PRG#{program_id}", f"BRDKEY#{idempotency_key}"
