"""The audit trail's shapes (chalicelib/core/audit.py): its records, their verification, and the retention setting."""
from typing import Literal, Optional

from pydantic import Field

from chalicelib.core.wire import Answer, Request, Timestamp


class AuditActor(Answer):
    kind: Literal["key", "member", "root"]
    id: str = Field(description="The key's id, the member's external id, or root")
    role: Optional[str] = Field(None, description="A key's role")
    program_id: Optional[str] = Field(None, description="A member session's program")


class AuditRecord(Answer):
    seq: int = Field(description="The record's place in the organisation's chain, from 1")
    at: Timestamp
    actor: AuditActor
    action: str = Field(examples=["POST /v1/programs/{program_id}/rewards"])
    target: dict[str, str] = Field(description="The path's ids (of a refused call, their names only: empty values)")
    request_id: str
    source_ip: Optional[str] = None
    status: int = Field(description="The status the call answered")
    hash: str = Field(description="SHA-256 (hex) of the record's canonical JSON, which holds prev_hash")
    prev_hash: str = Field(description="The previous record's hash (empty for the first)")


class AuditRecordList(Answer):
    items: list[AuditRecord]
    next_cursor: Optional[str] = None


class AuditBreak(Answer):
    seq: int
    reason: Literal["edited", "unlinked", "missing"]
    message: str


class AuditVerification(Answer):
    ok: bool
    head_seq: int = Field(description="The chain's last record, as its head says")
    checked: int
    first_seq: Optional[int] = None
    last_seq: Optional[int] = None
    expired_before_seq: Optional[int] = Field(None, description="The records before this one lived out their "
                                                                "retention (DynamoDB TTL removed them)")
    first_break: Optional[AuditBreak] = Field(None, description="Where the chain first breaks (None: it holds)")
    next_from_seq: Optional[int] = Field(None, description="Not all checked: call again with from_seq")


class AuditSettings(Answer):
    retention_days: int


class AuditSettingsUpdate(Request):
    retention_days: int = Field(ge=30, le=3650, description="How long records written from now on are kept")
