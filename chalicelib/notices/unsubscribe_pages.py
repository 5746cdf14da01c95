"""The two small pages an unsubscribe link shows a person, in the member's language.

Opening the link asks (mail scanners open links, so a GET changes nothing); the button posts to
the same address, which unsubscribes and says so. Nothing on them loads from elsewhere, and the
address (whose token is the member's) is never sent on as a referrer.
"""
import html

from chalice import Response

from chalicelib.core import db
from chalicelib.notices import builtin_templates, placeholders

HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'"}


def _page(lang: str, title: str, body: str) -> Response:
    document = (f'<!doctype html>\n<html lang="{lang}">\n<head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{html.escape(title)}</title></head>\n"
                f'<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">\n{body}\n</body>\n</html>')
    return Response(body=document, status_code=200, headers=HEADERS)


def _words(program: db.ProgramItem, member: db.MemberItem) -> tuple[str, tuple[str, str, str]]:
    lang = builtin_templates.language(db.profile_of(member).locale or program.locale)
    question, button, done = builtin_templates.PAGES[lang]
    values = {"program": program.name}
    return lang, (placeholders.render(question, values), button, placeholders.render(done, values))


def ask(program: db.ProgramItem, member: db.MemberItem) -> Response:
    lang, (question, button, _) = _words(program, member)
    return _page(lang, question, f"<h1>{html.escape(question)}</h1>\n"
                                 f'<form method="post"><button type="submit">{html.escape(button)}</button></form>')


def done(program: db.ProgramItem, member: db.MemberItem) -> Response:
    lang, (_, _, answer) = _words(program, member)
    return _page(lang, answer, f"<h1>{html.escape(answer)}</h1>")
