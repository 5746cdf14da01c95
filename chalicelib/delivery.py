"""Delivering one notification on one channel: compose it in the member's language, send it once.

A delivery record (conditional put) makes a redelivered queue message a no-op once the message
was sent; a send that failed part-way may be retried by the queue.
"""
from datetime import timedelta

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from chalicelib import aws, clock, db, redemptions, settings
from chalicelib.errors import NotFound
from chalicelib.observability import logger as log
from chalicelib.transact import error_code

STALE_CLAIM = timedelta(minutes=5)  # a "sending" claim older than this died with its Lambda
PERMANENT_SEND_ERRORS = {"MessageRejected", "InvalidParameter", "InvalidParameterValue",
                         "MailFromDomainNotVerified", "InvalidPhoneNumber"}

TEMPLATES = {
    "en": {"greeting": "Hi {name},",
           "reward_delivered": ("Your reward is here: {reward}", "your reward \"{reward}\" has been delivered."),
           "code": "Your code: {code}",
           "points_expiring": ("{points} {currency} expire on {day}",
                               "{points} of your {currency} expire on {day}. Use them before then!")},
    "it": {"greeting": "Ciao {name},",
           "reward_delivered": ("Il tuo premio è arrivato: {reward}", "il tuo premio \"{reward}\" è stato consegnato."),
           "code": "Il tuo codice: {code}",
           "points_expiring": ("{points} {currency} scadono il {day}",
                               "{points} dei tuoi {currency} scadono il {day}. Usali prima di allora!")},
    "es": {"greeting": "Hola {name}:",
           "reward_delivered": ("Tu recompensa ha llegado: {reward}", "tu recompensa \"{reward}\" ha sido entregada."),
           "code": "Tu código: {code}",
           "points_expiring": ("{points} {currency} caducan el {day}",
                               "{points} de tus {currency} caducan el {day}. ¡Úsalos antes!")},
}


def compose(locale: str | None, name: str | None, kind: str, values: dict, code: str | None = None) -> dict:
    """Subject and text of one message kind, in the member's language (English when unknown)."""
    words = TEMPLATES.get((locale or "en")[:2], TEMPLATES["en"])
    subject, body = words[kind]
    lines = [words["greeting"].format(name=name or "").replace(" ,", ",").replace(" :", ":"), body.format(**values)]
    if code:
        lines.append(words["code"].format(code=code))
    return {"subject": subject.format(**values), "text": "\n".join(lines)}


def _claim(subject: str, channel: str) -> bool:
    """Record that this message is being sent; False if it was sent already or is being sent now."""
    now = clock.now()
    record = db.DeliveryItem(*db.DeliveryItem.key(subject, channel), status="sending",
                             updated_at=clock.iso(now))
    stale = clock.iso(now - STALE_CLAIM)
    try:
        record.save(condition=db.DeliveryItem.pk.does_not_exist() | (db.DeliveryItem.status == "failed")
                    | ((db.DeliveryItem.status == "sending") & (db.DeliveryItem.updated_at < stale)))
    except PutError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _finish(subject: str, channel: str, status: str, provider_message_id: str | None) -> None:
    record = db.DeliveryItem(*db.DeliveryItem.key(subject, channel), status=status,
                             provider_message_id=provider_message_id, updated_at=clock.iso(clock.now()))
    record.save()


def _send(channel: str, address: str, message: dict) -> str:
    if channel == "email":
        answer = aws.client("ses").send_email(
            Source=settings.email_sender(), Destination={"ToAddresses": [address]},
            Message={"Subject": {"Data": message["subject"], "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": message["text"], "Charset": "UTF-8"}}})
    else:
        answer = aws.client("sns").publish(
            PhoneNumber=address, Message=f"{message['subject']}\n{message['text']}",
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
    return answer["MessageId"]


def _deliver(channel: str, subject: str, address: str | None, message: dict) -> str:
    """Send once per subject and channel; a provider's permanent refusal is recorded, not retried."""
    if not address:
        return "no_address"
    if not _claim(subject, channel):
        return "duplicate"
    try:
        provider_id = _send(channel, address, message)
    except ClientError as error:
        permanent = error.response["Error"]["Code"] in PERMANENT_SEND_ERRORS
        _finish(subject, channel, "rejected" if permanent else "failed", None)
        if permanent:
            log.warning("delivery rejected", extra={"channel": channel, "subject": subject,
                                                    "error_code": error.response["Error"]["Code"]})
            return "rejected"
        raise
    except Exception:
        # A timeout or a lost connection: the provider may or may not have it. Release the claim so the
        # queue's retry sends it (at least once) rather than dropping it as a duplicate.
        _finish(subject, channel, "failed", None)
        raise
    _finish(subject, channel, "sent", provider_id)
    return "sent"


def _address(member: db.MemberItem, channel: str, delivery: dict | None = None) -> str | None:
    delivery = delivery or {}
    return (delivery.get("email") or member.email) if channel == "email" else (delivery.get("phone") or member.phone)


def deliver_reward(channel: str, redemption_id: str) -> str:
    """Send the 'reward delivered' message on one channel; returns what happened."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption is None:
        raise NotFound(f"No redemption {redemption_id}.")
    member = redemptions.member_of(redemption)
    code = (redemption.fulfillment or {}).get("code")
    message = compose(member.locale, member.name, "reward_delivered", {"reward": redemption.reward_name}, code)
    return _deliver(channel, redemption_id, _address(member, channel, redemption.delivery), message)


def deliver_expiry_reminder(channel: str, notice: dict) -> str:
    """Send 'N points expire on D' on one channel, once per member and date."""
    member = db.get(db.MemberItem, db.MemberItem.key(notice["program_id"], notice["external_id"]))
    if member is None:
        raise NotFound("No such member.")
    values = {"points": notice["points"], "day": notice["day"], "currency": notice.get("currency") or "points"}
    message = compose(member.locale, member.name, "points_expiring", values)
    subject = f"{member.pk}#EXPIRY#{notice['day']}"
    return _deliver(channel, subject, _address(member, channel), message)
