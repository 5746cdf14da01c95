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

Each of these writes also keeps the member's place in the directory (chalicelib.members.directory_keys): the
transaction that creates a member puts its DirectoryItem; a profile write sets its name index keys and, in the
same transaction under the profile's version, the email and phone lookups it gains and the deletion of those it
loses (chalicelib.members.lookups). Extra write units per profile write: none when neither email nor phone
changes (the profile alone, one conditional put as before; a changed name re-keys its gsi3 entry, 1 WCU to
delete the old and 1 to put the new); when one does, the write becomes a transaction (the profile's units
double: 2 per KB) plus 2 WCU per lookup put or deleted (a changed email: 4). A member's creation adds its
DirectoryItem, 2 WCU in the transaction plus 1 WCU in each of gsi1 and gsi2.
"""
from typing import Optional

from chalicelib.core import db
from chalicelib.core.transact import ConditionFailed, Retry, Tx, save_or_retry
from chalicelib.members import directory_keys, lookups

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


def lookup_keys(profile: db.ProfileItem) -> set[tuple[str, str]]:
    """The lookup items the profile, as it stands, has (stored or to be)."""
    return lookups.keys_of(profile.program_id, profile.external_id, profile.email, profile.phone)


def migrate(member: db.MemberItem, tx: Tx) -> None:
    """What the account stages besides the member item itself, whenever it stages it: the directory entry of a
    member this change creates (a member enrolled by an event), and the move of a legacy profile out of the
    member item.

    A legacy profile: the fields are cleared from `member` (so the account's put of it writes them no more), and
    its ProfileItem (on the condition that none exists: the member's version check decides a race), its lookups
    and the member's directory entry are staged into `tx` (label "profile"). No request of its own."""
    if member.version is None:
        tx.put("directory", directory_keys.entry(member))
    if not db.has_legacy_profile(member):
        return
    profile = db.legacy_profile(member)
    _clear_legacy(member)
    db.attach_profile(member, profile)
    directory_keys.index_name(profile)
    tx.put("directory", directory_keys.entry(member))
    lookups.stage(tx, set(), lookup_keys(profile))
    tx.put("profile", profile)


def file(member: db.MemberItem, filed: bool) -> bool:
    """The one-off migration's backfill of a member written before the directory (`filed`: it has its
    DirectoryItem already, so nothing to do): its directory entry and, if it has a ProfileItem, that profile's
    name index keys and lookups, in one transaction under the profile's version (a PUT meanwhile: Retry)."""
    if filed:
        return False
    tx = Tx()
    tx.put("directory", directory_keys.entry(member))
    profile = db.profile_of(member)
    if profile.version is not None:
        directory_keys.index_name(profile)
        tx.put("profile", profile)
        lookups.stage(tx, set(), lookup_keys(profile))
    try:
        tx.commit()
    except ConditionFailed as failed:
        raise Retry() from failed
    return True


def put(member: db.MemberItem, changes: dict, now_iso: str, *, new_member: bool) -> db.ProfileItem:
    """PUT member's write: the member's profile with `changes` (a field given as None is cleared).

    The profile alone for a member whose profile is already apart and whose email and phone stay (one conditional
    put, on its version); with a member being created (and its directory entry), a legacy member's cleared fields,
    or the lookups a changed email or phone gains and loses, in one transaction. A lost race is a Retry."""
    profile = db.profile_of(member)
    legacy = db.has_legacy_profile(member)
    before = lookup_keys(profile) if profile.version is not None else set()  # a legacy profile has none yet
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.created_at = profile.created_at or now_iso
    profile.updated_at = now_iso
    directory_keys.index_name(profile)
    after = lookup_keys(profile)
    if not (new_member or legacy or before != after):
        save_or_retry(profile)
        return profile
    if legacy:
        _clear_legacy(member)
    tx = Tx()
    if new_member or legacy:
        tx.put("member", member)
        tx.put("directory", directory_keys.entry(member))
    tx.put("profile", profile)
    lookups.stage(tx, before, after)
    try:
        tx.commit()
    except ConditionFailed as failed:  # the ProfileItem was written meanwhile: read again
        raise Retry() from failed
    return profile


def erase(member: db.MemberItem) -> None:
    """Erasure (chalicelib/privacy/erasure.py): the member's profile item, its name index keys with it, and its
    email and phone lookups, deleted in one transaction (a profile still in legacy fields moved out first by the
    close that precedes this, so the member item holds none). Nothing to do when it has no profile."""
    profile = db.profile_of(member)
    if profile.version is None:
        return
    tx = Tx()
    tx.delete("profile", profile)  # on its version: a PUT meanwhile fails this, and the erasure is retried
    lookups.stage(tx, lookup_keys(profile), set())
    tx.commit()
    db.attach_profile(member, None)
