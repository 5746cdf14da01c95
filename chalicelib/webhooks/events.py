"""Emitting an event: what the domain calls when something an organisation may want to hear about happened.

    events.emit(org_id, program_id, "tier.changed", {"member": {"external_id": ..., "tier": ...}},
                event_key=f"{external_id}:{entry_id}", occurred_at=created_at)

`event_key` names the fact (not the call): emitting the same fact again, after a crash or a retry,
finds the deliveries it made and adds none, and the event keeps its id. `occurred_at` (ISO-8601)
is when the fact happened, read from what was stored, so it too is the same every time. Payloads
carry ids and statuses only: never a gift-card code, a payout detail, or anything personal beyond
the member's external id (`PRIVATE_FIELDS` are refused outright).
"""
import json

from chalicelib.core import clock, ids
from chalicelib.webhooks import KINDS, PING, deliveries, endpoints

PRIVATE_FIELDS = frozenset({"code", "codes", "fulfillment", "delivery", "email", "phone", "address", "attributes",
                            "secret", "account", "payout"})


def _refuse_private(value, where: str = "payload") -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name in PRIVATE_FIELDS:
                raise ValueError(f"{where}.{name}: webhook payloads carry no codes, payout or personal details")
            _refuse_private(item, f"{where}.{name}")
    elif isinstance(value, list):
        for item in value:
            _refuse_private(item, where)


def _event(org_id: str, program_id: str | None, kind: str, data: dict, event_key: str, occurred_at: str):
    """The event's id, its time in milliseconds and its body, all derived from the fact alone."""
    moment_ms = int(clock.parse(occurred_at).timestamp() * 1000)
    event_id = ids.derived_id("evt", moment_ms, f"{org_id}:{program_id}:{kind}:{event_key}")
    body = json.dumps({"id": event_id, "type": kind, "created_at": occurred_at, "org_id": org_id,
                       "program_id": program_id, "data": data}, separators=(",", ":"))
    return event_id, moment_ms, body


def emit(org_id: str, program_id: str, kind: str, data: dict, *, event_key: str, occurred_at: str) -> list[str]:
    """Queue one delivery per enabled endpoint that wants `kind` from this program; their ids."""
    if kind not in KINDS:
        raise ValueError(f"unknown webhook kind {kind}")
    _refuse_private(data)
    subscribed = endpoints.subscribed(org_id, program_id, kind)
    if not subscribed:
        return []
    event_id, moment_ms, body = _event(org_id, program_id, kind, data, event_key, occurred_at)
    made = [deliveries.new(endpoint, event_id, moment_ms, kind, body) for endpoint in subscribed]
    deliveries.enqueue([delivery for delivery in made if deliveries.save_new(delivery)])
    return [delivery.delivery_id for delivery in made]


def ping(org_id: str, endpoint_id: str) -> dict:
    """A `webhook.ping` to one endpoint, whatever its kinds: an admin's test of the receiver."""
    endpoint = endpoints.load(org_id, endpoint_id)
    now_iso = clock.iso(clock.now())
    event_id, moment_ms, body = _event(org_id, None, PING, {"endpoint_id": endpoint_id}, ids.new_id("png"), now_iso)
    delivery = deliveries.new(endpoint, event_id, moment_ms, PING, body)
    deliveries.save_new(delivery)
    deliveries.enqueue([delivery])
    return deliveries.view(delivery)
