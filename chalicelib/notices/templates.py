"""Composing a message: the template for its kind in the member's language, filled with its values.

For each channel the first of these is used: the program's own template for the member's locale
(then for its language), the built-in one in that language, the same two for the program's
locale, then English (messaging.program_templates keeps a program's templates, checked when written, so a
message never fails on its template).

Email: subject, HTML (values escaped) and text; a marketing email gets the unsubscribe footer
whatever its template says. SMS: the text cut to the program's maximum number of segments.
"""
import html
import re

from chalicelib.core import db
from chalicelib.notices import builtin_templates, placeholders, sms_segments

PARTS = {"email": ("subject", "html", "text"), "sms": ("text",)}
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def overrides(program_id: str, kind: str) -> dict[str, db.TemplateItem]:
    """The program's templates of one kind, by locale (one Query)."""
    found = db.TemplateItem.query(f"PRG#{program_id}", db.TemplateItem.sk.startswith(f"TPL#{kind}#"))
    return {item.locale: item for item in found}


def candidates(member_locale: str | None, program_locale: str | None) -> list[str]:
    found = []
    for locale in (member_locale, program_locale, "en"):
        if locale:
            found += [locale, locale.split("-")[0].lower()]
    return list(dict.fromkeys(found))


def choose(channel: str, kind: str, own: dict[str, db.TemplateItem], member_locale: str | None,
           program_locale: str | None) -> tuple[dict, str]:
    """The channel's template parts and the language they are in (for the words around them)."""
    for locale in candidates(member_locale, program_locale):
        parts = getattr(own.get(locale), channel, None)
        if parts:
            return parts, builtin_templates.language(locale)
        if locale in builtin_templates.LANGUAGES:
            return builtin_templates.template(kind, locale)[channel], locale
    raise AssertionError("English is always a candidate")  # pragma: no cover


def _worded(kind: str, values: dict, lang: str) -> dict:
    """Values the built-in words stand for: a redemption's status as a phrase in the template's language."""
    status = builtin_templates.STATUSES[lang].get(values.get("status", "")) if kind == "redemption_status" else None
    return {**values, "status": placeholders.render(status, values)} if status else values


def _footer(values: dict, lang: str, url: str) -> tuple[str, str]:
    """The unsubscribe footer, as HTML and as text."""
    sentence, link, text = builtin_templates.FOOTERS[lang]
    sentence = placeholders.render(sentence, values)
    markup = (f'<p style="font-size: small; color: #666">{html.escape(sentence)} '
              f'<a href="{html.escape(url)}">{html.escape(link)}</a></p>')
    return markup, f"\n\n--\n{sentence}\n{placeholders.render(text, {'url': url})}"


def email(parts: dict, values: dict, kind: str, lang: str, unsubscribe_url: str | None = None) -> dict:
    values = _worded(kind, values, lang)
    subject = " ".join(placeholders.render(parts["subject"], values).split()) or values.get("program", "")
    markup, text = placeholders.render_html(parts["html"], values), placeholders.render(parts["text"], values)
    if unsubscribe_url:
        footer_html, footer_text = _footer(values, lang, unsubscribe_url)
        ends = list(_BODY_END.finditer(markup))
        at = ends[-1].start() if ends else len(markup)
        markup, text = markup[:at] + footer_html + "\n" + markup[at:], text + footer_text
    return {"subject": subject, "html": markup, "text": text}


def sms(parts: dict, values: dict, kind: str, lang: str, max_segments: int) -> dict:
    return {"text": sms_segments.fit(placeholders.render(parts["text"], _worded(kind, values, lang)), max_segments)}


def compose(channel: str, kind: str, program: db.ProgramItem, member_locale: str | None, values: dict, *,
            unsubscribe_url: str | None = None, max_segments: int = 1) -> dict:
    parts, lang = choose(channel, kind, overrides(program.program_id, kind), member_locale, program.locale)
    if channel == "email":
        return email(parts, values, kind, lang, unsubscribe_url)
    return sms(parts, values, kind, lang, max_segments)
