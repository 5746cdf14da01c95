"""The service's own shapes and the organisation's: health, the error every failure answers with,
organisations and their API keys."""
from typing import Any, Literal, Optional

from chalicelib.core.wire import Answer, Name, Request, Role, Timestamp


class Health(Answer):
    status: Literal["ok"]


class ErrorBody(Answer):
    code: str
    message: str
    details: dict[str, Any]


class Error(Answer):
    error: ErrorBody


# --- organisations and keys ----------------------------------------------------------------

class OrgCreate(Request):
    name: Name


class SecretKey(Answer):
    id: str
    secret: str


class OrgCreated(Answer):
    id: str
    name: str
    admin_key: SecretKey


class Org(Answer):
    id: str
    name: str
    partner_events_queue_url: str
    partner_events_dlq_url: str


class ApiKeyCreate(Request):
    name: Name
    role: Role


class ApiKey(Answer):
    id: str
    name: str
    role: Role
    created_at: Timestamp
    revoked_at: Optional[Timestamp] = None


class ApiKeyCreated(ApiKey):
    secret: str


class ApiKeyList(Answer):
    items: list[ApiKey]
    next_cursor: Optional[str]
