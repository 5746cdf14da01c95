"""The template language: literal text with `{name}` placeholders, and nothing else.

No format strings: `{a.b}`, `{a[0]}`, `{a!r}`, `{a:>9}` and `{0}` are refused, so a template can
never reach an attribute or an object; `{{` and `}}` write a literal brace. Values are plain
strings, inserted as they are (text) or HTML-escaped (HTML). A line whose placeholders all come
out empty is left out, so an optional value (a gift-card code, a member without a name) takes its
line with it instead of leaving "Your code: " behind.
"""
import html
import re
from dataclasses import dataclass
from typing import Callable, Iterable

NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")
_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}\n]*\}|[{}]")


class TemplateError(ValueError):
    """The text is not a valid template; the message says where and why."""


@dataclass(frozen=True)
class Placeholder:
    name: str


Line = list  # of str (literal text) and Placeholder


def parse(text: str) -> list[Line]:
    lines = []
    for number, raw in enumerate(text.split("\n"), start=1):
        parts: Line = []
        position = 0
        for token in _TOKEN.finditer(raw):
            parts.append(raw[position:token.start()])
            position = token.end()
            value = token.group()
            if value in ("{{", "}}"):
                parts.append(value[0])
            elif len(value) > 1 and NAME.fullmatch(value[1:-1]):
                parts.append(Placeholder(value[1:-1]))
            elif len(value) > 1:
                raise TemplateError(f"line {number}: {value} is not a placeholder; write {{name}} with a "
                                    f"lowercase name, or {{{{ and }}}} for literal braces")
            else:
                raise TemplateError(f"line {number}: a lone '{value}'; write {{{{ or }}}} for a literal brace")
        parts.append(raw[position:])
        lines.append([part for part in parts if part != ""])
    return lines


def names(text: str) -> set[str]:
    return {part.name for line in parse(text) for part in line if isinstance(part, Placeholder)}


def check(text: str, allowed: Iterable[str]) -> None:
    """Refuse a template that does not parse or names a value its kind does not have."""
    allowed = set(allowed)
    unknown = sorted(names(text) - allowed)
    if unknown:
        raise TemplateError(f"unknown placeholder {{{unknown[0]}}}; this kind has "
                            + ", ".join(f"{{{name}}}" for name in sorted(allowed)))


def _html_value(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "<br>")


def render(text: str, values: dict[str, str], escape: Callable[[str], str] | None = None) -> str:
    """The text with each placeholder replaced by its value (missing: empty), escaped if asked."""
    out = []
    for line in parse(text):
        filled = [(values.get(part.name) or "") if isinstance(part, Placeholder) else None for part in line]
        if filled and all(value == "" for value in filled if value is not None) and any(
                value is not None for value in filled):
            continue
        out.append("".join(part if value is None else (escape(value) if escape else value)
                           for part, value in zip(line, filled)))
    return "\n".join(out)


def render_html(text: str, values: dict[str, str]) -> str:
    return render(text, values, _html_value)
