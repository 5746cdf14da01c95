"""Members of a program: their profile, balance, transactions and sessions."""
from chalicelib.core import auth, clock, db, pagination
from chalicelib.core.errors import NotFound
from chalicelib.core.transact import save_or_retry, with_retries
from chalicelib.members import account, entries, standing
from chalicelib.notices import announcements


def balance_view(member: db.MemberItem, program: db.ProgramItem) -> dict:
    """The balance with the member's stored tier and its progress toward the next one."""
    return account.Account(program, member, clock.now()).balance_with_progress()


def view(member: db.MemberItem, program: db.ProgramItem) -> dict:
    balance = balance_view(member, program)
    return {"external_id": member.external_id, "email": member.email, "phone": member.phone,
            "name": member.name, "locale": member.locale, "attributes": member.attributes,
            "tier": balance["tier"], "balance": balance,
            "created_at": member.created_at, "updated_at": member.updated_at}


def load(org_id: str, program_id: str, external_id: str) -> tuple[db.ProgramItem, db.MemberItem | None]:
    """The program (checked to be the organisation's) and the member, in one BatchGetItem."""
    program_key = db.ProgramItem.key(org_id, program_id)
    member_key = db.MemberItem.key(program_id, external_id)
    found = db.get_many(program_key, member_key)
    program = found.get(program_key)
    if not isinstance(program, db.ProgramItem):
        raise NotFound("No such program.")
    member = found.get(member_key)
    return program, member if isinstance(member, db.MemberItem) else None


def require(org_id: str, program_id: str, external_id: str) -> tuple[db.ProgramItem, db.MemberItem]:
    program, member = load(org_id, program_id, external_id)
    if member is None:
        raise NotFound("No such member.")
    return program, member


def get(org_id: str, program_id: str, external_id: str) -> dict:
    return view(*reversed(require(org_id, program_id, external_id)))


def balance(org_id: str, program_id: str, external_id: str) -> dict:
    program, member = require(org_id, program_id, external_id)
    return balance_view(member, program)


def upsert(org_id: str, program_id: str, external_id: str, changes: dict) -> tuple[dict, bool]:
    """Create the member or change the fields given (a field sent as null is cleared)."""
    def attempt() -> tuple[dict, bool]:
        program, member = load(org_id, program_id, external_id)
        now_iso = clock.iso(clock.now())
        created = member is None
        member = member or account.new_member(org_id, program_id, external_id, now_iso)
        for name, value in changes.items():
            setattr(member, name, value)
        member.updated_at = now_iso
        save_or_retry(member)
        if created:
            announcements.welcome(program, member)
        return view(member, program), created

    return with_retries(attempt)


def transactions(org_id: str, program_id: str, external_id: str, query: dict) -> dict:
    require(org_id, program_id, external_id)
    member_key = db.member_pk(program_id, external_id)
    scope = f"transactions:{member_key}"
    results = db.Item.gsi1.query(member_key, scan_index_forward=False, limit=pagination.limit_from(query),
                                 last_evaluated_key=pagination.decode(query, scope))
    return pagination.page(results, entries.transaction_view, scope)


def tier_history(org_id: str, program_id: str, external_id: str, query: dict) -> dict:
    require(org_id, program_id, external_id)
    scope = f"tier-history:{db.member_pk(program_id, external_id)}"
    results = standing.history(program_id, external_id, pagination.limit_from(query), pagination.decode(query, scope))
    return pagination.page(results, standing.change_view, scope)


def open_session(org_id: str, program_id: str, external_id: str, ttl_seconds: int) -> dict:
    require(org_id, program_id, external_id)
    token, expires_at = auth.issue_session(org_id, program_id, external_id, ttl_seconds)
    return {"token": token, "expires_at": expires_at}
