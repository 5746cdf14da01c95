"""Delivering one notification on one channel: decide, compose in the member's language, send once.

For each message from the channel's queue:
1. its record (message_log.py): a message already sent or suppressed sends nothing more;
2. suppressed, with the reason, when the member has no address on the channel (`no_address`),
   has turned the kind's category off (`opted_out`), its phone replied STOP (`sms_stop`), or a
   marketing email could carry no unsubscribe link (`no_unsubscribe_link`);
3. deferred when the kind may wait and it is the member's quiet hours (notices/policy.py): the message
   goes back on the channel's queue with a delay (at most SQS's 900 s, as often as needed);
4. otherwise composed (templates.py) and handed to SES or SNS. A permanent refusal is recorded
   `failed` and not retried; any other failure is retried by the queue, and recorded `failed` on
   the last try (the message then waits in the channel's DLQ).
"""
import math
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.core import aws, clock, db, settings
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import logger as log
from chalicelib.messaging import message_log, preferences
from chalicelib.notices import message_kinds, policy, templates
from chalicelib.rewards.kinds import gift_card

MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
PERMANENT_SEND_ERRORS = {"MessageRejected", "InvalidParameter", "InvalidParameterValue",
                         "MailFromDomainNotVerified", "InvalidPhoneNumber"}
SMS_TYPES = {"transactional": "Transactional", "marketing": "Promotional"}


@dataclass
class Message:
    """A queued notification and everything it needs, read in one BatchGetItem (the member with its profile)."""

    kind: message_kinds.Kind
    channel: str
    payload: dict
    program: db.ProgramItem
    member: db.MemberItem
    prefs: db.PreferencesItem | None
    record: db.DeliveryItem | None
    about: db.RedemptionItem | db.BroadcastItem | None

    @property
    def key(self) -> dict:
        return {"program_id": self.member.program_id, "external_id": self.member.external_id,
                "subject": self.kind.subject(self.payload), "channel": self.channel}

    @property
    def broadcast(self) -> db.BroadcastItem | None:
        return self.about if isinstance(self.about, db.BroadcastItem) else None


def load(channel: str, kind: message_kinds.Kind, payload: dict) -> Message:
    program_id, external_id = payload["program_id"], payload["external_id"]
    keys = {"program": db.ProgramItem.key(payload["org_id"], program_id),
            "member": db.MemberItem.key(program_id, external_id),
            "profile": db.ProfileItem.key(program_id, external_id),
            "prefs": db.PreferencesItem.key(program_id, external_id),
            "record": db.DeliveryItem.key(program_id, external_id, kind.subject(payload), channel)}
    if "redemption_id" in payload:
        keys["about"] = db.RedemptionItem.key(payload["redemption_id"])
    elif "broadcast_id" in payload:
        keys["about"] = db.BroadcastItem.key(program_id, payload["broadcast_id"])
    found = db.get_many(*keys.values())
    items = {name: found.get(key) for name, key in keys.items()}
    if not isinstance(items["program"], db.ProgramItem) or not isinstance(items["member"], db.MemberItem):
        raise NotFound("No such program or member.")
    if "about" in keys and items["about"] is None:
        raise NotFound("What the message is about no longer exists.")
    member = db.attach_profile(items["member"], items["profile"])
    return Message(kind, channel, payload, items["program"], member, items["prefs"], items["record"],
                   items.get("about"))


def _text(value) -> str:
    return "" if value is None else str(int(value) if isinstance(value, float) and value.is_integer() else value)


def _content(broadcast: db.BroadcastItem, member_locale: str | None, program_locale: str) -> dict:
    """A broadcast's title and body in the member's language, else the program's, else English, else any."""
    content = broadcast.content or {}
    for locale in templates.candidates(member_locale, program_locale):
        if locale in content:
            return content[locale]
    return next(iter(content.values()), {})


def values_of(message: Message) -> dict:
    """The kind's placeholders filled from the payload, the member, the program and what it is about."""
    member, program, about = message.member, message.program, message.about
    profile = db.profile_of(member)
    values = {"name": profile.name or "", "program": program.name, "currency": program.currency_name}
    values.update({name: _text(message.payload[name]) for name in message.kind.values if name in message.payload})
    if isinstance(about, db.RedemptionItem):
        values["reward"] = about.reward_name
        if message.kind.name == "reward_delivered":
            values["code"] = next(iter(gift_card.codes_of(about)), "")
    elif isinstance(about, db.BroadcastItem):
        values.update({name: _text(value) for name, value in _content(about, profile.locale, program.locale).items()})
    return values


def address_of(message: Message) -> str | None:
    own = (message.about.delivery if isinstance(message.about, db.RedemptionItem) else None) or {}
    if message.channel == "email":
        return own.get("email") or db.profile_of(message.member).email
    return own.get("phone") or db.profile_of(message.member).phone


def unsubscribe_url(member: db.MemberItem) -> str | None:
    base = settings.public_api_url()
    token = preferences.unsubscribe_token(member.org_id, member.program_id, member.external_id)
    return f"{base}/v1/unsubscribe/{token}" if base else None


def suppression(message: Message, address: str | None) -> str | None:
    """Why the message must not go out, or None."""
    if not address:
        return "no_address"
    if not preferences.allows(message.prefs, message.channel, message.kind.category):
        return "opted_out"
    if message.channel == "sms" and preferences.stopped(address):
        return "sms_stop"
    if message.channel == "email" and message.kind.category == "marketing" and not settings.public_api_url():
        return "no_unsubscribe_link"
    return None


def _send(channel: str, address: str, content: dict, category: str) -> str:
    if channel == "email":
        answer = aws.client("ses").send_email(
            Source=settings.email_sender(), Destination={"ToAddresses": [address]},
            Message={"Subject": {"Data": content["subject"], "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": content["text"], "Charset": "UTF-8"},
                              "Html": {"Data": content["html"], "Charset": "UTF-8"}}})
    else:
        answer = aws.client("sns").publish(
            PhoneNumber=address, Message=content["text"],
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": SMS_TYPES[category]}})
    return answer["MessageId"]


def _defer(channel: str, body: str, until: datetime, now: datetime) -> None:
    delay = min(MAX_DELAY_SECONDS, math.ceil((until - now).total_seconds()))
    aws.client("sqs").send_message(QueueUrl=settings.delivery_queue_url(channel), MessageBody=body,
                                   DelaySeconds=max(0, delay))


def deliver(channel: str, body: dict, raw: str, receive_count: int) -> str:
    """Deliver one queued message (`raw`: its body as queued); returns what happened."""
    kind = message_kinds.KINDS.get(body.get("kind"))
    if kind is None or message_kinds.missing_fields(kind, body):
        log.warning("notification dropped: unknown kind or missing fields", extra={"kind": str(body.get("kind"))})
        return "dropped"
    message = load(channel, kind, body)
    now = clock.now()
    if not message_log.claimable(message.record, now):
        if message.record.status == "sending":
            raise message_log.Busy("This message is being sent by another worker.")
        return "duplicate"
    record, key, broadcast = message.record, message.key, message.broadcast
    address = address_of(message)
    reason = suppression(message, address)
    if reason:
        message_log.write(record, key, kind.name, "suppressed", reason=reason, broadcast=broadcast)
        return "suppressed"
    settings_ = policy.settings_of(message.program)
    until = policy.quiet_until(now, policy.zone_of(message.member, settings_),
                                  settings_["quiet_hours"]) if kind.deferrable else None
    if until:
        message_log.write(record, key, kind.name, "deferred", deferred_until=clock.iso(until))
        _defer(channel, raw, until, now)
        return "deferred"
    content = templates.compose(
        channel, kind.name, message.program, db.profile_of(message.member).locale, values_of(message),
        unsubscribe_url=unsubscribe_url(message.member) if kind.category == "marketing" else None,
        max_segments=int(settings_["sms_max_segments"]))
    claim = message_log.write(record, key, kind.name, "sending")
    try:
        provider_id = _send(channel, address, content, kind.category)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in PERMANENT_SEND_ERRORS:
            message_log.write(claim, key, kind.name, "failed", reason=f"rejected: {code}", broadcast=broadcast)
            log.warning("delivery rejected", extra={"channel": channel, "kind": kind.name, "error_code": code})
            return "rejected"
        _give_back(claim, key, kind.name, code, receive_count, broadcast)
        raise
    except Exception as error:
        # A timeout or a lost connection: the provider may or may not have it. Release the claim so the
        # queue's retry sends it (at least once) rather than dropping it as a duplicate.
        _give_back(claim, key, kind.name, type(error).__name__, receive_count, broadcast)
        raise
    message_log.write(claim, key, kind.name, "sent", provider_message_id=provider_id, broadcast=broadcast)
    return "sent"


def _give_back(claim: db.DeliveryItem, key: dict, kind: str, error: str, receive_count: int,
               broadcast: db.BroadcastItem | None) -> None:
    """A send that failed: queued for the queue's retry, or failed for good on its last try."""
    if receive_count >= settings.notifications_max_receives():
        message_log.write(claim, key, kind, "failed", reason=f"gave up after {receive_count} tries: {error}",
                               broadcast=broadcast)
    else:
        message_log.write(claim, key, kind, "queued", reason=f"retrying after {error}")
