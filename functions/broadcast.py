"""Broadcasts from the broadcast queue: one slice of one broadcast per message (chalicelib/messaging/broadcasts.py)."""
import json

# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.observability import lambda_handler, logger
from chalicelib.messaging import broadcasts

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context) -> None:
    message = json.loads(record.body)
    outcome = broadcasts.advance(message["org_id"], message["program_id"], message["broadcast_id"],
                                 int(message["slice"]), lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    logger.info("broadcast slice", extra={"broadcast_id": message["broadcast_id"], "slice": message["slice"],
                                          "outcome": outcome})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
