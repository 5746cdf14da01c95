"""Webhook deliveries: one item per event and endpoint, tried until the receiver answers 2xx.

A delivery is `pending` (queued, not tried yet in this round), `retrying` (it failed, the next try
waits in the queue), then `delivered` or `failed` (after ATTEMPTS tries). A replay starts a new
round of the same delivery: same delivery id, event id and body, so a receiver can dedupe it.

Each try is first claimed by a conditional update naming the SQS message that makes it. Another
message for the same try (an event emitted again, SQS delivering twice) finds the try taken and
sends nothing; the same message coming back after a crash may make its try again. A retry is a
new message with DelaySeconds, so the wait is spent in the queue, not in a Lambda.
"""
import json
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.core import aws, clock, db, ids, pagination, settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import save_if, update_if
from chalicelib.webhooks import endpoints, signing, transport

ATTEMPTS = 8  # per round; with the backoff below the last comes about 45 minutes after the first
FIRST_BACKOFF_SECONDS = 30
MAX_DELAY_SECONDS = 900  # the longest DelaySeconds SQS allows
ACTIVE, FINAL = ("pending", "retrying"), ("delivered", "failed")
STUCK_AFTER = timedelta(hours=1)  # longer than any wait between two tries: the round's message was lost
KEEP = timedelta(days=30)
Delivery = db.WebhookDeliveryItem


def backoff_seconds(tries: int) -> int:
    """How long the next try waits after `tries` failed ones: 30 s, doubling, at most 15 minutes."""
    delay = FIRST_BACKOFF_SECONDS * 2 ** (tries - 1) * settings.webhooks_backoff_scale()
    return min(MAX_DELAY_SECONDS, round(delay))


def view(delivery: Delivery) -> dict:
    return {"id": delivery.delivery_id, "event_id": delivery.event_id, "endpoint_id": delivery.endpoint_id,
            "kind": delivery.kind, "status": delivery.status, "attempts": int(delivery.attempts),
            "last_status_code": None if delivery.last_status_code is None else int(delivery.last_status_code),
            "last_error": delivery.last_error, "next_attempt_at": delivery.next_attempt_at,
            "delivered_at": delivery.delivered_at, "created_at": delivery.created_at,
            "updated_at": delivery.updated_at, "event": json.loads(delivery.body)}


# --- made by events.emit ----------------------------------------------------------------------

def new(endpoint: db.WebhookEndpointItem, event_id: str, moment_ms: int, kind: str, body: str) -> Delivery:
    """The delivery of an event to an endpoint; its id comes from both, so emitting again finds it."""
    delivery_id = ids.derived_id("whd", moment_ms, f"{event_id}:{endpoint.endpoint_id}")
    now = clock.now()
    return Delivery(*Delivery.key(endpoint.endpoint_id, delivery_id), delivery_id=delivery_id, event_id=event_id,
                    endpoint_id=endpoint.endpoint_id, org_id=endpoint.org_id, kind=kind, body=body,
                    status="pending", created_at=clock.iso(now), updated_at=clock.iso(now), ttl=now + KEEP)


def save_new(delivery: Delivery) -> bool:
    """Write a new delivery; True if it must be sent (new, or written before but never sent)."""
    if save_if(delivery, Delivery.pk.does_not_exist()):
        return True
    stored = db.get(Delivery, (delivery.pk, delivery.sk))
    # A crash between the write and the send: send it now (a second message for the same try sends nothing).
    return stored is not None and stored.status == "pending" and stored.tries == 0 and stored.replays == 0


def _message(delivery: Delivery, attempt: int, replay: int) -> str:
    return json.dumps({"org_id": delivery.org_id, "endpoint_id": delivery.endpoint_id,
                       "delivery_id": delivery.delivery_id, "try": attempt, "replay": replay})


def enqueue(deliveries: list[Delivery]) -> None:
    """One message per delivery, for its first try."""
    for start in range(0, len(deliveries), 10):
        entries = [{"Id": str(number), "MessageBody": _message(delivery, 1, int(delivery.replays))}
                   for number, delivery in enumerate(deliveries[start:start + 10])]
        failed = aws.client("sqs").send_message_batch(QueueUrl=settings.webhooks_queue_url(),
                                                      Entries=entries).get("Failed")
        if failed:
            raise RuntimeError(f"{len(failed)} webhook message(s) were not queued")


# --- the API ----------------------------------------------------------------------------------

def load(org_id: str, endpoint_id: str, delivery_id: str) -> Delivery:
    endpoints.load(org_id, endpoint_id)
    delivery = db.get(Delivery, Delivery.key(endpoint_id, delivery_id)) if ids.is_id(delivery_id, "whd") else None
    if delivery is None or delivery.org_id != org_id:
        raise NotFound("No such delivery.")
    return delivery


def list_(org_id: str, endpoint_id: str, query: dict) -> dict:
    """An endpoint's deliveries, newest first."""
    endpoints.load(org_id, endpoint_id)
    return pagination.query_page(Delivery, f"WHE#{endpoint_id}", "WHD#", query, f"webhook-deliveries:{endpoint_id}",
                                 view, scan_index_forward=False)


def get(org_id: str, endpoint_id: str, delivery_id: str) -> dict:
    return view(load(org_id, endpoint_id, delivery_id))


def replay(org_id: str, endpoint_id: str, delivery_id: str) -> dict:
    """Send a delivered or failed delivery again, as a new round (or one whose round was lost)."""
    delivery = load(org_id, endpoint_id, delivery_id)
    stuck = clock.iso(clock.now() - STUCK_AFTER)
    if delivery.status not in FINAL and delivery.updated_at >= stuck:
        raise Conflict("This delivery is still being tried; replay it once it is delivered or failed.",
                       {"status": delivery.status})
    now = clock.now()
    if not update_if(delivery, [Delivery.status.set("pending"), Delivery.tries.set(0), Delivery.replays.add(1),
                                Delivery.claim.remove(), Delivery.next_attempt_at.remove(),
                                Delivery.updated_at.set(clock.iso(now)), Delivery.ttl.set(now + KEEP)],
                     (Delivery.replays == delivery.replays) & (Delivery.status == delivery.status)):
        raise Conflict("This delivery was replayed or tried meanwhile; look at it again.")
    enqueue([delivery])
    return view(delivery)


# --- the delivery function --------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    status: str  # delivered, retrying, failed, or skipped (nothing to do)
    reason: str | None = None


def attempt(message: dict, message_id: str) -> Result:
    """Make the try `message` asks for, record it, and queue the next one if it failed."""
    delivery = db.get(Delivery, Delivery.key(message["endpoint_id"], message["delivery_id"]))
    endpoint = db.get(db.WebhookEndpointItem, db.WebhookEndpointItem.key(message["org_id"], message["endpoint_id"]))
    if delivery is None or endpoint is None:
        return Result("skipped", "the endpoint or the delivery is gone")
    if not endpoint.enabled:
        _settle(delivery, "failed", transport.Outcome(None, "the endpoint is disabled"), _in_round(message))
        return Result("skipped", "the endpoint is disabled")
    if not _claim(delivery, message, message_id):
        return Result("skipped", "another message made this try")
    body = delivery.body.encode()
    timestamp = int(clock.now().timestamp())
    outcome = transport.post(endpoint.url, body, {
        signing.SIGNATURE_HEADER: signing.header(endpoints.signing_secrets(endpoint), timestamp, body),
        signing.EVENT_ID_HEADER: delivery.event_id, signing.DELIVERY_ID_HEADER: delivery.delivery_id})
    tries, mine = int(message["try"]), Delivery.claim == message_id
    if outcome.delivered:
        return Result("delivered") if _settle(delivery, "delivered", outcome, mine) else Result("skipped")
    if tries >= ATTEMPTS:
        settled = _settle(delivery, "failed", outcome, mine)
        return Result("failed", f"gave up after {tries} tries: {outcome.error}") if settled else Result("skipped")
    delay = backoff_seconds(tries)
    if not _settle(delivery, "retrying", outcome, mine, clock.iso(clock.now() + timedelta(seconds=delay))):
        return Result("skipped")
    aws.client("sqs").send_message(QueueUrl=settings.webhooks_queue_url(), DelaySeconds=delay,
                                   MessageBody=_message(delivery, tries + 1, int(message["replay"])))
    return Result("retrying", outcome.error)


def give_up(message: dict, reason: str) -> None:
    """The try could not even be made, on any receive of its message: the delivery failed (replayable)."""
    delivery = db.get(Delivery, Delivery.key(message["endpoint_id"], message["delivery_id"]))
    if delivery is not None:
        _settle(delivery, "failed", transport.Outcome(None, reason), _in_round(message))


def _in_round(message: dict):
    """The condition that the delivery is still in the round `message` belongs to."""
    return (Delivery.replays == int(message["replay"])) & Delivery.status.is_in(*ACTIVE)


def _claim(delivery: Delivery, message: dict, message_id: str) -> bool:
    """Take this try for this message: False if another message made it, or the round moved on."""
    tries = int(message["try"])
    return update_if(
        delivery, [Delivery.tries.set(tries), Delivery.claim.set(message_id), Delivery.attempts.add(1),
                   Delivery.updated_at.set(clock.iso(clock.now()))],
        _in_round(message) & ((Delivery.tries == tries - 1) | (Delivery.claim == message_id)))


def _settle(delivery: Delivery, status: str, outcome: transport.Outcome, condition,
            next_attempt_at: str | None = None) -> bool:
    """Record how a try went, if `condition` still holds (False: another message or a replay moved on)."""
    now_iso = clock.iso(clock.now())
    actions = [Delivery.status.set(status), Delivery.updated_at.set(now_iso),
               Delivery.last_status_code.set(outcome.status) if outcome.status is not None
               else Delivery.last_status_code.remove(),
               Delivery.last_error.set(outcome.error) if outcome.error else Delivery.last_error.remove(),
               Delivery.next_attempt_at.set(next_attempt_at) if next_attempt_at else Delivery.next_attempt_at.remove()]
    if status == "delivered":
        actions.append(Delivery.delivered_at.set(now_iso))
    return update_if(delivery, actions, condition)
