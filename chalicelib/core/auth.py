"""Who is calling: the root key, an organisation's API keys, or a member's session token.

Secrets are never stored. An API key's secret is `{org_id}.{key_id}.{token}`, where the token is
derived as HMAC(signing key, key id + salt): the table keeps only the secret's SHA-256 (checked on
every call) and the salt, so a stolen table reveals no secret, while the partner queue can still
re-derive a key's secret to verify the HMAC signature of a message. Webhook endpoints' signing
secrets are derived the same way (`derived_token`), so the table holds none of them either. Member sessions are
HMAC-signed and carry their expiry, so checking one costs no database read.
"""
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Optional

from chalicelib.core import clock, db, settings
from chalicelib.core.errors import Forbidden, NotFound, Unauthorized

KEY_CACHE_SECONDS = 30  # a revoked key answers 401 within 60 s, as the contract allows
ROLES = ("admin", "partner", "store", "analyst", "fulfilment", "auditor")  # fulfilment: a 3PL, shipping merchandise;
# auditor: reads the organisation and its audit trail, and nothing else (chalicelib/core/audit.py)


@dataclass(frozen=True)
class Principal:
    kind: str  # "root", "key" or "member"
    org_id: Optional[str] = None
    role: Optional[str] = None  # for keys
    key_id: Optional[str] = None
    program_id: Optional[str] = None  # for member sessions
    external_id: Optional[str] = None

    @property
    def grants(self) -> str:
        """The name the route tables use: root, a key's role, or member."""
        return {"root": "root", "member": "member"}.get(self.kind, self.role)

    @property
    def log_id(self) -> str:
        return self.key_id or self.kind

    @property
    def bucket(self) -> str:
        """Whose rate-limit bucket a call draws on: the key's, or one member's own sessions (never every
        member's at once: one member's flood would answer 429 to members of other organisations)."""
        if self.kind == "member":
            return f"member:{self.org_id}:{self.program_id}:{self.external_id}"
        return self.log_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(label: str, message: str) -> bytes:
    return hmac.new(settings.signing_key(), f"{label}:{message}".encode(), hashlib.sha256).digest()


def link_token(label: str, text: str) -> str:
    """`text` and its HMAC in one URL-safe token, for links Laurel hands out (checked without a read)."""
    body = _b64(text.encode())
    return f"{body}.{_b64(_mac(label, body))}"


def read_link_token(label: str, token: str) -> Optional[str]:
    """The text a link token carries, or None if this deployment did not sign it for `label`."""
    body, _, signature = token.partition(".")
    try:
        if hmac.compare_digest(_unb64(signature), _mac(label, body)):
            return _unb64(body).decode()
    except (ValueError, TypeError):  # not base64, not UTF-8 (UnicodeDecodeError is a ValueError)
        pass
    return None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- API keys ------------------------------------------------------------------------------

def new_salt() -> str:
    return secrets.token_hex(16)


def derived_token(purpose: str, owner_id: str, salt: str) -> str:
    """HMAC(signing key, purpose, owner id + salt): a secret nobody stores, re-derivable only by this deployment.

    `purpose` keeps the secrets of different uses apart (an API key's, a webhook endpoint's).
    """
    return _b64(_mac(purpose, f"{owner_id}:{salt}"))


def key_secret(org_id: str, key_id: str, salt: str) -> str:
    """The key's secret, re-derivable only with the deployment's signing key."""
    return f"{org_id}.{key_id}.{derived_token('api-key', key_id, salt)}"


class _KeyCache:
    """Recently checked keys, so a busy key costs no read on most calls (bounded, thread-safe)."""

    def __init__(self, size: int = 1024):
        self._items: dict[tuple[str, str], tuple[float, db.ApiKeyItem]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, org_id: str, key_id: str) -> Optional[db.ApiKeyItem]:
        now = time.monotonic()
        with self._lock:
            cached = self._items.get((org_id, key_id))
        if cached and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]
        item = db.get(db.ApiKeyItem, db.ApiKeyItem.key(org_id, key_id), consistent=False)
        if item is not None:
            with self._lock:
                if len(self._items) >= self._size:
                    self._items.clear()
                self._items[(org_id, key_id)] = (now, item)
        return item

    def forget(self, org_id: str, key_id: str) -> None:
        with self._lock:
            self._items.pop((org_id, key_id), None)


keys = _KeyCache()


def _api_key(secret: str) -> Principal:
    parts = secret.split(".")
    if len(parts) != 3:
        raise Unauthorized("The credential is malformed.")
    org_id, key_id, _ = parts
    item = keys.get(org_id, key_id)
    if item is None or not hmac.compare_digest(item.secret_hash, hash_secret(secret)):
        raise Unauthorized("The credential is not valid.")
    if item.revoked_at:
        raise Unauthorized("The credential has been revoked.")
    return Principal("key", org_id=org_id, role=item.role, key_id=key_id)


# --- member sessions -----------------------------------------------------------------------

SESSION_PREFIX = "mst"


def issue_session(org_id: str, program_id: str, external_id: str, ttl_seconds: int) -> tuple[str, str]:
    expires = int(time.time()) + ttl_seconds
    claims = {"o": org_id, "p": program_id, "m": external_id, "e": expires, "n": secrets.token_hex(8)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    token = f"{SESSION_PREFIX}.{body}.{_b64(_mac('session', body))}"
    return token, clock.iso(clock.from_epoch(expires))


def _session(token: str) -> Principal:
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("The session token is malformed.")
    _, body, signature = parts
    try:
        valid = hmac.compare_digest(_unb64(signature), _mac("session", body))
        claims = json.loads(_unb64(body)) if valid else None
    except (ValueError, TypeError):
        valid = False
    if not valid or not isinstance(claims, dict):
        raise Unauthorized("The session token is not valid.")
    if claims.get("e", 0) < time.time():
        raise Unauthorized("The session token has expired.")
    return Principal("member", org_id=claims["o"], program_id=claims["p"], external_id=claims["m"])


# --- every request -------------------------------------------------------------------------

def authenticate(header: Optional[str]) -> Principal:
    if not header or not header.startswith("Bearer ") or len(header) > 1024:
        raise Unauthorized("Send the credential as 'Authorization: Bearer <secret>'.")
    secret = header[len("Bearer "):].strip()
    expected_root = settings.root_key_hash()
    if expected_root and hmac.compare_digest(hash_secret(secret), expected_root):
        return Principal("root")
    if secret.startswith(SESSION_PREFIX + "."):
        return _session(secret)
    return _api_key(secret)


def require(principal: Principal, allowed: tuple[str, ...]) -> None:
    if principal.grants not in allowed:
        raise Forbidden(f"A {principal.grants} credential may not do this.")


def require_member_access(principal: Principal, program_id: str, external_id: str) -> None:
    """A member session reaches its own member only; any other answers 404, revealing nothing."""
    if principal.kind == "member" and (principal.program_id, principal.external_id) != (program_id, external_id):
        raise NotFound("No such member.")
