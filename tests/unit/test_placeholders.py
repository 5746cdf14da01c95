"""The template language: `{name}` placeholders from a list, literal braces, nothing that reaches an object."""
import pytest

from chalicelib.notices import placeholders
from chalicelib.notices.placeholders import TemplateError


def test_placeholders_are_filled_and_doubled_braces_are_literal():
    assert placeholders.render("Hi {name}, {{not a placeholder}}: {points}!", {"name": "Ada", "points": "12"}) == (
        "Hi Ada, {not a placeholder}: 12!")


@pytest.mark.parametrize("template", [
    "{a.b}", "{name.__class__}", "{a[0]}", "{name!r}", "{points:>9}", "{0}", "{}", "{ name }", "{Name}",
    "a { b", "a } b", "{name", "name}", "{{name}", "{na\nme}",
])
def test_anything_but_a_plain_name_is_refused(template):
    with pytest.raises(TemplateError):
        placeholders.check(template, ["name", "points", "a"])


def test_an_unknown_placeholder_is_refused_with_the_ones_the_kind_has():
    # Given a template naming a value (even a dunder) that is not in the list
    for template in ("Hi {nme}", "{__class__}"):
        with pytest.raises(TemplateError) as refused:
            placeholders.check(template, ["name", "points"])
        # Then the message names it and lists what may be used
        assert "unknown placeholder" in str(refused.value) and "{name}, {points}" in str(refused.value)


def test_the_error_says_which_line():
    with pytest.raises(TemplateError, match="line 2"):
        placeholders.parse("fine {name}\nbroken {a.b}")


def test_values_are_inserted_as_they_are_never_read_as_templates():
    assert placeholders.render("{name}", {"name": "{points} {{x}}"}) == "{points} {{x}}"


def test_html_escapes_values_but_not_the_template():
    values = {"name": '<script>alert("x")</script> & co', "body": "line one\nline two"}
    assert placeholders.render_html("<p><b>{name}</b></p><p>{body}</p>", values) == (
        "<p><b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</b></p><p>line one<br>line two</p>")


def test_a_line_whose_placeholders_are_all_empty_is_left_out():
    template = "Hi {name},\nyour reward is here.\nYour code: {code}\n\n{program}: {code}"
    assert placeholders.render(template, {"name": "", "program": "Club"}) == "your reward is here.\n\nClub: "
    assert placeholders.render(template, {"name": "Ada", "code": "X-1", "program": "Club"}) == (
        "Hi Ada,\nyour reward is here.\nYour code: X-1\n\nClub: X-1")
