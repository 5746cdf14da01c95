"""Tier review from TierReviewQueue: one message is one index partition or one sweep segment (of a tier
review, or of the one-off layout migration of chalicelib/members/migration.py).

Batch size 1, so each invocation has its whole time for its segment; what is left when the time runs
low continues in a new message (chalicelib/members/tier_review.py).
"""
# Imported before pydantic on purpose: see functions/partner_events.py.
import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import aws, settings
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.members import migration, tier_review

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context) -> None:
    body = json.loads(record.body)
    work, name = (migration.run, "layout migration") if "migrate" in body else (tier_review.run, "tier review")
    counts, rest = work(body, lambda_context.get_remaining_time_in_millis)
    if rest:
        aws.client("sqs").send_message(QueueUrl=settings.tier_review_queue_url(), MessageBody=json.dumps(rest))
    logger.info(name, extra={**counts, "continued": bool(rest)})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
