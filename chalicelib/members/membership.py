"""Members of a program: their profile, balance, transactions and sessions."""
from chalicelib.core import auth, clock, db, pagination
from chalicelib.core.errors import NotFound
from chalicelib.core.transact import with_retries
from chalicelib.members import account, entries, profiles, standing
from chalicelib.notices import announcements


def balance_view(member: db.MemberItem, program: db.ProgramItem) -> dict:
    """The balance with the member's stored tier and its progress toward the next one."""
    return account.Account(program, member, clock.now()).balance_with_progress()


def view(member: db.MemberItem, program: db.ProgramItem) -> dict:
    balance = balance_view(member, program)
    profile = db.profile_of(member)
    return {"external_id": member.external_id, "email": profile.email, "phone": profile.phone,
            "name": profile.name, "locale": profile.locale, "attributes": profile.attributes,
            "tier": balance["tier"], "balance": balance,
            "created_at": member.created_at, "updated_at": profiles.updated_at(member)}


def load(org_id: str, program_id: str, external_id: str, *,
         profile: bool = True) -> tuple[db.ProgramItem, db.MemberItem | None]:
    """The program (checked to be the organisation's) and the member with its profile (db.profile_of), in one
    BatchGetItem; `profile=False` for a reader of the account alone (its profile is then read if ever asked)."""
    program_key = db.ProgramItem.key(org_id, program_id)
    member_keys = profiles.keys(program_id, external_id) if profile else (db.MemberItem.key(program_id, external_id),)
    found = db.get_many(program_key, *member_keys)
    program = found.get(program_key)
    if not isinstance(program, db.ProgramItem):
        raise NotFound("No such program.")
    if profile:
        return program, profiles.member_from(found, program_id, external_id)
    member = found.get(member_keys[0])
    return program, member if isinstance(member, db.MemberItem) else None


def require(org_id: str, program_id: str, external_id: str, *,
            profile: bool = True) -> tuple[db.ProgramItem, db.MemberItem]:
    program, member = load(org_id, program_id, external_id, profile=profile)
    if member is None:
        raise NotFound("No such member.")
    return program, member


def get(org_id: str, program_id: str, external_id: str) -> dict:
    # Retried: a read that needs the account's sealed months may race a change that moves them.
    return with_retries(lambda: view(*reversed(require(org_id, program_id, external_id))))


def balance(org_id: str, program_id: str, external_id: str) -> dict:
    def attempt() -> dict:
        program, member = require(org_id, program_id, external_id, profile=False)
        return balance_view(member, program)

    return with_retries(attempt)  # as `get`


def upsert(org_id: str, program_id: str, external_id: str, changes: dict) -> tuple[dict, bool]:
    """Create the member or change the fields given (a field sent as null is cleared): its profile, and its
    account only when it is created (or still holds a profile written before the split)."""
    def attempt() -> tuple[dict, bool]:
        program, member = load(org_id, program_id, external_id)
        now_iso = clock.iso(clock.now())
        created = member is None
        member = member or account.new_member(org_id, program_id, external_id, now_iso)
        profiles.put(member, changes, now_iso, new_member=created)
        if created:
            announcements.welcome(program, member)
        return view(member, program), created

    return with_retries(attempt)


def transactions(org_id: str, program_id: str, external_id: str, query: dict) -> dict:
    require(org_id, program_id, external_id, profile=False)
    member_key = db.member_pk(program_id, external_id)
    scope = f"transactions:{member_key}"
    results = db.Item.gsi1.query(member_key, scan_index_forward=False, limit=pagination.limit_from(query),
                                 last_evaluated_key=pagination.decode(query, scope))
    return pagination.page(results, entries.transaction_view, scope)


def tier_history(org_id: str, program_id: str, external_id: str, query: dict) -> dict:
    require(org_id, program_id, external_id, profile=False)
    scope = f"tier-history:{db.member_pk(program_id, external_id)}"
    results = standing.history(program_id, external_id, pagination.limit_from(query), pagination.decode(query, scope))
    return pagination.page(results, standing.change_view, scope)


def open_session(org_id: str, program_id: str, external_id: str, ttl_seconds: int) -> dict:
    require(org_id, program_id, external_id, profile=False)
    token, expires_at = auth.issue_session(org_id, program_id, external_id, ttl_seconds)
    return {"token": token, "expires_at": expires_at}
