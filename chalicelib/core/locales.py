"""Which of a reward's translations a reader gets: the locale asked for, else the reader's, else the program's.

A tag is served by itself, else by its language alone (fr-CA by fr); nothing serving it leaves the
reward's own name and description. Tags compare without regard to case, as BCP 47 says.
"""
import re
from typing import Iterable, Optional

from chalicelib.core.errors import ValidationFailed

LOCALE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"  # a BCP 47 tag, as the contract accepts it (wire.Locale)
TAG = re.compile(LOCALE)
MAX_TAG = 35


def requested(query: Optional[dict]) -> Optional[str]:
    """The `?locale=` of a read, if any (a malformed one is 400)."""
    tag = (query or {}).get("locale")
    if tag is None:
        return None
    if len(tag) > MAX_TAG or not TAG.fullmatch(tag):
        raise ValidationFailed("locale must be a language tag such as fr or fr-CA.", {"field": "locale"})
    return tag


def wanted(asked: Optional[str], member_locale: Optional[str], program_locale: Optional[str]) -> Optional[str]:
    """The locale a read is for: the one asked for, else the member's language, else the program's."""
    return asked or member_locale or program_locale


def pick(available: Iterable[str], tag: Optional[str]) -> Optional[str]:
    """The tag among `available` that serves `tag`: itself, else its language alone; None when none does."""
    if not tag:
        return None
    by_lower = {known.lower(): known for known in available}
    language = tag.lower().split("-", 1)[0]
    return by_lower.get(tag.lower()) or by_lower.get(language)


def localized(name: str, description: Optional[str], translations: Optional[dict], tag: Optional[str]) -> dict:
    """`name`, `description` and `locale` as read in `tag`: a translation's own fields over the reward's
    (a translation may give only one of them); `locale` None when no translation serves it."""
    chosen = pick(translations or {}, tag)
    text = (translations or {}).get(chosen) or {}
    return {"name": text.get("name", name), "description": text.get("description", description), "locale": chosen}
