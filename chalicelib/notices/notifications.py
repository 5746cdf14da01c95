"""Telling members: what happened is published once to SNS; per-channel queues deliver it.

`publish(kind, channels, payload)` is the one way to send a member anything. The message names
ids and figures only (no address, no code), so nothing personal travels through SNS/SQS or their
DLQs; the delivery functions look the details up when they send (messaging/sending.py), and send each
message once per member, subject and channel however often it is published.

Every payload carries the member, `org_id`, `program_id` and `external_id`, and per kind
(message_kinds.py is the definition; `publish` refuses a payload that lacks a field):

| kind | payload | the message is about (sent once per) |
|---|---|---|
| `welcome` | nothing more | the member |
| `points_earned` | `txn_id`, `points`, `balance` (available after the earn) | the transaction |
| `reward_delivered` | `redemption_id` | the redemption |
| `redemption_status` | `redemption_id`, `status` (`failed`, `cancelled`, `fulfilled`) | the redemption and status |
| `donation_receipt` | `redemption_id`, `charity` (its name), `points` (donated) | the redemption |
| `tier_up`, `tier_down` | `tier` (the new tier's name, or null below every tier), `day` (YYYY-MM-DD of the change), optionally `previous_tier` | the tier and day |
| `points_expiring` | `day` (YYYY-MM-DD), `points` | the day |
| `campaign_announcement` | `broadcast_id` (broadcasts.py publishes it) | the broadcast |
"""
import json
from typing import Callable

from chalicelib.core import aws, db, settings
from chalicelib.notices import message_kinds

# The message that tells a member its redemption was fulfilled, as the reward's kind words it: the message kind and
# what its payload adds (the rewards side knows the kinds; a donation's is its receipt).
Delivered = Callable[[db.RedemptionItem], tuple[str, dict]]


def channels_of(member: db.MemberItem, delivery: dict | None) -> list[str]:
    """Every channel the member can be reached on, the redemption's own delivery details first."""
    delivery, profile = delivery or {}, db.profile_of(member)
    reachable = (("email", delivery.get("email") or profile.email), ("sms", delivery.get("phone") or profile.phone))
    return [channel for channel, address in reachable if address]


def publish(kind: str, channels: list[str], payload: dict) -> None:
    """One SNS message; subscriptions filter on the `channels` attribute to reach each channel's queue."""
    spec = message_kinds.KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown message kind {kind!r}")
    missing = message_kinds.missing_fields(spec, payload)
    if missing:
        raise ValueError(f"a {kind} payload needs {', '.join(missing)}")
    if not channels:
        return
    aws.client("sns").publish(
        TopicArn=settings.notifications_topic_arn(),
        Message=json.dumps({"kind": kind, **payload}),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": kind},
                           "channels": {"DataType": "String.Array", "StringValue": json.dumps(channels)}})


def redemption_outcome(redemption: db.RedemptionItem, member: db.MemberItem, delivered: Delivered) -> list[str]:
    """Tell the member its redemption reached a final status: the reward (as `delivered` words it), or that it
    failed and was refunded."""
    channels = channels_of(member, redemption.delivery)
    payload = {"org_id": redemption.org_id, "program_id": redemption.program_id,
               "external_id": redemption.external_id, "redemption_id": redemption.redemption_id}
    if redemption.status == "fulfilled":
        kind, details = delivered(redemption)
        publish(kind, channels, {**payload, **details})
    else:
        publish("redemption_status", channels, {**payload, "status": redemption.status})
    return channels
