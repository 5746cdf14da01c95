"""The service's own shapes and the organisation's: health, the error every failure answers with,
organisations and their API keys."""
import ipaddress
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, AwareDatetime, Field

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


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an address or CIDR block such as 203.0.113.0/24") from None
    return value


Cidr = Annotated[str, Field(max_length=43, examples=["203.0.113.0/24"]), AfterValidator(_cidr)]


class ApiKeyCreate(Request):
    name: Name
    role: Role
    program_id: Optional[str] = Field(None, max_length=64,
                                      description="Scope the key to this program: it reaches nothing else")
    expires_at: Optional[AwareDatetime] = Field(None, description="When the key stops working (ISO-8601)")
    allowed_sources: Optional[list[Cidr]] = Field(None, min_length=1, max_length=20,
                                                  description="The only addresses (CIDRs) the key may be used from")


class ApiKey(Answer):
    id: str
    name: str
    role: Role
    created_at: Timestamp
    revoked_at: Optional[Timestamp] = None
    program_id: Optional[str] = None
    expires_at: Optional[Timestamp] = None
    allowed_sources: Optional[list[str]] = None


class ApiKeyCreated(ApiKey):
    secret: str


class ApiKeyList(Answer):
    items: list[ApiKey]
    next_cursor: Optional[str]
