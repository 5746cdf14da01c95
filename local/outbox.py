"""What the platform handed to SES and SNS-SMS, read from the embedded emulator (like a local mail catcher)."""
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends


def sent(region: str) -> dict:
    """Every email and SMS sent so far, oldest first."""
    emails = [{"to": list(message.destinations.get("ToAddresses", [])), "source": message.source,
               "subject": getattr(message, "subject", None), "body": getattr(message, "body", None)}
              for message in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages]
    sms = [{"phone": phone, "message": text}
           for phone, text in sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values()]
    return {"emails": emails, "sms": sms}
