"""Composing messages: every kind in every built-in language, the fallback order, and the marketing footer."""
import re

import pytest

from chalicelib.core import db
from chalicelib.notices import builtin_templates, message_kinds, placeholders, sms_segments, templates

KINDS = sorted(message_kinds.KINDS)
LANGUAGES = builtin_templates.LANGUAGES
VALUES = {"name": "Ada <Lovelace>", "program": "Coffee & Co", "currency": "beans", "points": "120",
          "balance": "1250", "reward": "Pastry <voucher>", "code": "PASTRY-0001", "status": "failed", "tier": "Gold",
          "previous_tier": "Silver", "day": "2026-12-31", "title": "Double points", "body": "Until Sunday.", "charity": "Clean Seas"}
# A word each language's text of each kind must carry, so a template mixed up between kinds or languages fails.
WORDS = {"en": {"welcome": "welcome", "points_earned": "earned", "reward_delivered": "delivered",
                "redemption_status": "given back", "tier_up": "congratulations", "tier_down": "ended",
                "points_expiring": "expire", "campaign_announcement": "Until Sunday", "donation_receipt": "receipt"},
         "it": {"welcome": "benvenuto", "points_earned": "guadagnato", "reward_delivered": "consegnato",
                "redemption_status": "restituiti", "tier_up": "complimenti", "tier_down": "terminato",
                "points_expiring": "scadono", "campaign_announcement": "Until Sunday",
               "donation_receipt": "ricevuta"},
         "es": {"welcome": "bienvenida", "points_earned": "ganar", "reward_delivered": "entregada",
                "redemption_status": "devuelto", "tier_up": "enhorabuena", "tier_down": "terminado",
                "points_expiring": "caducan", "campaign_announcement": "Until Sunday",
               "donation_receipt": "recibo"}}


def values_of(kind: str) -> dict:
    allowed = message_kinds.KINDS[kind].placeholders
    return {name: value for name, value in VALUES.items() if name in allowed}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_builtin_uses_only_its_kinds_placeholders(kind, lang):
    for parts in builtin_templates.template(kind, lang).values():
        for text in parts.values():
            placeholders.check(text, message_kinds.KINDS[kind].placeholders)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_kind_composes_an_email_in_every_language(kind, lang):
    # Given the built-in email of the kind in the language, and values that need escaping
    parts, chosen = templates.choose("email", kind, {}, lang, "en")
    # When it is composed
    email = templates.email(parts, values_of(kind), kind, chosen)
    # Then it is in that language, with its values in the text as they are and escaped in the HTML
    assert chosen == lang and WORDS[lang][kind] in email["text"].lower() + email["text"]
    assert email["subject"] and "\n" not in email["subject"] and "{" not in email["subject"]
    used = placeholders.names(parts["text"]) | placeholders.names(parts["subject"])
    for name in used - {"status"}:  # the status is worded (below)
        assert VALUES[name] in email["text"] + email["subject"], name
    if "name" in values_of(kind):
        assert "Ada &lt;Lovelace&gt;" in email["html"] and "Ada <Lovelace>" not in email["html"]
    assert "Coffee &amp; Co" in email["html"] or "Coffee" not in email["text"]
    assert email["html"].startswith("<!doctype html>") and not re.search(r"\{[a-z_]+\}", email["html"] + email["text"])
    # and nothing marketing-only, as it is not a marketing message
    assert "unsubscribe" not in email["text"].lower()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_kind_composes_an_sms_in_every_language_within_its_segments(kind, lang):
    parts, chosen = templates.choose("sms", kind, {}, lang, "en")
    sms = templates.sms(parts, values_of(kind), kind, chosen, max_segments=2)["text"]
    assert sms and sms_segments.segments(sms) <= 2 and not re.search(r"\{[a-z_]+\}", sms)
    if kind == "reward_delivered":
        assert sms.splitlines()[0].endswith("PASTRY-0001")  # the code first: cutting never loses it


@pytest.mark.parametrize("lang, encoding", [("en", "GSM-7"), ("it", "GSM-7"), ("es", "UCS-2")])
def test_the_same_sms_is_gsm_in_english_and_italian_but_unicode_in_spanish(lang, encoding):
    # Italian accents (è) are in the GSM alphabet; Spanish ó is not, so "Código" makes the SMS UCS-2
    parts, chosen = templates.choose("sms", "reward_delivered", {}, lang, "en")
    sms = templates.sms(parts, values_of("reward_delivered"), "reward_delivered", chosen, 3)["text"]
    assert sms_segments.encoding(sms) == encoding


def test_an_sms_longer_than_the_programs_limit_is_cut():
    long_body = "Every purchase earns twice the points this weekend. " * 20
    parts, lang = templates.choose("sms", "campaign_announcement", {}, "en", "en")
    for limit in (1, 2, 3):
        sms = templates.sms(parts, {**VALUES, "body": long_body}, "campaign_announcement", lang, limit)["text"]
        assert sms_segments.segments(sms) == limit and sms.endswith("...")


def test_an_optional_value_takes_its_line_with_it():
    parts, lang = templates.choose("email", "reward_delivered", {}, "en", "en")
    email = templates.email(parts, {**values_of("reward_delivered"), "code": "", "name": ""}, "reward_delivered", lang)
    assert email["text"] == 'your reward "Pastry <voucher>" has been delivered.'
    assert "Your code" not in email["html"] and "Hi" not in email["html"]


def test_a_marketing_email_carries_the_unsubscribe_link_whatever_its_template():
    # Given a program's own campaign template with no link, and an unsubscribe URL
    own = {"en": db.TemplateItem(email={"subject": "{title}", "html": "<html><body><h1>{title}</h1></body></html>",
                                        "text": "{body}"})}
    parts, lang = templates.choose("email", "campaign_announcement", own, "en", "en")
    url = "https://rewards.example.com/v1/unsubscribe/abc.def?x=1&y=2"
    # When it is composed
    email = templates.email(parts, VALUES, "campaign_announcement", lang, unsubscribe_url=url)
    # Then the link is in the HTML (escaped, before the body ends) and in the text
    assert email["html"].endswith('<a href="https://rewards.example.com/v1/unsubscribe/abc.def?x=1&amp;y=2">'
                                  'Unsubscribe from these emails</a></p>\n</body></html>')
    assert email["text"].endswith(f"\n\n--\nYou receive this as a member of Coffee & Co.\nUnsubscribe: {url}")


def test_a_subject_that_comes_out_empty_is_the_programs_name():
    parts, lang = templates.choose("email", "campaign_announcement", {}, "en", "en")
    assert templates.email(parts, {**VALUES, "title": ""}, "campaign_announcement", lang)["subject"] == "Coffee & Co"


@pytest.mark.parametrize("lang, phrase", [("en", "could not be completed, so your beans have been given back"),
                                          ("it", "non è andata a buon fine: i tuoi beans ti sono stati restituiti"),
                                          ("es", "no se ha podido completar: te hemos devuelto tus beans")])
def test_a_redemption_status_reads_as_a_phrase_in_the_templates_language(lang, phrase):
    parts, chosen = templates.choose("email", "redemption_status", {}, lang, "en")
    assert phrase in templates.email(parts, values_of("redemption_status"), "redemption_status", chosen)["text"]


# --- which template a member gets ----------------------------------------------------------

def own(locale: str, channel: str = "email") -> db.TemplateItem:
    parts = {"subject": f"own {locale}", "html": f"own {locale}", "text": f"own {locale}"} if channel == "email" \
        else {"text": f"own {locale}"}
    return db.TemplateItem(locale=locale, **{channel: parts})


@pytest.mark.parametrize("overrides, member, program, expected", [
    ({"it-CH": own("it-CH"), "it": own("it")}, "it-CH", "en", ("own it-CH", "it")),  # the member's own locale
    ({"it": own("it")}, "it-CH", "en", ("own it", "it")),  # then its language
    ({"es": own("es")}, "it-CH", "es", ("Ciao", "it")),  # the built-in in the member's language beats the program's
    ({"de": own("de")}, "fr", "de", ("own de", "en")),  # no built-in French: the program's locale, its own template
    ({}, "fr", "es", ("Hola", "es")),  # ... or the built-in one
    ({}, "fr", "de", ("Hi", "en")),  # then English
    ({"en": own("en")}, None, None, ("own en", "en")),  # a program's own English template beats the built-in
])
def test_the_fallback_order(overrides, member, program, expected):
    parts, lang = templates.choose("email", "welcome", overrides, member, program)
    assert (parts["text"].split(" ")[0] if not parts["text"].startswith("own") else parts["text"], lang) == expected


def test_a_template_without_the_channel_falls_back_for_that_channel_only():
    overrides = {"it": own("it", channel="sms")}
    assert templates.choose("sms", "welcome", overrides, "it", "en")[0] == {"text": "own it"}
    assert templates.choose("email", "welcome", overrides, "it", "en")[0]["text"].startswith("Ciao")
