"""The shared shape of the email and SMS consumers: SNS messages (raw) from a channel's SQS queue."""
import json

# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import queues
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.messaging import sending


def consumer(channel: str):
    """A Lambda handler that delivers each queued notification on `channel` once."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        message = json.loads(record.body)
        outcome = sending.deliver(channel, message, record.body, queues.receive_count(record))
        logger.info("delivery", extra={"channel": channel, "kind": str(message.get("kind")), "outcome": outcome})

    @lambda_handler
    def handler(event: dict, context) -> dict:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)

    return handler
