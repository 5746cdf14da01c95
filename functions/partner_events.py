"""Partner events from SQS: verified, credited exactly once, poison messages kept in the DLQ with a reason."""
# Powertools' batch module builds its pydantic parser models only if pydantic is already imported;
# importing it first skips ~90 ms of models this handler never uses.
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core import orgs, queues, settings
from chalicelib.core.errors import LaurelError
from chalicelib.core.observability import lambda_handler, logger
from chalicelib.earning import earn
from chalicelib.earning.partner_messages import Rejected, verify

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        attributes = queues.string_attributes(record)
        message = verify(record.body, attributes, tuple(queues.binary_attribute_names(record)))
        if orgs.key_program(message.org_id, attributes["key_id"]) not in (None, message.program_id):
            raise Rejected("key_id is scoped to another program")
        event = message.event.model_dump(mode="json", exclude_none=True)
        _, replayed = earn.record_event(message.org_id, message.program_id, event)
        logger.info("partner event", extra={"message_id": record.message_id, "replayed": replayed})
    except Rejected as rejected:
        _reject(record, rejected.reason)
    except LaurelError as error:
        if error.permanent:
            _reject(record, f"{error.code}: {error.message}")
        else:
            _retry_or_give_up(record, f"{error.code}: {error.message}")
    except Exception as error:  # noqa: BLE001 - throttling, timeouts: worth another try
        _retry_or_give_up(record, f"transient: {type(error).__name__}")


def _reject(record: SQSRecord, reason: str) -> None:
    logger.warning("partner event rejected", extra={"message_id": record.message_id, "reason": reason})
    queues.dead_letter(record, settings.partner_events_dlq_url(), reason)


def _retry_or_give_up(record: SQSRecord, reason: str) -> None:
    """Raise for SQS to redeliver; on the last delivery keep the message in the DLQ with the reason."""
    if queues.receive_count(record) >= settings.partner_events_max_receives():
        _reject(record, f"gave up after {queues.receive_count(record)} tries: {reason}")
        return
    raise RuntimeError(reason)


@lambda_handler
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
