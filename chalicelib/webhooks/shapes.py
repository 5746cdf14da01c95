"""The shapes of outbound webhooks: endpoints (registration, their kinds, their signing secret) and deliveries."""
from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.core.wire import Answer, Request, Timestamp, drop_null_defaults
from chalicelib.webhooks import KINDS

WebhookKind = Literal[KINDS]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/laurel-webhooks"],
                                  description="https:// and a public address")]
WebhookKinds = Annotated[list[WebhookKind], Field(min_length=1, max_length=len(KINDS))]
Description = Annotated[str, Field(max_length=500)]


class WebhookEndpointCreate(Request):
    url: WebhookUrl
    kinds: WebhookKinds
    program_id: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        None, description="Only this program's events (none: every program of the organisation)")
    description: Optional[Description] = None
    enabled: bool = True


class WebhookEndpointUpdate(Request):
    model_config = ConfigDict(**Request.model_config, json_schema_extra=drop_null_defaults)

    url: WebhookUrl = None  # absent: unchanged; null is refused
    kinds: WebhookKinds = None
    program_id: Optional[Annotated[str, Field(min_length=1, max_length=64)]] = None  # null: every program
    description: Optional[Description] = None
    enabled: bool = None


class WebhookEndpoint(Answer):
    id: str
    url: str
    kinds: list[WebhookKind]
    program_id: Optional[str]
    description: Optional[str]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="Signs every delivery (Laurel-Signature); shown only now")


class WebhookEndpointList(Answer):
    items: list[WebhookEndpoint]
    next_cursor: Optional[str]


class WebhookSecret(Answer):
    id: str
    secret: str = Field(description="The new signing secret; shown only now")
    previous_secret_expires_at: Timestamp = Field(description="Until then deliveries are signed with both")


class WebhookDelivery(Answer):
    id: str
    event_id: str = Field(description="The same on every try and replay: dedupe on it")
    endpoint_id: str
    kind: str
    status: Literal["pending", "retrying", "delivered", "failed"]
    attempts: int
    last_status_code: Optional[int]
    last_error: Optional[str]
    next_attempt_at: Optional[Timestamp]
    delivered_at: Optional[Timestamp]
    created_at: Timestamp
    updated_at: Timestamp
    event: dict[str, Any] = Field(description="The body sent: {id, type, created_at, org_id, program_id, data}")


class WebhookDeliveryList(Answer):
    items: list[WebhookDelivery]
    next_cursor: Optional[str]
