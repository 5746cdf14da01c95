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

STALE_CLAIM = timedelta(minutes=5)  # a "sending" claim older than this died with its Lambda
PERMANENT_SEND_ERRORS = {"MessageRejected", "InvalidParameter", "InvalidParameterValue",
                         "MailFromDomainNotVerified", "InvalidPhoneNumber"}

TEMPLATES = {
    "en": {"subject": "Your reward is here: {reward}", "greeting": "Hi {name},",
           "body": "your reward \"{reward}\" has been delivered.", "code": "Your code: {code}"},
    "it": {"subject": "Il tuo premio è arrivato: {reward}", "greeting": "Ciao {name},",
           "body": "il tuo premio \"{reward}\" è stato consegnato.", "code": "Il tuo codice: {code}"},
    "es": {"subject": "Tu recompensa ha llegado: {reward}", "greeting": "Hola {name}:",
           "body": "tu recompensa \"{reward}\" ha sido entregada.", "code": "Tu código: {code}"},
}


def compose(locale: str | None, name: str | None, reward: str, code: str | None) -> dict:
    words = TEMPLATES.get((locale or "en")[:2], TEMPLATES["en"])
    lines = [words["greeting"].format(name=name or "").replace(" ,", ",").replace(" :", ":"),
             words["body"].format(reward=reward)]
    if code:
        lines.append(words["code"].format(code=code))
    return {"subject": words["subject"].format(reward=reward), "text": "\n".join(lines)}


def _claim(redemption_id: str, channel: str) -> bool:
    """Record that this message is being sent; False if it was sent already or is being sent now."""
    now = clock.now()
    record = db.DeliveryItem(*db.DeliveryItem.key(redemption_id, channel), status="sending",
                             updated_at=clock.iso(now))
    stale = clock.iso(now - STALE_CLAIM)
    try:
        record.save(condition=db.DeliveryItem.pk.does_not_exist() | (db.DeliveryItem.status == "failed")
                    | ((db.DeliveryItem.status == "sending") & (db.DeliveryItem.updated_at < stale)))
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _finish(redemption_id: str, channel: str, status: str, provider_message_id: str | None) -> None:
    record = db.DeliveryItem(*db.DeliveryItem.key(redemption_id, channel), status=status,
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


def deliver_reward(channel: str, redemption_id: str) -> str:
    """Send the 'reward delivered' message on one channel; returns what happened."""
    redemption = db.get(db.RedemptionItem, db.RedemptionItem.key(redemption_id))
    if redemption is None:
        raise NotFound(f"No redemption {redemption_id}.")
    member = redemptions.member_of(redemption)
    delivery = redemption.delivery or {}
    address = (delivery.get("email") or member.email) if channel == "email" else (delivery.get("phone") or member.phone)
    if not address:
        return "no_address"
    if not _claim(redemption_id, channel):
        return "duplicate"
    code = (redemption.fulfillment or {}).get("code")
    message = compose(member.locale, member.name, redemption.reward_name, code)
    try:
        provider_id = _send(channel, address, message)
    except ClientError as error:
        permanent = error.response["Error"]["Code"] in PERMANENT_SEND_ERRORS
        _finish(redemption_id, channel, "rejected" if permanent else "failed", None)
        if permanent:
            log.warning("delivery rejected", extra={"channel": channel, "redemption_id": redemption_id,
                                                    "error_code": error.response["Error"]["Code"]})
            return "rejected"
        raise
    _finish(redemption_id, channel, "sent", provider_id)
    return "sent"
