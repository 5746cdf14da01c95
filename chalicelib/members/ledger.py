"""The ledger: every balance change is one DynamoDB transaction that appends an entry and moves the balance.

The entry's key is the change's idempotency key and is written on the condition that it is new,
so a replay can never credit or debit twice. The member item carries a version: a concurrent
writer makes the transaction fail and the caller re-reads and tries again, so two debits can
never both spend the same points. The account (chalicelib.members.account) makes and writes the
change; this module runs it once per key.
"""
import base64
import hashlib
import json
from typing import Any, Callable

from chalicelib.core import db
from chalicelib.core.errors import Conflict, LaurelError
from chalicelib.core.transact import Replayed, with_retries


def fingerprint(*parts: Any) -> str:
    """A stable hash of what a request asked for, to tell a replay from a different request."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def idempotent(program_id: str, scope: str, key: str, request_fingerprint: str,
               attempt: Callable[[], db.EntryItem], answer: Callable[[db.EntryItem], dict]) -> tuple[dict, bool]:
    """Run a balance change once per key: a repeat answers the first result, whatever changed since.

    The happy path costs nothing extra (the key is a condition of the write). Only when the
    current state refuses the request (spent balance, empty stock) is the key looked up, so that
    a retry of a call that already succeeded still answers its first result. `answer` renders
    the entry (the new one, or the first call's) as the endpoint's answer.
    """
    try:
        return answer(with_retries(attempt)), False
    except Replayed as replayed:
        return answer(_same_request(replayed.entry, request_fingerprint)), True
    except LaurelError as refusal:
        if not refusal.permanent:
            raise
        entry = db.get(db.EntryItem, (db.entry_pk(program_id, scope, key), "ENTRY"))
        if entry is None:
            raise
        return answer(_same_request(entry, request_fingerprint)), True


def _same_request(entry: db.EntryItem, request_fingerprint: str) -> db.EntryItem:
    """The first call's entry for a repeated key, or 409 if the key was used for something else."""
    if entry.fingerprint != request_fingerprint:
        raise Conflict("This idempotency key was already used with a different request.",
                       code="idempotency_conflict")
    return entry
