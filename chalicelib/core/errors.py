"""The errors the contract names; each carries its HTTP status and public code.

Domain code raises these; the API turns them into the contract's error shape and the queue
handlers decide from `permanent` whether a message can ever succeed.
"""
from typing import Any, Optional


class LaurelError(Exception):
    status = 500
    code = "internal_error"
    permanent = True

    def __init__(self, message: str, details: Optional[dict[str, Any]] = None, code: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(LaurelError):
    status = 400
    code = "validation_error"


class Unauthorized(LaurelError):
    status = 401
    code = "unauthorized"


class Forbidden(LaurelError):
    status = 403
    code = "forbidden"


class NotFound(LaurelError):
    status = 404
    code = "not_found"


class Conflict(LaurelError):
    """409: `insufficient_points`, `out_of_stock`, `idempotency_conflict` or plain `conflict`."""

    status = 409
    code = "conflict"


class PayloadTooLarge(LaurelError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(LaurelError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(LaurelError):
    status = 429
    code = "rate_limited"


class Contention(LaurelError):
    """Too many concurrent writers on one item: worth retrying later, never a client's fault."""

    status = 503
    code = "busy"
    permanent = False
