import json

import pytest

from chalicelib.earning import partner_messages
from chalicelib.earning.partner_messages import Rejected, sign, verify

SECRET = "org_a.key_p.partner-secret"


@pytest.fixture(autouse=True)
def partner_key(monkeypatch):
    monkeypatch.setattr(partner_messages.orgs, "partner_key_secret",
                        lambda org_id, key_id: SECRET if (org_id, key_id) == ("org_a", "key_p") else None)


def message(**overrides):
    body = {"org_id": "org_a", "program_id": "prg_1",
            "event": {"id": "evt-1", "type": "purchase", "member": "m-1", "properties": {"amount": 100}}}
    body.update(overrides)
    return json.dumps(body)


def test_a_signed_message_is_accepted():
    body = message()
    accepted = verify(body, {"key_id": "key_p", "signature": sign(SECRET, body.encode())})
    assert (accepted.org_id, accepted.event.id) == ("org_a", "evt-1")


@pytest.mark.parametrize("body, attributes, reason", [
    ("not json", {"key_id": "key_p", "signature": "00"}, "body is not JSON"),
    (message(), {"key_id": "key_p"}, "missing message attribute"),
    (message(), {"signature": "00"}, "missing message attribute"),
    (message(), {"key_id": "key_x", "signature": "00"}, "unknown, revoked or non-partner key_id"),
    (message(org_id="org_b"), {"key_id": "key_p", "signature": "00"}, "unknown, revoked or non-partner key_id"),
    (message(), {"key_id": "key_p", "signature": "00"}, "bad signature"),
])
def test_messages_that_can_never_succeed_say_why(body, attributes, reason):
    with pytest.raises(Rejected, match=reason):
        verify(body, attributes)


def test_the_signature_covers_the_exact_bytes():
    body = message()
    signature = sign(SECRET, body.encode())
    reformatted = json.dumps(json.loads(body), indent=2)
    with pytest.raises(Rejected, match="bad signature"):
        verify(reformatted, {"key_id": "key_p", "signature": signature})


@pytest.mark.parametrize("event, field", [
    ({"id": "e", "type": "t"}, "event.member"),
    ({"id": "e", "type": "t", "member": "bad id!"}, "event.member"),
    ({"id": "e", "type": "t", "member": "m", "extra": 1}, "event.extra"),
])
def test_a_signed_message_of_the_wrong_shape_is_rejected_naming_the_field(event, field):
    body = message(event=event)
    with pytest.raises(Rejected, match=f"wrong shape: {field}"):
        verify(body, {"key_id": "key_p", "signature": sign(SECRET, body.encode())})
