"""SQS helpers the queue consumers share: delivery counts and dead-lettering with a reason."""
import base64

from chalicelib.core import aws


def receive_count(record) -> int:
    return int(record.attributes.approximate_receive_count or 1)


def string_attributes(record) -> dict[str, str]:
    """The message's String attributes (a Binary one has no `stringValue`: it is left out, never a KeyError)."""
    return {name: value.get("stringValue") for name, value in (record.message_attributes or {}).items()
            if value.get("stringValue") is not None}


def binary_attribute_names(record) -> list[str]:
    return sorted(name for name, value in (record.message_attributes or {}).items()
                  if value.get("binaryValue") is not None)


def dead_letter(record, dlq_url: str, reason: str) -> None:
    """Keep the message, byte for byte, in the DLQ with why it failed in its `error` attribute."""
    attributes = {name: {"DataType": "String", "StringValue": value}
                  for name, value in string_attributes(record).items() if name != "error"}
    attributes.update({name: {"DataType": "Binary", "BinaryValue": base64.b64decode(
        record.message_attributes[name]["binaryValue"])} for name in binary_attribute_names(record) if name != "error"})
    attributes["error"] = {"DataType": "String", "StringValue": reason[:1000]}
    aws.client("sqs").send_message(QueueUrl=dlq_url, MessageBody=record.body, MessageAttributes=attributes)
