"""Webhook endpoints: where an organisation wants events sent, which kinds, and the secret that signs them.

The secret is `whsec_` + HMAC(signing key, endpoint id + salt), derived as API-key secrets are
(`auth.derived_token`): shown once at creation and at each rotation, never stored. A rotation keeps
the previous salt for a day, and deliveries are signed with both meanwhile, so a receiver can swap
secrets without missing an event.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from chalicelib.core import auth, clock, db, ids, pagination
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.transact import update_if
from chalicelib.webhooks import transport

MAX_ENDPOINTS = 16  # per organisation: bounds the writes and messages of one event
PREVIOUS_SECRET_LASTS = timedelta(hours=24)
SECRET_PREFIX = "whsec_"  # what a secret starts with, not one  # nosec B105
REQUIRED_FIELDS = ("url", "kinds", "enabled")


def secret(endpoint_id: str, salt: str) -> str:
    return SECRET_PREFIX + auth.derived_token("webhook", endpoint_id, salt)


def signing_secrets(endpoint: db.WebhookEndpointItem) -> list[str]:
    """The current secret, and the previous one while it is still honoured."""
    secrets = [secret(endpoint.endpoint_id, endpoint.salt)]
    if endpoint.previous_salt and endpoint.previous_salt_expires_at > clock.iso(clock.now()):
        secrets.append(secret(endpoint.endpoint_id, endpoint.previous_salt))
    return secrets


def view(endpoint: db.WebhookEndpointItem) -> dict:
    return {"id": endpoint.endpoint_id, "url": endpoint.url, "kinds": endpoint.kinds,
            "program_id": endpoint.program_id, "description": endpoint.description, "enabled": endpoint.enabled,
            "created_at": endpoint.created_at, "updated_at": endpoint.updated_at}


def load(org_id: str, endpoint_id: str) -> db.WebhookEndpointItem:
    endpoint = db.get(db.WebhookEndpointItem, db.WebhookEndpointItem.key(org_id, endpoint_id)) \
        if ids.is_id(endpoint_id, "whe") else None
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def _checked(org_id: str, fields: dict) -> dict:
    """The fields, once the URL may be called and the program is the organisation's."""
    if "url" in fields:
        try:
            transport.check_url(fields["url"])
        except transport.Refused as refused:
            raise ValidationFailed(f"url: {refused}", {"field": "url"}) from None
    if "kinds" in fields:
        fields["kinds"] = list(dict.fromkeys(fields["kinds"]))
    program_id = fields.get("program_id")
    if program_id is not None and db.get(db.ProgramItem, db.ProgramItem.key(org_id, program_id)) is None:
        raise NotFound("No such program.")  # as members.programs.load answers; webhooks sit below members
    return fields


def create(org_id: str, fields: dict) -> dict:
    fields = _checked(org_id, fields)
    if db.WebhookEndpointItem.count(f"ORG#{org_id}", db.WebhookEndpointItem.sk.startswith("WHE#")) >= MAX_ENDPOINTS:
        raise Conflict(f"An organisation has at most {MAX_ENDPOINTS} webhook endpoints; delete one first.",
                       {"limit": MAX_ENDPOINTS})
    now_iso = clock.iso(clock.now())
    endpoint_id, salt = ids.new_id("whe"), auth.new_salt()
    endpoint = db.WebhookEndpointItem(*db.WebhookEndpointItem.key(org_id, endpoint_id), org_id=org_id,
                                      endpoint_id=endpoint_id, salt=salt, created_at=now_iso, updated_at=now_iso,
                                      **fields)
    endpoint.save(condition=db.WebhookEndpointItem.pk.does_not_exist())
    return {**view(endpoint), "secret": secret(endpoint_id, salt)}


def list_(org_id: str, query: dict) -> dict:
    return pagination.query_page(db.WebhookEndpointItem, f"ORG#{org_id}", "WHE#", query, f"webhooks:{org_id}", view)


def get(org_id: str, endpoint_id: str) -> dict:
    return view(load(org_id, endpoint_id))


def _update(endpoint: db.WebhookEndpointItem, actions: list) -> None:
    """Apply `actions` to an endpoint that still exists (a concurrent delete wins: 404)."""
    actions.append(db.WebhookEndpointItem.updated_at.set(clock.iso(clock.now())))
    if not update_if(endpoint, actions, db.WebhookEndpointItem.pk.exists()):
        raise NotFound("No such webhook endpoint.")


def update(org_id: str, endpoint_id: str, changes: dict) -> dict:
    """Set only the fields given; `program_id` or `description` null clears them."""
    endpoint = load(org_id, endpoint_id)
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.", {"field": name})
    changes = _checked(org_id, changes)
    _update(endpoint, [getattr(db.WebhookEndpointItem, name).set(value) if value is not None
                       else getattr(db.WebhookEndpointItem, name).remove() for name, value in changes.items()])
    return view(endpoint)


def delete(org_id: str, endpoint_id: str) -> None:
    """Its deliveries are no longer sent, listed or replayed; they expire with their TTL."""
    load(org_id, endpoint_id).delete()


def rotate_secret(org_id: str, endpoint_id: str) -> dict:
    """A new secret, shown once; the previous one keeps signing for PREVIOUS_SECRET_LASTS."""
    endpoint = load(org_id, endpoint_id)
    salt, expires_at = auth.new_salt(), clock.iso(clock.now() + PREVIOUS_SECRET_LASTS)
    _update(endpoint, [db.WebhookEndpointItem.salt.set(salt),
                       db.WebhookEndpointItem.previous_salt.set(endpoint.salt),
                       db.WebhookEndpointItem.previous_salt_expires_at.set(expires_at)])
    return {"id": endpoint_id, "secret": secret(endpoint_id, salt), "previous_secret_expires_at": expires_at}


_remembered: ContextVar[dict | None] = ContextVar("webhook_endpoints_remembered", default=None)


@contextmanager
def remembered() -> Iterator[None]:
    """Within this block (one batch job's run), read each organisation's endpoints once, not per event."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _of_org(org_id: str) -> list[db.WebhookEndpointItem]:
    memo = _remembered.get()
    if memo is not None and org_id in memo:
        return memo[org_id]
    found = list(db.WebhookEndpointItem.query(f"ORG#{org_id}", db.WebhookEndpointItem.sk.startswith("WHE#")))
    if memo is not None:
        memo[org_id] = found
    return found


def subscribed(org_id: str, program_id: str | None, kind: str) -> list[db.WebhookEndpointItem]:
    """The organisation's enabled endpoints that want this kind of event from this program."""
    return [endpoint for endpoint in _of_org(org_id)
            if endpoint.enabled and kind in endpoint.kinds and endpoint.program_id in (None, program_id)]
