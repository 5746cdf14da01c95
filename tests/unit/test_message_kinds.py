"""What publishers must give per kind, the links Laurel signs, and the request shapes of communications."""
import json

import pytest

from chalicelib.core import auth
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.web import parse_body
from chalicelib.earning.shapes import ProgramCreate
from chalicelib.members.shapes import MemberUpsert
from chalicelib.messaging import preferences
from chalicelib.messaging.shapes import BroadcastCreate, PreferencesUpdate, TemplateUpsert
from chalicelib.notices import message_kinds, notifications

MEMBER = {"org_id": "org_1", "program_id": "prg_1", "external_id": "ada"}
PAYLOADS = {"welcome": {}, "points_earned": {"txn_id": "txn_1", "points": 12, "balance": 112},
            "reward_delivered": {"redemption_id": "rdm_1"},
            "redemption_status": {"redemption_id": "rdm_1", "status": "failed"},
            "donation_receipt": {"redemption_id": "rdm_1", "charity": "Clean Seas", "points": 500},
            "tier_up": {"tier": "Gold", "day": "2026-06-01"}, "tier_down": {"tier": None, "day": "2026-06-01"},
            "points_expiring": {"day": "2026-06-01", "points": 300}, "campaign_announcement": {"broadcast_id": "brd_1"}}


def test_every_kind_has_a_documented_payload():
    assert set(PAYLOADS) == set(message_kinds.KINDS)
    for kind, payload in PAYLOADS.items():
        assert f"`{kind}`" in notifications.__doc__ and not message_kinds.missing_fields(
            message_kinds.KINDS[kind], {**MEMBER, **payload})


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_a_payload_missing_a_field_is_refused_before_anything_is_published(kind):
    # (the unit tier has no network: reaching SNS would fail differently)
    for missing in [*MEMBER, *PAYLOADS[kind]]:
        payload = {name: value for name, value in {**MEMBER, **PAYLOADS[kind]}.items() if name != missing}
        with pytest.raises(ValueError, match=missing):
            notifications.publish(kind, ["email"], payload)
    with pytest.raises(ValueError, match="unknown message kind"):
        notifications.publish("birthday", ["email"], MEMBER)


def test_the_subject_names_what_the_message_is_about():
    subjects = {kind: message_kinds.KINDS[kind].subject({**MEMBER, **payload}) for kind, payload in PAYLOADS.items()}
    assert subjects == {"welcome": "welcome", "points_earned": "points_earned:txn_1",
                        "reward_delivered": "reward_delivered:rdm_1", "redemption_status": "redemption_status:rdm_1:failed",
                        "donation_receipt": "donation_receipt:rdm_1",
                        "tier_up": "tier_up:Gold:2026-06-01", "tier_down": "tier_down:None:2026-06-01",
                        "points_expiring": "points_expiring:2026-06-01",
                        "campaign_announcement": "campaign_announcement:brd_1"}


def test_only_marketing_is_marketing_and_only_the_urgent_go_at_once():
    kinds = message_kinds.KINDS.values()
    assert {k.name for k in kinds if k.category == "marketing"} == {"campaign_announcement"}
    assert {k.name for k in kinds if not k.deferrable} == {"welcome", "reward_delivered", "redemption_status"}


def test_an_unsubscribe_token_names_its_member_and_cannot_be_forged():
    token = preferences.unsubscribe_token("org_1", "prg_1", "ada")
    assert auth.read_link_token(preferences.UNSUBSCRIBE, token) == "org_1\nprg_1\nada"
    body, signature = token.split(".")
    forged = auth.link_token("session", "org_1\nprg_1\nbob")  # signed, but for another purpose
    for bad in (f"{body}.{signature[:-2]}AA", forged, body, f".{signature}", "é.é", "a.b.c"):
        assert auth.read_link_token(preferences.UNSUBSCRIBE, bad) is None, bad


@pytest.mark.parametrize("model, body, field", [
    (TemplateUpsert, {}, "body"),
    (TemplateUpsert, {"email": {"subject": "s", "text": "t"}}, "email.html"),
    (TemplateUpsert, {"sms": {"text": ""}}, "sms.text"),
    (PreferencesUpdate, {"email": {"marketing": "no"}}, "email.marketing"),
    (PreferencesUpdate, {"email": {"marketing": None}}, "email.marketing"),
    (PreferencesUpdate, {"push": {"marketing": True}}, "push"),
    (BroadcastCreate, {"channels": ["email", "email"]}, "channels"),
    (BroadcastCreate, {"channels": ["fax"]}, "channels.0"),
    (BroadcastCreate, {"kind": "welcome"}, "kind"),
    (BroadcastCreate, {"content": {"EN": {"title": "t", "body": "b"}}}, "content.EN.[key]"),
    (BroadcastCreate, {"segment": {"active_within_days": 0}}, "segment.active_within_days"),
    (ProgramCreate, {"name": "P", "messaging": {"quiet_hours": {"start": "21:00", "end": "21:00"}}},
     "messaging.quiet_hours"),
    (ProgramCreate, {"name": "P", "messaging": {"quiet_hours": {"start": "24:00", "end": "08:00"}}},
     "messaging.quiet_hours.start"),
    (ProgramCreate, {"name": "P", "messaging": {"time_zone": "Mars/Olympus"}}, "messaging.time_zone"),
    (ProgramCreate, {"name": "P", "messaging": {"sms_max_segments": 11}}, "messaging.sms_max_segments"),
    (MemberUpsert, {"attributes": {"time_zone": "Europe/Roma"}}, "attributes"),
    (MemberUpsert, {"attributes": {"time_zone": 1}}, "attributes"),
])
def test_bad_communication_requests_name_the_field(model, body, field):
    with pytest.raises(ValidationFailed) as refused:
        parse_body(json.dumps(body).encode(), model)
    assert refused.value.details["field"] == field


def test_good_communication_requests_parse():
    assert parse_body(b'{"attributes": {"time_zone": "Asia/Tokyo", "vip": true}}', MemberUpsert)
    program = parse_body(b'{"name": "P", "messaging": {"time_zone": "Europe/Rome"}}', ProgramCreate)
    assert program.messaging.model_dump() == {"quiet_hours": {"start": "21:00", "end": "08:00"},
                                              "time_zone": "Europe/Rome", "sms_max_segments": 3,
                                              "announce": []}
    broadcast = parse_body(b'{"content": {"it": {"title": "t", "body": "b"}}, "segment": {"tiers": ["Gold", null]}}',
                           BroadcastCreate)
    assert broadcast.channels == ["email", "sms"] and broadcast.segment.tiers == ["Gold", None]
