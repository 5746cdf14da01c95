"""A program's own message templates, per kind and locale: written, read, listed, removed, previewed.

A template is checked when it is written: it must parse (placeholders.py) and name only the
placeholders of its kind, else 400 naming the field. Without one of its own, a program uses the
built-in templates (builtin_templates.py); templates.py says which one a member gets.
"""
import re

from chalicelib.core import clock, db, pagination
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.locales import LOCALE
from chalicelib.members import programs
from chalicelib.notices import builtin_templates, message_kinds, placeholders, policy, sms_segments, templates

SAMPLE_NAME = "Ada"
SAMPLE_UNSUBSCRIBE_URL = "https://rewards.example.com/v1/unsubscribe/sample"


def kind_of(name: str) -> message_kinds.Kind:
    kind = message_kinds.KINDS.get(name)
    if kind is None:
        raise NotFound(f"No such message kind; the kinds are {', '.join(message_kinds.KINDS)}.")
    return kind


def _locale(locale: str) -> str:
    if len(locale) > 35 or not re.fullmatch(LOCALE, locale):
        raise ValidationFailed("locale must be a language code such as en, it or es-MX.", {"field": "locale"})
    return locale


def check(kind: message_kinds.Kind, document: dict) -> None:
    """Refuse (400, naming the field) a template that does not parse or names a value its kind lacks."""
    for channel, parts in document.items():
        for part, text in (parts or {}).items():
            try:
                placeholders.check(text, kind.placeholders)
            except placeholders.TemplateError as error:
                raise ValidationFailed(f"{channel}.{part}: {error}", {"field": f"{channel}.{part}"}) from None


# --- the program's own templates -----------------------------------------------------------

def _view(item: db.TemplateItem) -> dict:
    return {"kind": item.kind, "locale": item.locale, "source": "program", "email": item.email, "sms": item.sms,
            "updated_at": item.updated_at}


def _builtin_view(kind: str, locale: str) -> dict:
    lang = builtin_templates.language(locale)
    return {"kind": kind, "locale": lang, "source": "builtin", **builtin_templates.template(kind, lang),
            "updated_at": None}


def get(org_id: str, program_id: str, kind: str, locale: str) -> dict:
    """The program's template, or else the built-in one that locale falls back to."""
    programs.load(org_id, program_id)
    kind, locale = kind_of(kind).name, _locale(locale)
    item = db.get(db.TemplateItem, db.TemplateItem.key(program_id, kind, locale))
    return _view(item) if item else _builtin_view(kind, locale)


def put(org_id: str, program_id: str, kind: str, locale: str, document: dict) -> tuple[dict, bool]:
    programs.load(org_id, program_id)
    kind, locale = kind_of(kind), _locale(locale)
    check(kind, document)
    key = db.TemplateItem.key(program_id, kind.name, locale)
    existing = db.get(db.TemplateItem, key)
    stamp = clock.iso(clock.now())
    item = db.TemplateItem(*key, program_id=program_id, kind=kind.name, locale=locale, email=document.get("email"),
                           sms=document.get("sms"), created_at=existing.created_at if existing else stamp,
                           updated_at=stamp)
    item.save()
    return _view(item), existing is None


def delete(org_id: str, program_id: str, kind: str, locale: str) -> None:
    programs.load(org_id, program_id)
    key = db.TemplateItem.key(program_id, kind_of(kind).name, _locale(locale))
    if db.get(db.TemplateItem, key) is None:
        raise NotFound("This program has no template of its own for that kind and locale.")
    db.TemplateItem(*key).delete()


def list_(org_id: str, program_id: str, query: dict) -> dict:
    programs.load(org_id, program_id)
    return pagination.query_page(db.TemplateItem, f"PRG#{program_id}", "TPL#", query, f"templates:{program_id}",
                                 _view)


def preview(org_id: str, program_id: str, kind: str, locale: str, draft: dict) -> dict:
    """What a member with this locale would get (from the draft given, else the templates in use), with sample
    values, and how many segments the SMS takes."""
    program = programs.load(org_id, program_id)
    kind, locale = kind_of(kind), _locale(locale)
    check(kind, draft)
    own = templates.overrides(program_id, kind.name)
    values = {"name": SAMPLE_NAME, "program": program.name, "currency": program.currency_name, **kind.sample}
    answer = {}
    for channel in templates.PARTS:
        parts, lang = (draft[channel], builtin_templates.language(locale)) if draft.get(channel) else \
            templates.choose(channel, kind.name, own, locale, program.locale)
        if channel == "email":
            url = SAMPLE_UNSUBSCRIBE_URL if kind.category == "marketing" else None
            answer["email"] = templates.email(parts, values, kind.name, lang, url)
        else:
            max_segments = policy.settings_of(program)["sms_max_segments"]
            text = templates.sms(parts, values, kind.name, lang, max_segments)["text"]
            answer["sms"] = {"text": text, **sms_segments.describe(text)}
    return answer
