"""Partner queue messages: check the HMAC signature over the exact body bytes, then the shape.

Every failure here is permanent (the same message can never succeed), so it carries the reason
that ends up in the DLQ's `error` attribute.
"""
import hashlib
import hmac
import json

from pydantic import ValidationError

from chalicelib.core import orgs
from chalicelib.earning.event_shapes import PartnerMessage

MAX_DEPTH = 32  # an event's properties are flat or nearly; deeper is an attack or a mistake


class Rejected(Exception):
    """The message can never succeed; `reason` says why (no secrets, no personal data)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sign(secret: str, body: bytes) -> str:
    """What a partner sends in the `signature` attribute: lowercase hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _depth(document) -> int:
    """How deeply lists and objects nest in a parsed document (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((child, depth + 1) for child in children)
    return deepest


def verify(body: str, attributes: dict[str, str], binary_attributes: tuple[str, ...] = ()) -> PartnerMessage:
    if binary_attributes:
        raise Rejected(f"message attribute {binary_attributes[0]} is Binary: partner messages take String "
                       "attributes only")
    raw = body.encode()
    try:
        document = json.loads(raw)
    except ValueError:
        raise Rejected("body is not JSON") from None
    except RecursionError:  # the parser's own limit: no retry can ever parse it
        raise Rejected("body is nested too deeply") from None
    if _depth(document) > MAX_DEPTH:
        raise Rejected(f"body is nested more than {MAX_DEPTH} levels deep")
    key_id, signature = attributes.get("key_id"), attributes.get("signature")
    if not key_id or not signature:
        raise Rejected("missing message attribute key_id or signature")
    org_id = document.get("org_id") if isinstance(document, dict) else None
    secret = orgs.partner_key_secret(org_id, key_id) if isinstance(org_id, str) and org_id else None
    if secret is None:
        raise Rejected("unknown, revoked or non-partner key_id for this org_id")
    if not hmac.compare_digest(sign(secret, raw), signature.strip().lower()):
        raise Rejected("bad signature")
    try:
        return PartnerMessage.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise Rejected(f"wrong shape: {field}: {first['msg']}") from None
