"""The table's change stream, folded into each program's hour and day aggregates, its members' active days and
its rewards' redemption counts (chalicelib/insight/stream.py).

A record that fails is reported by its sequence number (ReportBatchItemFailures): Lambda retries the batch from
the first failed record, bisects a batch that keeps failing, and after MaximumRetryAttempts sends the batch's
shard and sequence numbers to AnalyticsDLQ. Records already counted on an earlier try count nothing again.
"""
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.core.observability import lambda_handler, logger
from chalicelib.insight import stream

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    counted = stream.apply(record.raw_event["eventName"], record.dynamodb.new_image, record.dynamodb.old_image)
    if counted is False:
        logger.info("stream record counted before", extra={"sequence_number": record.dynamodb.sequence_number})


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
