"""Webhooks without AWS or network: the signature and its verification, which URLs may be called,
the retry schedule, derived ids and secrets, and the payload guard."""
import hashlib
import hmac
import socket
from pathlib import Path

import pytest

from chalicelib.core import auth, ids
from chalicelib.webhooks import deliveries, endpoints, events, signing, transport

SECRET = "whsec_test-secret"
BODY = b'{"id":"evt_1","type":"reward.low_stock","data":{"reward":{"id":"rwd_1","stock":3}}}'
NOW = 1_700_000_000


def test_a_signature_is_hmac_sha256_of_the_timestamp_dot_the_raw_body():
    # Given the scheme as a receiver in any language would compute it
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    # When Laurel signs the body
    header = signing.header([SECRET], NOW, BODY)
    # Then the header is the timestamp and that one signature
    assert header == f"t={NOW},v1={expected}"


def test_a_signed_body_verifies_within_the_tolerance():
    header = signing.header([SECRET], NOW, BODY)
    assert signing.verify(SECRET, header, BODY, now=NOW)
    assert signing.verify(SECRET, header, BODY, now=NOW + signing.TOLERANCE_SECONDS)
    assert signing.verify(SECRET, header, BODY, now=NOW - signing.TOLERANCE_SECONDS)  # a receiver's clock behind


@pytest.mark.parametrize("now", [NOW + signing.TOLERANCE_SECONDS + 1, NOW - signing.TOLERANCE_SECONDS - 1,
                                 NOW + 86_400])
def test_a_signature_outside_the_tolerance_is_refused(now):
    # Given a capture of a genuine delivery, replayed later (or stamped far ahead)
    header = signing.header([SECRET], NOW, BODY)
    # Then it is refused, though its signature is right
    assert not signing.verify(SECRET, header, BODY, now=now)


def test_a_tampered_body_signature_timestamp_or_secret_is_refused():
    header = signing.header([SECRET], NOW, BODY)
    signature = header.split("v1=")[1]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not signing.verify(SECRET, header, BODY.replace(b"3", b"9"), now=NOW)  # body
    assert not signing.verify(SECRET, f"t={NOW},v1={flipped}", BODY, now=NOW)  # signature
    assert not signing.verify(SECRET, f"t={NOW + 1},v1={signature}", BODY, now=NOW)  # timestamp
    assert not signing.verify("whsec_other", header, BODY, now=NOW)  # secret


@pytest.mark.parametrize("header", ["", "garbage", f"t={NOW}", "v1=" + "a" * 64, f"t={NOW},t={NOW},v1=" + "a" * 64,
                                    f"t=-{NOW},v1=" + "a" * 64, f"t={NOW}.5,v1=" + "a" * 64, f"t={NOW},v1=zz",
                                    f"t={NOW},v1=" + "é" * 64, f"t={NOW},v0=" + "a" * 64])
def test_a_malformed_header_is_refused_without_raising(header):
    assert signing.verify(SECRET, header, BODY, now=NOW) is False


def test_during_a_rotation_either_secret_verifies():
    # Given a header signed with the new and the previous secret
    header = signing.header(["whsec_new", "whsec_old"], NOW, BODY)
    # Then a receiver holding either one accepts it, and one holding neither does not
    assert signing.verify("whsec_new", header, BODY, now=NOW)
    assert signing.verify("whsec_old", header, BODY, now=NOW)
    assert not signing.verify("whsec_neither", header, BODY, now=NOW)


def test_an_endpoint_secret_is_derived_from_its_id_and_salt_apart_from_api_keys():
    salt = auth.new_salt()
    secret = endpoints.secret("whe_1", salt)
    assert secret == endpoints.secret("whe_1", salt) and secret.startswith("whsec_")
    assert secret != endpoints.secret("whe_1", auth.new_salt())  # a rotation changes it
    assert secret != endpoints.secret("whe_2", salt)
    assert secret.removeprefix("whsec_") != auth.key_secret("org_1", "whe_1", salt).split(".")[2]  # another purpose


def _documented_verify():
    """The receiver's `verify` as docs/webhooks.md prints it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    block = text.split("<!-- receiver-snippet:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def test_the_receivers_snippet_in_the_docs_decides_as_laurel_does():
    documented = _documented_verify()
    signed = signing.header([SECRET, "whsec_old"], NOW, BODY)
    cases = [(SECRET, signed, BODY, NOW), ("whsec_old", signed, BODY, NOW + 299), (SECRET, signed, BODY, NOW + 301),
             (SECRET, signed, BODY + b" ", NOW), ("whsec_x", signed, BODY, NOW), (SECRET, f"t={NOW}", BODY, NOW),
             (SECRET, signed.replace(f"t={NOW}", f"t={NOW},t={NOW}"), BODY, NOW)]
    assert [documented(*case) for case in cases] == [signing.verify(*case) for case in cases]
    assert [documented(*case) for case in cases] == [True, True, False, False, False, False, False]


# --- which URLs -----------------------------------------------------------------------------

@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.delenv("LAUREL_LOCAL_WEBHOOKS", raising=False)


@pytest.mark.parametrize("url", ["https://example.com/hooks", "https://hooks.example.com:8443/a/b?x=1",
                                 "https://93.184.216.34/hook"])
def test_a_public_https_url_is_accepted(deployed, url):
    assert transport.check_url(url).scheme == "https"


@pytest.mark.parametrize("url", [
    "http://example.com/hook", "ftp://example.com/", "example.com/hook", "https:///nohost",
    "https://user:pass@example.com/", "https://example.com/#frag", "https://example.com:99999/",
    "https://127.0.0.1/", "https://10.0.0.8/", "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://[fe80::1]/", "https://0.0.0.0/", "https://100.64.0.1/",
    "https://localhost/", "https://api.localhost/", "https://224.0.0.1/", "https://example.com/a b",
    "https://example.com/\r\nX-Injected: 1", "https://exämple.com/"])
def test_a_url_that_is_not_https_to_a_public_address_is_refused(deployed, url):
    with pytest.raises(transport.Refused):
        transport.check_url(url)


def test_the_local_mode_allows_plain_http_to_this_machine(monkeypatch):
    monkeypatch.setenv("LAUREL_LOCAL_WEBHOOKS", "1")
    assert transport.check_url("http://127.0.0.1:8123/hook").hostname == "127.0.0.1"
    with pytest.raises(transport.Refused):
        transport.check_url("https://user:pass@127.0.0.1/")  # credentials never


def test_a_name_that_resolves_to_a_private_address_is_refused_at_send_time(deployed, monkeypatch):
    # Given a public-looking name whose DNS answer points inside the network (rebinding)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                                                 ("10.1.2.3", 443))])
    # When a delivery is posted to it
    outcome = transport.post("https://innocent.example.com/hook", BODY, {})
    # Then nothing is sent (the unit tier refuses every connection) and the reason is recorded
    assert not outcome.delivered and outcome.status is None
    assert outcome.error == "the host resolves to an address that is not public"


# --- retries, ids, payloads -------------------------------------------------------------------

def test_retries_back_off_exponentially_up_to_sqs_longest_delay(monkeypatch):
    monkeypatch.delenv("WEBHOOKS_BACKOFF_SCALE", raising=False)
    delays = [deliveries.backoff_seconds(tries) for tries in range(1, deliveries.ATTEMPTS)]
    assert delays == [30, 60, 120, 240, 480, 900, 900]
    monkeypatch.setenv("WEBHOOKS_BACKOFF_SCALE", "0")
    assert {deliveries.backoff_seconds(tries) for tries in range(1, deliveries.ATTEMPTS)} == {0}


def test_derived_ids_are_stable_well_formed_and_ordered_by_time():
    first = ids.derived_id("evt", 1_700_000_000_000, "org_1:prg_1:reward.low_stock:rwd_1")
    assert first == ids.derived_id("evt", 1_700_000_000_000, "org_1:prg_1:reward.low_stock:rwd_1")
    assert ids.is_id(first, "evt")
    assert first != ids.derived_id("evt", 1_700_000_000_000, "org_1:prg_1:reward.low_stock:rwd_2")
    assert ids.derived_id("evt", 1_700_000_000_001, "a") > ids.derived_id("evt", 1_700_000_000_000, "z")


@pytest.mark.parametrize("data", [{"redemption": {"id": "rdm_1", "code": "GIFT-1"}},
                                  {"redemption": {"fulfillment": {"type": "gift_card"}}},
                                  {"member": {"external_id": "ada", "email": "ada@example.com"}},
                                  {"items": [{"payout": {"iban": "IT60X"}}]}])
def test_a_payload_with_a_code_payout_or_personal_detail_is_refused_before_anything_is_sent(data):
    with pytest.raises(ValueError):
        events.emit("org_1", "prg_1", "redemption.status_changed", data, event_key="k",
                    occurred_at="2026-01-01T00:00:00.000Z")


def test_only_the_listed_kinds_can_be_emitted():
    with pytest.raises(ValueError):
        events.emit("org_1", "prg_1", "member.deleted", {}, event_key="k", occurred_at="2026-01-01T00:00:00.000Z")
