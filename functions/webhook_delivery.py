"""Webhook deliveries from SQS: one signed POST per message; a failure queues the next try with a delay,
the last one fails the delivery and keeps its message in the DLQ with the reason."""
import json

# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import queues, settings
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.webhooks import deliveries

processor = BatchProcessor(event_type=EventType.SQS)
FIELDS = {"org_id": str, "endpoint_id": str, "delivery_id": str, "try": int, "replay": int}


def _message(body: str) -> dict | None:
    """The message as `deliveries` sends it, or None."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or not all(isinstance(message.get(name), kind) for name, kind in FIELDS.items()):
        return None
    return message


def record_handler(record: SQSRecord) -> None:
    message = _message(record.body)
    if message is None:
        queues.dead_letter(record, settings.webhooks_dlq_url(), "not a webhook delivery message")
        return
    ids = {"delivery_id": message["delivery_id"], "endpoint_id": message["endpoint_id"], "try": message["try"]}
    try:
        result = deliveries.attempt(message, record.message_id)
    except Exception as error:
        # DynamoDB or SQS failing, not the receiver: let SQS redeliver; on the last receive, give up.
        if queues.receive_count(record) < settings.webhooks_max_receives():
            raise
        reason = f"could not be tried: {type(error).__name__}"
        deliveries.give_up(message, reason)
        queues.dead_letter(record, settings.webhooks_dlq_url(), reason)
        logger.warning("webhook delivery given up", extra={**ids, "reason": reason})
        return
    if result.status == "failed":
        queues.dead_letter(record, settings.webhooks_dlq_url(), result.reason or "failed")
    # Ids, status and reason only: never the body, the URL's query or the secret.
    logger.info("webhook delivery", extra={**ids, "status": result.status, "reason": result.reason})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
