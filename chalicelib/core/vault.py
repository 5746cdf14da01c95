"""Gift-card codes sealed at rest: AES-256-GCM under a data key from KMS (envelope encryption).

One data key seals a batch of codes (an upload); its KMS-encrypted form travels with each sealed
code, so opening needs one KMS Decrypt per batch, and the plain data key is kept in memory for a
few minutes to spare a Decrypt per code. The KMS encryption context names the organisation,
program and reward, and the GCM associated data adds the code's hash: a sealed code that is
altered, or moved to another code, reward, program or tenant, does not open. Nothing here logs or
raises with a code in it.
"""
import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from chalicelib.core import aws, settings

VERSION = "v1"
NONCE_BYTES = 12
KEY_CACHE_SECONDS = 300
KEY_CACHE_SIZE = 256


class Unopenable(Exception):
    """A sealed code that does not open in the scope given (altered, moved, or its key refused)."""

    def __init__(self) -> None:
        super().__init__("A sealed gift-card code could not be opened.")


@dataclass(frozen=True)
class Scope:
    """Whose code it is: a sealed code opens only in the scope it was sealed in."""
    org_id: str
    program_id: str
    reward_id: str

    def context(self) -> dict[str, str]:
        return {"org": self.org_id, "program": self.program_id, "reward": self.reward_id}


def code_hash(code: str) -> str:
    """What identifies a code without revealing it (a reward's codes are deduplicated on it)."""
    return hashlib.sha256(code.encode()).hexdigest()


_keys: dict[tuple, tuple[bytes, float]] = {}  # (encrypted data key, scope) -> (plain data key, expiry)
_lock = threading.Lock()


def _remember(encrypted: bytes, scope: Scope, plain: bytes) -> None:
    now = time.monotonic()
    with _lock:
        for stale in [key for key, (_, expiry) in _keys.items() if expiry <= now]:
            del _keys[stale]
        if len(_keys) >= KEY_CACHE_SIZE:
            del _keys[next(iter(_keys))]
        _keys[(encrypted, scope)] = (plain, now + KEY_CACHE_SECONDS)


def _recalled(encrypted: bytes, scope: Scope) -> bytes | None:
    with _lock:
        found = _keys.get((encrypted, scope))
    return found[0] if found and found[1] > time.monotonic() else None


def forget_keys() -> None:
    """Drop every cached data key (tests that need the next open to ask KMS)."""
    with _lock:
        _keys.clear()


def _aead(key: bytes):
    """AES-GCM under `key`. cryptography is imported on first use, for cold start: most handlers that
    import this module only carry sealed codes around, and never seal or open one."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """The plaintext; Unopenable if the ciphertext or its associated data were altered."""
    from cryptography.exceptions import InvalidTag  # on first use, as in _aead

    try:
        return _aead(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise Unopenable() from None


def _aad(scope: Scope, hashed: str) -> bytes:
    return json.dumps([VERSION, scope.org_id, scope.program_id, scope.reward_id, hashed]).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Seals one batch of codes of one reward under one fresh data key."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        answer = aws.client("kms").generate_data_key(KeyId=settings.codes_key_id(), KeySpec="AES_256",
                                                     EncryptionContext=scope.context())
        self._encrypted, self._aead = answer["CiphertextBlob"], _aead(answer["Plaintext"])
        _remember(self._encrypted, scope, answer["Plaintext"])

    def seal(self, code: str) -> str:
        """`v1.<encrypted data key>.<nonce + ciphertext>`, base64url."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, code.encode(), _aad(self.scope, code_hash(code)))
        return ".".join((VERSION, _b64(self._encrypted), _b64(nonce + sealed)))


def open_code(sealed: str, scope: Scope, hashed: str) -> str:
    """The code `sealed` holds, if it was sealed in `scope` as the code whose hash is `hashed`."""
    try:
        version, encrypted_key, body = sealed.split(".")
        encrypted, body = _unb64(encrypted_key), _unb64(body)
    except ValueError:
        raise Unopenable() from None
    if version != VERSION or len(body) <= NONCE_BYTES:
        raise Unopenable()
    plain_key = _recalled(encrypted, scope)
    if plain_key is None:
        try:
            plain_key = aws.client("kms").decrypt(CiphertextBlob=encrypted, EncryptionContext=scope.context(),
                                                  KeyId=settings.codes_key_id())["Plaintext"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise Unopenable() from None
            raise
        _remember(encrypted, scope, plain_key)
    code = _decrypt(plain_key, body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(scope, hashed)).decode()
    if code_hash(code) != hashed:
        raise Unopenable()
    return code
