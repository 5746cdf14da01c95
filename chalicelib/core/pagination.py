"""List pages: `limit` and an opaque, signed `cursor`, so a client can neither forge nor widen a page, and the
filters a read may take: `true`/`false`, and a day."""
import base64
import hashlib
import hmac
import json
import re
from datetime import date
from typing import Any, Iterable, Optional

from chalicelib.core import settings
from chalicelib.core.errors import ValidationFailed

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
LIMIT = re.compile(r"[0-9]{1,3}")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses


def limit_from(query: Optional[dict]) -> int:
    raw = (query or {}).get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be an integer from 1 to {MAX_LIMIT}.", {"field": "limit"})
    return int(raw)


def _sign(payload: str, scope: str) -> str:
    message = f"cursor:{scope}:{payload}".encode()
    return hmac.new(settings.signing_key(), message, hashlib.sha256).hexdigest()[:32]


def encode(last_key: Optional[dict], scope: str) -> Optional[str]:
    """`scope` names the list, so a cursor of one list is refused by every other."""
    if not last_key:
        return None
    payload = base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(payload, scope)}"


def decode(query: Optional[dict], scope: str) -> Optional[dict]:
    cursor = (query or {}).get("cursor")
    if not cursor:
        return None
    payload, _, signature = cursor.partition(".")
    if not cursor.isascii() or not hmac.compare_digest(signature, _sign(payload, scope)):
        raise ValidationFailed("cursor is not one this API gave out.", {"field": "cursor"})
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def page(results: Iterable[Any], view, scope: str) -> dict:
    """Drain a pynamodb result iterator into the contract's list shape."""
    items = [view(item) for item in results]
    return {"items": items, "next_cursor": encode(getattr(results, "last_evaluated_key", None), scope)}


def query_page(model, partition: str, sort_prefix: str, query: dict, scope: str, view, **conditions) -> dict:
    """One page of a partition's items whose sort key starts with `sort_prefix`."""
    results = model.query(partition, model.sk.startswith(sort_prefix), limit=limit_from(query),
                          last_evaluated_key=decode(query, scope), **conditions)
    return page(results, view, scope)


FLAGS = {"true": True, "false": False}  # what a true/false filter of a list takes (`?eligible=true`)


def flag(query: dict, name: str) -> Optional[bool]:
    """A true/false filter of the query: None when absent, 400 for any other word."""
    raw = query.get(name)
    if raw is not None and raw not in FLAGS:
        raise ValidationFailed(f"{name} must be true or false.", {"field": name})
    return FLAGS.get(raw)


def day(query: dict, name: str, default: date) -> date:
    """A YYYY-MM-DD filter of the query (`default` when absent), 400 for anything else."""
    text = query.get(name)
    if text is None:
        return default
    try:
        if DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValidationFailed(f"{name} is a day, YYYY-MM-DD.", {"field": name})
