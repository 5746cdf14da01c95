"""Server-made ids: a type prefix and a time-ordered random body, so newer ids sort after older ones."""
import hashlib
import re
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._\-:@]{1,128}$")


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """`prefix_` + 10 chars of milliseconds + 16 random chars (80 bits), like a ULID."""
    return f"{prefix}_{_base32(int(time.time() * 1000), 10)}{_base32(secrets.randbits(80), 16)}"


def derived_id(prefix: str, moment_ms: int, seed: str) -> str:
    """Shaped like `new_id`, but the same moment and seed always give the same id: for an item that
    a retried or repeated write must find again instead of duplicating."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return f"{prefix}_{_base32(moment_ms, 10)}{_base32(digest, 16)}"


def is_id(value: str, prefix: str) -> bool:
    return bool(re.fullmatch(rf"{prefix}_[{_ALPHABET}]{{26}}", value))
