"""Member import from the imports queue: S3 notifications of dropped files, and continuations.

One message is one file (batch size 1): it runs until the file is imported or the invocation's
time runs low, then continues in a new message (chalicelib/members/imports/runs.py).
"""
# Imported before pydantic on purpose: see functions/partner_events.py.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import aws, queues, settings
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.members.imports import queue_messages

processor = BatchProcessor(event_type=EventType.SQS)
# The queue's visibility timeout outlasts six 900 s invocations; a message that failed on something
# transient comes back after this instead (the import resumes from its checkpoint).
RETRY_SECONDS = 60


def record_handler(record: SQSRecord, lambda_context) -> None:
    try:
        queue_messages.handle_message(record.body, record.message_id, lambda_context.get_remaining_time_in_millis)
    except queue_messages.Unreadable as unreadable:
        # It can never succeed: keep it in the DLQ with the reason rather than retry it.
        logger.warning("import message rejected", extra={"message_id": record.message_id, "reason": str(unreadable)})
        queues.dead_letter(record, settings.imports_dlq_url(), str(unreadable))
    except Exception:
        try:
            aws.client("sqs").change_message_visibility(QueueUrl=settings.imports_queue_url(),
                                                        ReceiptHandle=record.receipt_handle,
                                                        VisibilityTimeout=RETRY_SECONDS)
        except Exception:  # noqa: BLE001 - then it comes back after the queue's own timeout
            logger.warning("could not shorten the retry delay", extra={"message_id": record.message_id})
        raise


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
