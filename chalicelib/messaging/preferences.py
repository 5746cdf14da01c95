"""What a member wants to receive: email and SMS, transactional and marketing, each on or off.

Also whether the member appears on the program's leaderboards (`leaderboard.listed`, on until the member opts
out; chalicelib/insight/leaderboard.py follows it from the stream).

Transactional messages (rewards, redemptions, points, tiers) are on until the member turns them
off; marketing (broadcasts) is on for email, where every message carries a one-click unsubscribe
link, and off for SMS until the member opts in, as carriers expect. Separately, a phone that
replied STOP gets no SMS at all until it replies START (the inbound SMS function).

Consent: each marketing choice made (an opt-in or an opt-out, by email or SMS) is recorded with when and how
(`via`: an admin's key, the member's own session, the unsubscribe link), in the same UpdateItem as the choice,
and shown in the member's export (chalicelib/privacy/export.py). A default never set is no consent recorded.
"""
from chalicelib.core import auth, clock, db
from chalicelib.core.errors import NotFound
from chalicelib.members import membership

DEFAULTS = {"email": {"transactional": True, "marketing": True},
            "sms": {"transactional": True, "marketing": False}}
UNSUBSCRIBE = "unsubscribe"  # the label unsubscribe tokens are signed under


def _attribute(channel: str, category: str):
    return getattr(db.PreferencesItem, f"{channel}_{category}")


def of(item: db.PreferencesItem | None) -> dict:
    """The member's choices, defaults filled in."""
    def choice(channel: str, category: str, default: bool) -> bool:
        value = getattr(item, f"{channel}_{category}") if item else None
        return default if value is None else value

    return {channel: {category: choice(channel, category, default) for category, default in categories.items()}
            for channel, categories in DEFAULTS.items()}


def allows(item: db.PreferencesItem | None, channel: str, category: str) -> bool:
    return of(item)[channel][category]


def stopped(phone: str | None) -> bool:
    return bool(phone) and db.get(db.PhoneOptOutItem, db.PhoneOptOutItem.key(phone), consistent=False) is not None


def _view(item: db.PreferencesItem | None, phone: str | None) -> dict:
    choices = of(item)
    choices["sms"]["stopped"] = stopped(phone)
    if item is not None and item.leaderboard_listed is not None:
        choices["leaderboard"] = {"listed": item.leaderboard_listed}
    return {**choices, "updated_at": item.updated_at if item else None}


def get(org_id: str, program_id: str, external_id: str) -> dict:
    _, member = membership.require(org_id, program_id, external_id)
    return _view(db.get(db.PreferencesItem, db.PreferencesItem.key(program_id, external_id)), db.profile_of(member).phone)


CONSENTED = ("email", "sms")  # the channels whose marketing choice is a consent, recorded with when and how


def _set(program_id: str, external_id: str, changes: dict, via: str) -> db.PreferencesItem:
    """One UpdateItem of the choices given, with the consent each marketing choice records; the others keep
    theirs (no read, so no lost update)."""
    now_iso = clock.iso(clock.now())
    actions = [_attribute(channel, category).set(value)
               for channel, choices in changes.items() for category, value in (choices or {}).items()]
    actions += [getattr(db.PreferencesItem, f"{channel}_marketing_consent").set(
                    {"granted": (changes[channel] or {})["marketing"], "at": now_iso, "via": via})
                for channel in CONSENTED if "marketing" in (changes.get(channel) or {})]
    item = db.PreferencesItem(*db.PreferencesItem.key(program_id, external_id))
    item.update(actions=[db.PreferencesItem.item_type.set(db.PreferencesItem),
                         db.PreferencesItem.updated_at.set(now_iso), *actions])
    return item


def update(org_id: str, program_id: str, external_id: str, changes: dict, via: str = "admin") -> dict:
    """`via`: how the choice was made (admin: an admin's key; member: the member's own session)."""
    _, member = membership.require(org_id, program_id, external_id)
    return _view(_set(program_id, external_id, changes, via), db.profile_of(member).phone)


def consents(program_id: str, external_id: str) -> dict:
    """The marketing consents recorded, per channel: granted or withdrawn, when and how (None: never chosen)."""
    item = db.get(db.PreferencesItem, db.PreferencesItem.key(program_id, external_id))
    return {channel: getattr(item, f"{channel}_marketing_consent") if item else None for channel in CONSENTED}


# --- the unsubscribe link ------------------------------------------------------------------

def unsubscribe_token(org_id: str, program_id: str, external_id: str) -> str:
    return auth.link_token(UNSUBSCRIBE, f"{org_id}\n{program_id}\n{external_id}")


def _member_of(token: str) -> tuple[db.ProgramItem, db.MemberItem]:
    text = auth.read_link_token(UNSUBSCRIBE, token) if len(token) <= 1024 else None
    parts = text.split("\n") if text else []
    if len(parts) != 3:  # not a link this deployment made: nothing to find
        raise NotFound("This unsubscribe link is not valid.")
    program, member = membership.load(*parts)
    if member is None:
        raise NotFound("No such member.")
    return program, member


def unsubscribe_page(token: str) -> tuple[db.ProgramItem, db.MemberItem]:
    """Who the link is for, to ask them (a GET changes nothing: mail scanners follow links)."""
    return _member_of(token)


def unsubscribe(token: str) -> tuple[db.ProgramItem, db.MemberItem]:
    """Turn the member's marketing email off."""
    program, member = _member_of(token)
    _set(member.program_id, member.external_id, {"email": {"marketing": False}}, "unsubscribe_link")
    return program, member


# --- STOP and START from a phone -----------------------------------------------------------

def stop(phone: str) -> None:
    db.PhoneOptOutItem(*db.PhoneOptOutItem.key(phone), opted_out_at=clock.iso(clock.now())).save()


def start(phone: str) -> None:
    db.PhoneOptOutItem(*db.PhoneOptOutItem.key(phone)).delete()
