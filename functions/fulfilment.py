"""Fulfilment from SQS: assign codes or mark delivered, tell the member; on the last try, refund and tell."""
import json

# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import queues, settings
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.rewards import fulfilment

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    redemption_id = json.loads(record.body)["redemption_id"]
    try:
        status = fulfilment.fulfil(redemption_id)
    except NotFound:
        logger.warning("fulfilment for an unknown redemption dropped", extra={"redemption_id": redemption_id})
        return
    except Exception as error:
        if queues.receive_count(record) < settings.fulfilment_max_receives():
            raise
        refunded = fulfilment.give_up(redemption_id, error)
        logger.warning("fulfilment failed for good", extra={"redemption_id": redemption_id, "refunded": refunded,
                                                            "error": type(error).__name__})
        if fulfilment.untold(redemption_id):
            # Refunded now, or fulfilled but telling the member kept failing: tell it; if that fails too,
            # the raise lets the queue keep the message in its DLQ, from where a redrive tells it.
            fulfilment.tell(redemption_id)
        return
    logger.info("fulfilment", extra={"redemption_id": redemption_id, "status": status})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
