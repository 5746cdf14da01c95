"""The pure parts of a personal catalog: which translation a reader gets, who may redeem a reward and why
not, how many points a member is short, and the shapes a reward's segment and translations must have."""
import json

import pytest

from chalicelib.core import db, locales
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.web import parse_body
from chalicelib.rewards import catalog, eligibility
from chalicelib.rewards.shapes import Reward, RewardCreate

NOW = "2026-11-22T12:00:00.000Z"
TRANSLATIONS = {"fr": {"name": "Bon d'achat", "description": "Dix euros"}, "pt-BR": {"name": "Vale"},
                "de": {"description": "Zehn Euro"}}


def reward(**fields) -> db.RewardItem:
    return db.RewardItem("PRG#p", "RWD#r", **{"org_id": "o", "program_id": "p", "reward_id": "r",
                                              "reward_type": "gift_card", "name": "Voucher",
                                              "description": "Ten euros", "cost": 100, "active": True,
                                              "created_at": NOW, "updated_at": NOW, **fields})


def member(**fields) -> db.MemberItem:
    return db.MemberItem("PRG#p", "MBR#m", **{"org_id": "o", "program_id": "p", "external_id": "m",
                                              "created_at": "2026-01-01T00:00:00.000Z", **fields})


# --- which locale -----------------------------------------------------------------------------

def test_the_locale_asked_for_wins_then_the_members_then_the_programs():
    # Given every source of a locale, then fewer and fewer
    # When the wanted locale is chosen
    # Then it is the first one present, in that order
    assert locales.wanted("de", "fr", "en") == "de"
    assert locales.wanted(None, "fr", "en") == "fr"
    assert locales.wanted(None, None, "en") == "en"
    assert locales.wanted(None, None, None) is None


def test_a_regional_tag_falls_back_to_its_language_and_tags_ignore_case():
    # Given translations for fr, pt-BR and de
    # When tags are picked among them
    # Then a tag is served by itself, then by its language alone, whatever the case; else by none
    assert locales.pick(TRANSLATIONS, "fr") == "fr"
    assert locales.pick(TRANSLATIONS, "fr-CA") == "fr"
    assert locales.pick(TRANSLATIONS, "PT-br") == "pt-BR"
    assert locales.pick(TRANSLATIONS, "pt") is None  # a language is not served by one of its regions
    assert locales.pick(TRANSLATIONS, "it") is None
    assert locales.pick(TRANSLATIONS, None) is None
    assert locales.pick({}, "fr") is None


def test_a_translation_gives_its_own_fields_and_leaves_the_rest_to_the_reward():
    # Given a translation with both fields, one with a name only, one with a description only
    # When the reward is read in each, and in a language none serves
    # Then each field comes from the translation when it has it, and `locale` names the one used (None: none)
    read = {tag: locales.localized("Voucher", "Ten euros", TRANSLATIONS, tag) for tag in ("fr-CA", "pt-BR", "de", "it")}
    assert read["fr-CA"] == {"name": "Bon d'achat", "description": "Dix euros", "locale": "fr"}
    assert read["pt-BR"] == {"name": "Vale", "description": "Ten euros", "locale": "pt-BR"}
    assert read["de"] == {"name": "Voucher", "description": "Zehn Euro", "locale": "de"}
    assert read["it"] == {"name": "Voucher", "description": "Ten euros", "locale": None}
    assert locales.localized("Voucher", None, None, "fr") == {"name": "Voucher", "description": None, "locale": None}


def test_a_locale_asked_for_must_be_a_language_tag():
    # Given good and bad ?locale= values
    # When they are read
    # Then good ones are kept as given, bad ones are 400 naming the field
    assert locales.requested({"locale": "fr-CA"}) == "fr-CA"
    assert locales.requested({}) is None
    for bad in ("FR", "f", "fr_CA", "fr-", "", "en-" + "a" * 40, "../etc"):
        with pytest.raises(ValidationFailed) as refused:
            locales.requested({"locale": bad})
        assert refused.value.details == {"field": "locale"}


def test_staff_see_the_translations_and_segment_and_others_only_the_localized_text():
    # Given a reward with translations and a segment
    item = reward(translations=TRANSLATIONS, segment={"attributes": {"vip": True}})
    # When staff and a member read it in French
    staff, other = catalog.view(item, "fr", staff=True), catalog.view(item, "fr", staff=False)
    # Then both read it in French; only staff see every translation and the segment
    assert (staff["name"], staff["locale"]) == (other["name"], other["locale"]) == ("Bon d'achat", "fr")
    assert staff["translations"] == TRANSLATIONS and staff["segment"] == {"attributes": {"vip": True}}
    assert "translations" not in other and "segment" not in other
    Reward.model_validate(staff)
    Reward.model_validate(other)


# --- who may redeem -----------------------------------------------------------------------------

def test_a_reward_without_restrictions_is_for_everyone_in_stock_and_active():
    assert eligibility.reasons(reward(), member(), NOW) == []
    assert eligibility.reasons(reward(stock=3), member(), NOW) == []


def test_every_reason_a_member_cannot_redeem_is_named():
    # Given a reward that is inactive, for Gold members of a VIP segment, and out of stock
    item = reward(active=False, tiers=["Gold"], segment={"attributes": {"vip": True}}, stock=0)
    # When a Silver non-VIP member is checked against it
    reasons = eligibility.reasons(item, member(tier="Silver", attributes={"vip": False}), NOW)
    # Then every reason is given; the restrictions alone are tier and segment
    assert reasons == ["inactive", "tier", "segment", "out_of_stock"]
    assert eligibility.restrictions(item, member(tier="Silver"), NOW) == ["tier", "segment"]
    assert eligibility.restrictions(item, member(tier="Gold", attributes={"vip": True}), NOW) == []


def test_a_segment_means_on_a_reward_what_it_means_for_a_broadcast():
    # Given a reward for members active in the last 30 days
    item = reward(segment={"active_within_days": 30})
    # When a member changed yesterday and one changed last year are checked
    recent = member(updated_at="2026-11-21T12:00:00.000Z")
    stale = member(created_at="2025-11-01T00:00:00.000Z", updated_at="2025-11-01T00:00:00.000Z")
    # Then only the recent one may redeem it
    assert eligibility.restrictions(item, recent, NOW) == []
    assert eligibility.restrictions(item, stale, NOW) == ["segment"]


def test_points_short_is_what_the_cost_needs_beyond_the_available_points():
    assert [eligibility.points_short(100, available) for available in (0, 40, 99, 100, 5000)] == [100, 60, 1, 0, 0]


# --- the shapes --------------------------------------------------------------------------------

def test_a_rewards_translations_are_bounded_and_keyed_by_language_tags():
    # Given a good reward with translations and a segment
    good = parse_body(b'{"type": "gift_card", "name": "V", "cost": 1, "segment": {"tiers": ["Gold"]},'
                      b' "translations": {"fr-CA": {"name": "Bon"}, "de": {"description": "Zehn"}}}',
                      RewardCreate)
    assert good.translations["fr-CA"].name == "Bon" and good.segment.tiers == ["Gold"]
    # When bad translations are sent
    bad = {"a tag that is not one": {"fr_CA": {"name": "Bon"}},
           "an empty translation": {"fr": {}},
           "an empty name": {"fr": {"name": ""}},
           "a long description": {"fr": {"description": "x" * 2001}},
           "an unknown field": {"fr": {"title": "Bon"}},
           "too many": {f"{chr(97 + n // 26)}{chr(97 + n % 26)}": {"name": "n"} for n in range(31)},
           "none at all": {}}
    for case, translations in bad.items():
        body = {"type": "gift_card", "name": "V", "cost": 1, "translations": translations}
        # Then each is a 400 that names the translations
        with pytest.raises(ValidationFailed) as refused:
            parse_body(json.dumps(body).encode(), RewardCreate)
        assert refused.value.details["field"].startswith("translations"), case
