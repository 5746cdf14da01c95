"""Finding a member by email or phone without the plain value in any key: keyed-hash (HMAC-SHA256) lookup items.

A member's email (case-insensitive: stripped, lowered) and phone (E.164) each have a lookup item,
`LOOKUP#{program_id}#{kind}#{HMAC}` / `{external_id}` (db.LookupItem), written and deleted in the transaction of
the profile write that sets or changes the value, under the profile's version: a changed email takes its old
lookup away in the same write. The HMAC key is derived per program from the deployment's signing key with its
own purpose label (`auth.derived_token`, as API key and webhook secrets are), so the table never holds the value
in a key, a hash of one program's emails says nothing about another's, and encrypting the profile later (or
moving the key to KMS or Secrets Manager) keeps search working: only `_key` changes.
"""
import hashlib
import hmac
import re
from typing import Optional

from chalicelib.core import auth, aws, db, settings
from chalicelib.core.patterns import E164
from chalicelib.core.transact import Tx

EMAIL, PHONE = "email", "phone"
KINDS = (EMAIL, PHONE)
KEY_PURPOSE, KEY_VERSION = "member-lookup", "v1"  # another key or version: every lookup must be written again
_SEPARATORS = re.compile(r"[\s\-.()/]")
_E164 = re.compile(E164)


def normal_email(text: str) -> str:
    return text.strip().lower()


def normal_phone(text: str) -> Optional[str]:
    """The phone in E.164 (`+` and 7 to 15 digits), from the ways people write one: spaces, dashes, dots and
    brackets dropped, a leading `00` read as `+`, and a leading space as the `+` an unencoded query string turned
    into one; None when it still is not E.164 (a number without its country code cannot be guessed)."""
    if text[:1] == " " and text.strip()[:1].isdigit():
        text = "+" + text.strip()
    phone = _SEPARATORS.sub("", text)
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    return phone if _E164.fullmatch(phone) else None


def _key(program_id: str) -> bytes:
    return auth.derived_token(KEY_PURPOSE, program_id, KEY_VERSION).encode()


def digest(program_id: str, kind: str, normal_value: str) -> str:
    """HMAC-SHA256 of a normalised value under the program's lookup key, in hex."""
    return hmac.new(_key(program_id), f"{kind}:{normal_value}".encode(), hashlib.sha256).hexdigest()


def _normal(kind: str, value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return normal_email(value) if kind == EMAIL else (normal_phone(value) or value)


def keys_of(program_id: str, external_id: str, email: Optional[str], phone: Optional[str]) -> set[tuple[str, str]]:
    """The keys of the lookup items a profile with this email and phone has."""
    found = set()
    for kind, value in ((EMAIL, _normal(EMAIL, email)), (PHONE, _normal(PHONE, phone))):
        if value:
            found.add(db.LookupItem.key(program_id, kind, digest(program_id, kind, value), external_id))
    return found


def stage(tx: Tx, before: set[tuple[str, str]], after: set[tuple[str, str]]) -> None:
    """Into `tx` (which also writes the profile, under its version): the lookups the profile gains, and the
    deletion of those it loses. Each lookup item is 2 write units in the transaction (items under 1 KB)."""
    for pk, sk in sorted(after - before):
        tx.put(f"lookup:{pk}", db.LookupItem(pk, sk))
    for pk, sk in sorted(before - after):
        tx.delete(f"lookup-gone:{pk}", db.LookupItem(pk, sk))


def external_ids(program_id: str, kind: str, value: str, limit: int,
                 start: Optional[dict]) -> tuple[list[str], Optional[dict]]:
    """One Query: the external ids of the program's members whose `kind` is `value` (normalised already), and where
    the next page starts (None: done)."""
    page = aws.client("dynamodb").query(
        TableName=settings.table_name(), KeyConditionExpression="pk = :p", ProjectionExpression="pk, sk",
        ExpressionAttributeValues={":p": {"S": db.lookup_pk(program_id, kind, digest(program_id, kind, value))}},
        Limit=limit, **({"ExclusiveStartKey": start} if start else {}))
    return [item["sk"]["S"] for item in page.get("Items", [])], page.get("LastEvaluatedKey")

