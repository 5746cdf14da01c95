"""A program's member directory: every member (enrolled by PUT member, an import or an event), newest first, paged,
filtered and searched without reading the program's other members.

One filter drives the read, the others (AND) are checked on the members it finds:
- `email` or `phone`: the member lookup items of that value's keyed hash (chalicelib/members/lookups.py), ordered
  by external id: one Query, then one BatchGetItem of the program, the members and their profiles (2 requests);
- `external_id_prefix`: the directory entries' gsi2 (`IDS#{program_id}`), by external id;
- `name_prefix` (case-insensitive): the profiles' gsi3 (`NAMES#{program_id}`), by name;
- otherwise the directory entries' gsi1 (`MEMBERS#{program_id}`), newest first.
`tier`, `status` and `attribute` (`name:value`, exact) are checked on what is read. A page reads at most READS rounds of
READ_SIZE index entries when such a filter leaves few matches, so it may hold fewer than `limit` items and still
carry a `next_cursor`. The program is read with the first round's members, so another organisation's key finds
nothing (404) and the search costs no request of its own.
"""
import json
import re
from typing import Callable, Optional

from chalicelib.core import aws, db, pagination, settings
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.patterns import EMAIL
from chalicelib.members import directory_keys, lookups, profiles, standing

FILTERS = ("tier", "status", "attribute", "email", "phone", "external_id_prefix", "name_prefix")
STATUSES = ("active", "closed", "blocked")  # members/offboarding.py
READS, READ_SIZE = 5, 49  # rounds a filtered page may read, and members each reads (a BatchGetItem of 100 keys)
_EMAIL = re.compile(EMAIL)
_ID_PREFIX = re.compile(r"[A-Za-z0-9._\-:@]{1,128}")
HOW = {
    "tier": "tier must be the name of one of the program's tiers, such as tier=Gold.",
    "status": "status must be active, closed or blocked, such as status=blocked.",
    "attribute": "attribute must be name:value, such as attribute=team:eng (the value matched exactly).",
    "email": "email must be an email address, such as email=ada@example.com (matched case-insensitively).",
    "phone": "phone must be in E.164 with its country code, such as phone=%2B393331234567 (+ sent as %2B).",
    "external_id_prefix": "external_id_prefix must be the start of an external id (letters, digits and ._-:@).",
    "name_prefix": "name_prefix must be 1 to 200 characters: the start of a name (case-insensitive).",
}


def _refuse(name: str) -> ValidationFailed:
    return ValidationFailed(HOW[name], {"field": name})


def filters_from(query: dict) -> dict:
    """The filters asked for, normalised; 400 for an unknown one or a value that cannot match as sent."""
    unknown = sorted(set(query) - set(FILTERS) - {"limit", "cursor"})
    if unknown:
        raise ValidationFailed(f"{unknown[0]} is not a filter of the members list; it takes "
                               f"{', '.join(FILTERS)}, limit and cursor.", {"field": unknown[0]})
    asked = {name: query[name] for name in FILTERS if name in query}
    for name, value in asked.items():
        if not value.strip():
            raise _refuse(name)
    if "status" in asked and asked["status"] not in STATUSES:
        raise _refuse("status")
    if "email" in asked:
        asked["email"] = lookups.normal_email(asked["email"])
        if not _EMAIL.fullmatch(asked["email"]):
            raise _refuse("email")
    if "phone" in asked:
        asked["phone"] = lookups.normal_phone(asked["phone"])
        if asked["phone"] is None:
            raise _refuse("phone")
    if "attribute" in asked:
        name, colon, value = asked["attribute"].partition(":")
        if not (name and colon):
            raise _refuse("attribute")
        asked["attribute"] = (name, value)
    if "external_id_prefix" in asked and not _ID_PREFIX.fullmatch(asked["external_id_prefix"]):
        raise _refuse("external_id_prefix")
    if "name_prefix" in asked:
        if len(asked["name_prefix"]) > 200:
            raise _refuse("name_prefix")
        asked["name_prefix"] = directory_keys.folded(asked["name_prefix"])
    return asked


# --- what drives the read ------------------------------------------------------------------------

Keys = tuple[list[tuple[str, dict]], Optional[dict]]  # (member pk, its index entry's key), next start


def _index(index: str, partition: str, prefix: Optional[str], newest_first: bool = False) -> Callable:
    def read(limit: int, start: Optional[dict]) -> Keys:
        condition, values = f"{index}pk = :p", {":p": {"S": partition}}
        if prefix is not None:
            condition += f" AND begins_with({index}sk, :s)"
            values[":s"] = {"S": prefix}
        page = aws.client("dynamodb").query(
            TableName=settings.table_name(), IndexName=index, KeyConditionExpression=condition,
            ExpressionAttributeValues=values, ProjectionExpression=f"pk, sk, {index}pk, {index}sk", Limit=limit,
            ScanIndexForward=not newest_first, **({"ExclusiveStartKey": start} if start else {}))
        return [(item["pk"]["S"], item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")
    return read


def _lookup(program_id: str, kind: str, value: str) -> Callable:
    def read(limit: int, start: Optional[dict]) -> Keys:
        ids, last = lookups.external_ids(program_id, kind, value, limit, start)
        pk = db.lookup_pk(program_id, kind, lookups.digest(program_id, kind, value))
        return [(db.member_pk(program_id, external_id), {"pk": {"S": pk}, "sk": {"S": external_id}})
                for external_id in ids], last
    return read


def _driver(program_id: str, asked: dict) -> tuple[str, Callable]:
    """Which filter drives the read (the others are checked on what it finds), and its reader."""
    if "email" in asked:
        return "email", _lookup(program_id, lookups.EMAIL, asked["email"])
    if "phone" in asked:
        return "phone", _lookup(program_id, lookups.PHONE, asked["phone"])
    if "external_id_prefix" in asked:
        return "external_id_prefix", _index("gsi2", directory_keys.ids_partition(program_id),
                                            asked["external_id_prefix"])
    if "name_prefix" in asked:
        return "name_prefix", _index("gsi3", directory_keys.names_partition(program_id), asked["name_prefix"])
    return "", _index("gsi1", directory_keys.members_partition(program_id), None, newest_first=True)


# --- what is checked on each member --------------------------------------------------------------

def _matches(asked: dict, program: db.ProgramItem, member: db.MemberItem) -> bool:
    profile = db.profile_of(member)
    if "email" in asked and lookups.normal_email(profile.email or "") != asked["email"]:
        return False
    if "phone" in asked and (lookups.normal_phone(profile.phone or "") or profile.phone) != asked["phone"]:
        return False
    if "external_id_prefix" in asked and not member.external_id.startswith(asked["external_id_prefix"]):
        return False
    if "name_prefix" in asked and not directory_keys.folded(profile.name or "").startswith(asked["name_prefix"]):
        return False
    if "tier" in asked and _tier(program, member) != asked["tier"]:
        return False
    if "status" in asked and (member.status or "active") != asked["status"]:
        return False
    if "attribute" in asked:
        name, value = asked["attribute"]
        attributes = profile.attributes or {}
        if name not in attributes or _text(attributes[name]) != value:
            return False
    return True


def _text(value) -> str:
    """An attribute's value as a filter names it: a string as it is, anything else as JSON (`true`, `3`)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _tier(program: db.ProgramItem, member: db.MemberItem) -> Optional[str]:
    tier = standing.stored_tier(program, member)
    return tier["name"] if tier else None


def view(program: db.ProgramItem, member: db.MemberItem) -> dict:
    profile = db.profile_of(member)
    return {"external_id": member.external_id, "name": profile.name, "email": profile.email, "phone": profile.phone,
            "attributes": profile.attributes, "tier": _tier(program, member), "status": member.status or "active",
            "balance": {"available": int(member.available), "pending": int(member.pending),
                        "lifetime_earned": int(member.lifetime_earned), "lifetime_spent": int(member.lifetime_spent)},
            "created_at": member.created_at}


# --- the page --------------------------------------------------------------------------------------

def _read(org_id: str, program_id: str, pks: list[str],
          program: Optional[db.ProgramItem]) -> tuple[db.ProgramItem, dict[str, db.MemberItem]]:
    """The members of these pks with their profiles, and the program (read along the first time), in BatchGetItems."""
    ids = [pk[len(db.member_pk(program_id, "")):] for pk in pks]
    program_key = db.ProgramItem.key(org_id, program_id)
    member_keys = [key for external_id in ids for key in profiles.keys(program_id, external_id)]
    found = db.get_many(*([] if program else [program_key]), *member_keys) if member_keys or not program else {}
    program = program or found.get(program_key)
    if not isinstance(program, db.ProgramItem):
        raise NotFound("No such program.")
    members = {db.member_pk(program_id, external_id): profiles.member_from(found, program_id, external_id)
               for external_id in ids}
    return program, {pk: member for pk, member in members.items() if member is not None}


def list_members(org_id: str, program_id: str, query: dict) -> dict:
    asked = filters_from(query)
    limit = pagination.limit_from(query)
    driving, read = _driver(program_id, asked)
    scope = "members:" + json.dumps([program_id, asked], sort_keys=True, separators=(",", ":"))
    start = pagination.decode(query, scope)
    checked = set(asked) - {driving}  # filters the index does not answer: matches may be sparse
    program, items = None, []
    for _ in range(READS if checked else 1):
        keys, start = read(READ_SIZE if checked else limit - len(items), start)
        program, members = _read(org_id, program_id, [pk for pk, _ in keys], program)
        if "tier" in asked and asked["tier"] not in {tier["name"] for tier in program.tiers or []}:
            raise _refuse("tier")
        for pk, entry in keys:
            member = members.get(pk)
            if member is None or not _matches(asked, program, member):
                continue
            items.append(view(program, member))
            if len(items) == limit:  # full: the next page starts after this member (if any is left)
                more = entry if entry is not keys[-1][1] else start
                return {"items": items, "next_cursor": pagination.encode(more, scope)}
        if not start:
            break
    return {"items": items, "next_cursor": pagination.encode(start, scope)}
