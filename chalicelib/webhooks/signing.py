"""The signature on every webhook delivery, and how a receiver checks it (the scheme Stripe uses).

`Laurel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. While a
rotated secret is still honoured the header carries one `v1` per secret, so a receiver holding
either passes. Signing the timestamp with the body lets a receiver refuse an old capture replayed
at it (outside its tolerance); within the tolerance it dedupes by `Laurel-Event-Id`.
"""
import hashlib
import hmac
import re

SIGNATURE_HEADER = "Laurel-Signature"
EVENT_ID_HEADER = "Laurel-Event-Id"
DELIVERY_ID_HEADER = "Laurel-Delivery-Id"
TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """The `Laurel-Signature` value: the timestamp, then one `v1` per secret that still signs."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(secret, timestamp, body)}" for secret in secrets)])


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True if `header` signs these exact body bytes with `secret`, at a time within `tolerance` of `now`."""
    timestamps, candidates = [], []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1" and _HEX_SIGNATURE.fullmatch(value):
            candidates.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not candidates:
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
