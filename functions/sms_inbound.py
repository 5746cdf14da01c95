"""Replies to the program's SMS number, from the inbound SMS topic through its queue: STOP and START.

AWS End User Messaging (SNS two-way SMS) publishes each reply to the topic as JSON with
`originationNumber` (the member's phone) and `messageBody`. STOP (or STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, and the Spanish BAJA) marks the phone so no SMS reaches it; START (or UNSTOP)
lifts that. Anything else is ignored, and its text is never logged.
"""
import json
import re

# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.observability import lambda_handler, logger
from chalicelib.messaging import preferences

processor = BatchProcessor(event_type=EventType.SQS)
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "BAJA"}
START_WORDS = {"START", "UNSTOP"}
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def record_handler(record: SQSRecord) -> None:
    reply = json.loads(record.body)
    phone, words = reply.get("originationNumber"), str(reply.get("messageBody") or "").split()
    keyword = words[0].strip(".!").upper() if words else ""
    if not isinstance(phone, str) or not E164.fullmatch(phone):
        logger.warning("inbound SMS without a valid origination number dropped",
                       extra={"message_id": record.message_id})
        return
    if keyword in STOP_WORDS:
        preferences.stop(phone)
    elif keyword in START_WORDS:
        preferences.start(phone)
    logger.info("inbound SMS", extra={"message_id": record.message_id,
                                      "action": "stop" if keyword in STOP_WORDS else
                                      "start" if keyword in START_WORDS else "ignored"})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
