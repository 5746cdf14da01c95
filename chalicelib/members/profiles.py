"""A member's profile (email, phone, name, locale, attributes): where it lives, how it is written, and how the
profile of a member written before the split moves there.

A member is two items under its pk: its account (`MEMBER`, db.MemberItem), which chalicelib.members.account
rewrites with every balance change, and its profile (`PROFILE`, db.ProfileItem), which only PUT member and
imports write. So an earn never pays for the profile, and a profile change never touches the balance. A
reader that needs the profile reads it with the member in one BatchGetItem (`keys`, `member_from`) and reads
it with db.profile_of, which also understands a member written before the split, whose profile is still in
legacy fields of its account item (and reads the ProfileItem itself, one GetItem, when nobody read it along).

A legacy profile moves to its ProfileItem on the member's next change: a balance change (`migrate`, which the
account stages into its transaction), PUT member (`put`) or an import (imports.member_writes). Each creates the
ProfileItem, on the condition that it does not exist, in the transaction that clears the legacy fields under
the member's version: a member has legacy fields or a ProfileItem, never both, and a writer that read the
legacy member meanwhile retries rather than put its old profile back.
"""
from typing import Optional

from chalicelib.core import db
from chalicelib.core.transact import ConditionFailed, Retry, Tx, save_or_retry

FIELDS = db.PROFILE_FIELDS


def keys(program_id: str, external_id: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The member's account and profile keys, to read both in one BatchGetItem."""
    return db.MemberItem.key(program_id, external_id), db.ProfileItem.key(program_id, external_id)


def member_from(found: dict, program_id: str, external_id: str) -> Optional[db.MemberItem]:
    """The member of a BatchGetItem that read its `keys`, with its profile (None: no such member)."""
    member_key, profile_key = keys(program_id, external_id)
    member = found.get(member_key)
    if not isinstance(member, db.MemberItem):
        return None
    return db.attach_profile(member, found.get(profile_key))


def read_many(member_keys: list[tuple[str, str]]) -> dict[tuple[str, str], db.MemberItem]:
    """The members of these keys, each with its profile, read together (BatchGetItem): a batch job that may
    tell its members something reads no profile one by one."""
    profile_keys = {key: (key[0], db.PROFILE_SK) for key in member_keys}
    found = db.get_many(*member_keys, *profile_keys.values()) if member_keys else {}
    return {key: db.attach_profile(member, found.get(profile_keys[key]))
            for key, member in ((key, found.get(key)) for key in member_keys) if isinstance(member, db.MemberItem)}


def updated_at(member: db.MemberItem) -> Optional[str]:
    """When the member last changed: its account or its profile, the later."""
    return max(member.updated_at or "", db.profile_of(member).updated_at or "") or None


def _clear_legacy(member: db.MemberItem) -> None:
    for name in FIELDS:
        setattr(member, name, None)


def migrate(member: db.MemberItem, tx: Tx) -> None:
    """Move a legacy profile out of the member item: the account calls this whenever it stages the member.

    A member without legacy fields: nothing. Otherwise the fields are cleared from `member` (so the account's
    put of it writes them no more) and its ProfileItem is staged into `tx` (label "profile", on the condition
    that none exists: the member's version check decides a race). No request of its own."""
    if not db.has_legacy_profile(member):
        return
    profile = db.legacy_profile(member)
    _clear_legacy(member)
    db.attach_profile(member, profile)
    tx.put("profile", profile)


def put(member: db.MemberItem, changes: dict, now_iso: str, *, new_member: bool) -> db.ProfileItem:
    """PUT member's write: the member's profile with `changes` (a field given as None is cleared).

    The profile alone for a member whose profile is already apart (one conditional put, on its version); with a
    member being created, or a legacy member's cleared fields, in one transaction. A lost race is a Retry."""
    profile = db.profile_of(member)
    legacy = db.has_legacy_profile(member)
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.created_at = profile.created_at or now_iso
    profile.updated_at = now_iso
    if not (new_member or legacy):
        save_or_retry(profile)
        return profile
    if legacy:
        _clear_legacy(member)
    tx = Tx()
    tx.put("member", member)
    tx.put("profile", profile)
    try:
        tx.commit()
    except ConditionFailed as failed:  # the ProfileItem was written meanwhile: read again
        raise Retry() from failed
    return profile
