"""Organisations and their API keys."""
from datetime import datetime
from typing import Optional

from chalicelib.core import auth, clock, db, ids, pagination, settings
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.transact import Tx


def _key_view(item: db.ApiKeyItem) -> dict:
    view = {"id": item.key_id, "name": item.name, "role": item.role, "created_at": item.created_at}
    for name in ("revoked_at", "program_id", "expires_at", "allowed_sources"):
        if getattr(item, name):
            view[name] = getattr(item, name)
    return view


def _new_key(org_id: str, name: str, role: str, now_iso: str, **limits) -> tuple[db.ApiKeyItem, str]:
    key_id, salt = ids.new_id("key"), auth.new_salt()
    secret = auth.key_secret(org_id, key_id, salt)
    item = db.ApiKeyItem(*db.ApiKeyItem.key(org_id, key_id), org_id=org_id, key_id=key_id, name=name,
                         role=role, secret_hash=auth.hash_secret(secret), salt=salt, created_at=now_iso, **limits)
    return item, secret


def create_org(name: str) -> dict:
    """The organisation and its first admin key, in one transaction: never one without the other."""
    now_iso = clock.iso(clock.now())
    org_id = ids.new_id("org")
    org = db.OrgItem(*db.OrgItem.key(org_id), org_id=org_id, name=name, created_at=now_iso)
    key, secret = _new_key(org_id, "admin", "admin", now_iso)
    tx = Tx()
    tx.put("org", org, condition=db.OrgItem.pk.does_not_exist())
    tx.put("key", key)
    tx.commit()
    return {"id": org_id, "name": name, "admin_key": {"id": key.key_id, "secret": secret}}


def get_org(org_id: str) -> dict:
    org = db.get(db.OrgItem, db.OrgItem.key(org_id), consistent=False)
    if org is None:
        raise NotFound("No such organisation.")
    return {"id": org.org_id, "name": org.name,
            "partner_events_queue_url": settings.partner_events_queue_url(),
            "partner_events_dlq_url": settings.partner_events_dlq_url()}


def create_key(org_id: str, name: str, role: str, program_id: Optional[str] = None,
               expires_at: Optional[datetime] = None, allowed_sources: Optional[list[str]] = None) -> dict:
    """A key; `program_id` scopes it to one of the organisation's programs, `expires_at` (in the future) ends
    it, `allowed_sources` (CIDRs) limits where it may be used from."""
    now = clock.now()
    if program_id and db.get(db.ProgramItem, db.ProgramItem.key(org_id, program_id), consistent=False) is None:
        raise ValidationFailed("program_id names no program of this organisation.", {"field": "program_id"})
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("expires_at must be in the future.", {"field": "expires_at"})
    key, secret = _new_key(org_id, name, role, clock.iso(now), program_id=program_id,
                           expires_at=clock.iso(expires_at) if expires_at else None,
                           allowed_sources=allowed_sources or None)
    key.save(condition=db.ApiKeyItem.pk.does_not_exist())
    return {**_key_view(key), "secret": secret}


def list_keys(org_id: str, query: dict) -> dict:
    return pagination.query_page(db.ApiKeyItem, f"ORG#{org_id}", "KEY#", query, f"keys:{org_id}", _key_view)


def revoke_key(org_id: str, key_id: str) -> None:
    item = db.get(db.ApiKeyItem, db.ApiKeyItem.key(org_id, key_id))
    if item is None:
        raise NotFound("No such API key.")
    if not item.revoked_at:
        item.update(actions=[db.ApiKeyItem.revoked_at.set(clock.iso(clock.now()))])
    auth.keys.forget(org_id, key_id)


def key_program(org_id: str, key_id: str) -> Optional[str]:
    """The one program a key is scoped to (None: every program of its organisation); cached as the key is."""
    item = auth.keys.get(org_id, key_id)
    return item.program_id if item else None


def partner_key_secret(org_id: str, key_id: str) -> str | None:
    """The secret a partner signs queue messages with, if the key may send events."""
    item = auth.keys.get(org_id, key_id)
    if item is None or item.revoked_at or item.role not in ("partner", "admin"):
        return None
    return auth.key_secret(org_id, key_id, item.salt)
