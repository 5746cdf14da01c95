"""Who is calling: the root key, an organisation's API keys, or a member's session token.

Secrets are never stored. An API key's secret is `{org_id}.{key_id}.{token}`, where the token is
derived as HMAC(signing key, key id + salt): the table keeps only the secret's SHA-256 (checked on
every call) and the salt, so a stolen table reveals no secret, while the partner queue can still
re-derive a key's secret to verify the HMAC signature of a message. Webhook endpoints' signing
secrets are derived the same way (`derived_token`), so the table holds none of them either. Member sessions are
HMAC-signed and carry their expiry and issue time; a member's sessions are revoked all at once by a
revocation time (`SessionRevocationItem`), read at most once per member per KEY_CACHE_SECONDS per instance.

A key may be scoped to one program (it reaches that program's routes and the organisation's own page, and
answers 404 everywhere else), expire, and be limited to source addresses (CIDRs). Signatures are compared as
the canonical text this deployment makes, never decoded first: base64 has several spellings of one byte string,
and a token must have exactly one.
"""
import base64
import hashlib
import hmac
import ipaddress
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
    program_id: Optional[str] = None  # a member session's program, or the one program a key is scoped to
    external_id: Optional[str] = None
    issued_ms: int = 0  # when a member session was made (0: before sessions said so)

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


def _signed(label: str, body: str, signature: str) -> bool:
    """Whether `signature` is exactly the text this deployment signs `body` with (one spelling only)."""
    return signature.isascii() and hmac.compare_digest(signature.encode(), _b64(_mac(label, body)).encode())


LINK_TTL_SECONDS = 90 * 86400  # an email's links work for 90 days (the law asks 30 for an unsubscribe link)


def link_token(label: str, text: str, ttl_seconds: int = LINK_TTL_SECONDS) -> str:
    """`text` and its expiry, and their HMAC, in one URL-safe token (`body.signature`), for links Laurel hands out
    (checked without a read)."""
    body = _b64(f"{text}\n{int(time.time()) + ttl_seconds}".encode())
    return f"{body}.{_b64(_mac(label + ':expiring', body))}"


def read_link_token(label: str, token: str) -> Optional[str]:
    """The text a link token carries, or None if this deployment did not sign it for `label` or it has expired.

    A link made before links expired (signed for `label` alone) has no date to expire by: it is still read."""
    body, _, signature = token.partition(".")
    expiring = _signed(label + ":expiring", body, signature)
    if not expiring and not _signed(label, body, signature):
        return None
    try:
        text = _unb64(body).decode()
        if expiring:
            text, _, expires = text.rpartition("\n")
            if int(expires) < time.time():
                return None
        return text
    except (ValueError, TypeError):  # not base64, not UTF-8 (UnicodeDecodeError is a ValueError)
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


class _Cache:
    """Items recently read by key, so a busy credential costs no read on most calls (bounded, thread-safe).

    A key that is not there is remembered too, apart from those that are: an unknown key id then costs what a
    known key with a wrong secret costs (one read per KEY_CACHE_SECONDS, then none), so the time an answer
    takes does not tell which ids exist, and a flood of made-up ids cannot push the real keys out."""

    def __init__(self, read, size: int = 1024):
        self._read = read
        self._found: dict[tuple, tuple[float, object]] = {}
        self._missing: dict[tuple, tuple[float, None]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, *key: str):
        now = time.monotonic()
        with self._lock:
            cached = self._found.get(key) or self._missing.get(key)
        if cached and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]
        item = self._read(*key)
        with self._lock:
            kept = self._found if item is not None else self._missing
            if len(kept) >= self._size:
                kept.clear()
            kept[key] = (now, item)
            (self._missing if item is not None else self._found).pop(key, None)
        return item

    def forget(self, *key: str) -> None:
        with self._lock:
            self._found.pop(key, None)
            self._missing.pop(key, None)


keys = _Cache(lambda org_id, key_id: db.get(db.ApiKeyItem, db.ApiKeyItem.key(org_id, key_id), consistent=False))
UNKNOWN_KEY_HASH = hash_secret(secrets.token_hex(32))  # what an unknown key's secret is compared with


def source_address(context: Optional[dict]) -> Optional[str]:
    """The caller's address as API Gateway saw it (the request context's identity.sourceIp)."""
    return ((context or {}).get("identity") or {}).get("sourceIp")


def _allowed_from(allowed_sources: Optional[list[str]], source: Optional[str]) -> bool:
    if not allowed_sources:
        return True
    try:
        address = ipaddress.ip_address(source or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed_sources)


def _api_key(secret: str, source: Optional[str]) -> Principal:
    parts = secret.split(".")
    if len(parts) != 3:
        raise Unauthorized("The credential is malformed.")
    org_id, key_id, _ = parts
    item = keys.get(org_id, key_id)
    # the same hash and comparison whether or not the key exists: the answer's time tells nothing
    if not hmac.compare_digest(item.secret_hash if item else UNKNOWN_KEY_HASH, hash_secret(secret)) or item is None:
        raise Unauthorized("The credential is not valid.")
    if item.revoked_at:
        raise Unauthorized("The credential has been revoked.")
    # a stand-in for the table (the unit tier's) may have none of the limits: none apply then
    expires_at, program_id = getattr(item, "expires_at", None), getattr(item, "program_id", None)
    if expires_at and expires_at <= clock.iso(clock.now()):
        raise Unauthorized("The credential has expired.")
    if not _allowed_from(getattr(item, "allowed_sources", None), source):
        raise Forbidden("This credential may not be used from this address.")
    return Principal("key", org_id=org_id, role=item.role, key_id=key_id, program_id=program_id)


# --- member sessions -----------------------------------------------------------------------

SESSION_PREFIX = "mst"


def issue_session(org_id: str, program_id: str, external_id: str, ttl_seconds: int) -> tuple[str, str]:
    issued = time.time()
    expires = int(issued) + ttl_seconds
    claims = {"o": org_id, "p": program_id, "m": external_id, "e": expires, "i": int(issued * 1000),
              "n": secrets.token_hex(8)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    token = f"{SESSION_PREFIX}.{body}.{_b64(_mac('session', body))}"
    return token, clock.iso(clock.from_epoch(expires))


revocations = _Cache(lambda org_id, program_id, external_id: db.get(
    db.SessionRevocationItem, db.SessionRevocationItem.key(org_id, program_id, external_id), consistent=False))


def revoke_sessions(org_id: str, program_id: str, external_id: str) -> None:
    """End every session the member holds now (each answers 401 within KEY_CACHE_SECONDS); later ones work."""
    revoked_before = int(time.time() * 1000) + 1
    db.SessionRevocationItem(*db.SessionRevocationItem.key(org_id, program_id, external_id),
                             revoked_before=revoked_before).save()
    revocations.forget(org_id, program_id, external_id)


def _session(token: str) -> Principal:
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("The session token is malformed.")
    _, body, signature = parts
    try:
        claims = json.loads(_unb64(body)) if _signed("session", body, signature) else None
    except (ValueError, TypeError):
        claims = None
    if not isinstance(claims, dict):
        raise Unauthorized("The session token is not valid.")
    if claims.get("e", 0) < time.time():
        raise Unauthorized("The session token has expired.")
    return Principal("member", org_id=claims["o"], program_id=claims["p"], external_id=claims["m"],
                     issued_ms=claims.get("i", 0))


def _not_revoked(principal: Principal) -> None:
    """A member session made before its member's sessions were revoked answers 401 (one read per member per
    KEY_CACHE_SECONDS per instance; made only once the session's signature, role and scope passed)."""
    revoked = revocations.get(principal.org_id, principal.program_id, principal.external_id)
    if revoked is not None and principal.issued_ms < revoked.revoked_before:
        raise Unauthorized("The session has been revoked.")


# --- every request -------------------------------------------------------------------------

def authenticate(header: Optional[str], source: Optional[str] = None) -> Principal:
    """Who is calling; `source` is the caller's address (source_address), for keys limited to some."""
    if not header or not header.startswith("Bearer ") or len(header) > 1024:
        raise Unauthorized("Send the credential as 'Authorization: Bearer <secret>'.")
    secret = header[len("Bearer "):].strip()
    expected_root = settings.root_key_hash()
    if expected_root and hmac.compare_digest(hash_secret(secret), expected_root):
        return Principal("root")
    if secret.startswith(SESSION_PREFIX + "."):
        return _session(secret)
    return _api_key(secret, source)


SCOPED_KEY_ORG_ROUTES = ("/v1/org",)  # what a key of one program reaches outside it: its organisation's page


def admitted(principal: Principal, allowed: tuple[str, ...], path: str, params: dict) -> None:
    """Every call's check once its caller is known: whether it may call this route, and whether its session
    still holds."""
    require(principal, allowed, path, params)
    if principal.kind == "member":
        _not_revoked(principal)


def require(principal: Principal, allowed: tuple[str, ...], path: str = "", params: Optional[dict] = None) -> None:
    """The credential's role may call the route, and a key scoped to one program reaches only that program
    (404 elsewhere, as for a program that does not exist)."""
    if principal.grants not in allowed:
        raise Forbidden(f"A {principal.grants} credential may not do this.")
    if principal.kind == "key" and principal.program_id:
        program_id = (params or {}).get("program_id")
        if program_id is None and path not in SCOPED_KEY_ORG_ROUTES:
            raise NotFound("This key is scoped to one program and reaches nothing else.")
        if program_id is not None and program_id != principal.program_id:
            raise NotFound("No such program.")


def require_member_access(principal: Principal, program_id: str, external_id: str) -> None:
    """A member session reaches its own member only; any other answers 404, revealing nothing."""
    if principal.kind == "member" and (principal.program_id, principal.external_id) != (program_id, external_id):
        raise NotFound("No such member.")
