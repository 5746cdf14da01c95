"""Telling members: what happened is published once to SNS; per-channel queues deliver it.

The message names ids only (no address, no code), so nothing personal travels through SNS/SQS
or their DLQs; the delivery functions look the details up when they send.
"""
import json

from chalicelib import aws, db, settings


def channels_of(member: db.MemberItem, delivery: dict | None) -> list[str]:
    """Every channel the member can be reached on, the redemption's own delivery details first."""
    delivery = delivery or {}
    reachable = (("email", delivery.get("email") or member.email), ("sms", delivery.get("phone") or member.phone))
    return [channel for channel, address in reachable if address]


def publish(kind: str, channels: list[str], payload: dict) -> None:
    """One SNS message; subscriptions filter on the `channels` attribute to reach each channel's queue."""
    if not channels:
        return
    aws.client("sns").publish(
        TopicArn=settings.notifications_topic_arn(),
        Message=json.dumps({"kind": kind, **payload}),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": kind},
                           "channels": {"DataType": "String.Array", "StringValue": json.dumps(channels)}})


def reward_delivered(redemption: db.RedemptionItem, member: db.MemberItem) -> list[str]:
    channels = channels_of(member, redemption.delivery)
    publish("reward_delivered", channels, {
        "org_id": redemption.org_id, "program_id": redemption.program_id,
        "external_id": redemption.external_id, "redemption_id": redemption.redemption_id})
    return channels
