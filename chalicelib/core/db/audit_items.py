"""Item types of the audit trail (chalicelib/core/audit.py): one chain of records per organisation, and its head.

| item | pk | sk |
|---|---|---|
| audit chain head (last sequence number and hash, the org's retention) | `AUDIT#{org_id}` | `HEAD` |
| audit record | `AUDIT#{org_id}` | `REC#{seq, 12 digits}` |

A chain is one partition, in append order, so a page newest first is a Query backwards and verify is a Query forwards.
"""
from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.core.db.table import Item

AUDIT_RECORD_PREFIX = "REC#"


def audit_pk(org_id: str) -> str:
    return f"AUDIT#{org_id}"


def record_sk(seq: int) -> str:
    return f"{AUDIT_RECORD_PREFIX}{seq:012d}"


class AuditHeadItem(Item, discriminator="audit_head"):
    """Where the organisation's chain ends: every append is conditional on `seq` being the one it read."""

    seq = NumberAttribute(default=0)
    hash = UnicodeAttribute(default="")
    ttl_epoch = NumberAttribute(null=True)  # when the last record expires: the next record's `prev_ttl`
    retention_days = NumberAttribute(null=True)  # None: the default (chalicelib/core/audit.py)

    @staticmethod
    def key(org_id: str) -> tuple[str, str]:
        return audit_pk(org_id), "HEAD"


class AuditRecordItem(Item, discriminator="audit_record"):
    """Who did what, to which ids, with what outcome: never a body, an email or a name. `hash` is SHA-256 over the
    record's canonical JSON (every field below but `hash` and `ttl`) and `prev_hash`, the previous record's."""

    org_id = UnicodeAttribute()
    seq = NumberAttribute()
    at = UnicodeAttribute()
    actor_kind = UnicodeAttribute()  # key, member or root
    actor_id = UnicodeAttribute()  # the key's id, the member's external id, or "root"
    actor_role = UnicodeAttribute(null=True)  # a key's role
    actor_program = UnicodeAttribute(null=True)  # a member session's program
    action = UnicodeAttribute()  # the route's operation: "POST /v1/programs/{program_id}/rewards"
    target = JSONAttribute()  # the path's ids, by name
    target_ids = UnicodeSetAttribute(null=True)  # the same ids, as a set: `?target=` is a membership test
    request_id = UnicodeAttribute()
    source_ip = UnicodeAttribute(null=True)
    status = NumberAttribute()
    prev_hash = UnicodeAttribute()
    prev_ttl = NumberAttribute(null=True)  # when the previous record expires: its absence after that is retention
    hash = UnicodeAttribute()
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(org_id: str, seq: int) -> tuple[str, str]:
        return audit_pk(org_id), record_sk(seq)
