"""Telling members, through the real topic, queues and delivery functions on moto: templates a program writes
(and the fallback without them), preferences, SMS STOP and START, quiet hours, and the record of each message."""
import json
import uuid
from datetime import datetime, timezone

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends

from chalicelib.core import clock, db
from chalicelib.messaging import sending
from chalicelib.notices import notifications

REGION = "us-east-1"


def emails_to(address: str) -> list:
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages if address in m.destinations["ToAddresses"]]


def sms_to(phone: str) -> list[str]:
    return [text for number, text in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values() if number == phone]


def deliver(stack) -> None:
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")


@pytest.fixture
def ada(api, program):
    """A member in Italian with an email address and a phone, and her session."""
    tag = uuid.uuid4().hex[:8]
    member = {"email": f"ada-{tag}@example.com", "phone": f"+3933{int(tag, 16) % 10**8:08d}", "name": "Ada",
              "locale": "it-IT"}
    assert api.call("PUT", f"{program['path']}/members/ada", program["admin"], member)[0] == 201
    session = api.call("POST", f"{program['path']}/members/ada/sessions", program["admin"], {})[1]["token"]
    return {**program, **member, "member": "ada", "session": session, "tag": tag}


def earned(who: dict, points: int, txn: str | None = None) -> None:
    """What the lead's earning code will publish after an earn (notifications.publish is the one way)."""
    notifications.publish("points_earned", ["email", "sms"], {
        "org_id": who["org_id"], "program_id": who["id"], "external_id": who["member"],
        "txn_id": txn or f"txn_{uuid.uuid4().hex}", "points": points, "balance": 1000 + points})


def messages(api, who: dict, query: str = "") -> list[dict]:
    status, page = api.call("GET", f"{who['path']}/members/{who['member']}/messages{query}", who["admin"])
    assert status == 200, page
    return page["items"]


# --- templates -------------------------------------------------------------------------------

def test_a_program_template_is_used_for_its_locale_then_the_builtin_again_once_removed(stack, api, ada):
    path, admin = f"{ada['path']}/templates/points_earned/it", ada["admin"]
    own = {"email": {"subject": "{name}, +{points} {currency}!",
                     "html": "<p>Bravo <b>{name}</b>: saldo {balance}</p>", "text": "Bravo {name}: saldo {balance}"},
           "sms": {"text": "{program}: +{points} {currency} (saldo {balance})"}}
    # Given the program's own Italian template, written twice (created, then replaced)
    status, written = api.call("PUT", path, admin, own)
    assert (status, written["source"], written["locale"]) == (201, "program", "it")
    assert api.call("PUT", path, admin, own)[0] == 200
    assert api.call("GET", path, admin)[1]["email"] == own["email"]
    # When an earn is told to the member, whose locale is it-IT
    earned(ada, 12)
    deliver(stack)
    # Then her email and SMS come from it (the program's language fallback: it-IT to it)
    (email,) = emails_to(ada["email"])
    assert email.subject == "Ada, +12 points!" and email.body == "<p>Bravo <b>Ada</b>: saldo 1012</p>"
    assert sms_to(ada["phone"]) == ["Coffee Club: +12 points (saldo 1012)"]
    # When the template is removed and another earn is told
    assert api.call("DELETE", path, admin) == (204, None)
    assert api.call("DELETE", path, admin)[0] == 404
    assert api.call("GET", path, admin)[1]["source"] == "builtin"
    earned(ada, 5)
    deliver(stack)
    # Then the built-in Italian one is used again
    assert emails_to(ada["email"])[-1].subject == "Hai guadagnato 5 points"


def test_a_template_with_a_placeholder_its_kind_lacks_is_refused_at_upload(api, program):
    path, admin = f"{program['path']}/templates/points_earned/en", program["admin"]
    for document, field, words in [
        ({"email": {"subject": "Hi", "html": "<p>{code}</p>", "text": "x"}}, "email.html", "unknown placeholder {code}"),
        ({"sms": {"text": "{name.__class__}"}}, "sms.text", "is not a placeholder"),
        ({"sms": {"text": "{points:>9}"}}, "sms.text", "is not a placeholder"),
        ({"sms": {"text": "50% off {"}}, "sms.text", "lone '{'"),
    ]:
        status, refused = api.call("PUT", path, admin, document)
        assert (status, refused["error"]["code"], refused["error"]["details"]["field"]) == (
            400, "validation_error", field), refused
        assert words in refused["error"]["message"], refused
        if "unknown" in words:  # and what the kind does have
            assert "{balance}, {currency}, {name}, {points}, {program}" in refused["error"]["message"]
    assert api.call("GET", path, admin)[1]["source"] == "builtin"
    assert api.call("PUT", f"{program['path']}/templates/birthday/en", admin, {"sms": {"text": "x"}})[0] == 404
    assert api.call("PUT", f"{program['path']}/templates/welcome/EN_us", admin, {"sms": {"text": "x"}})[1][
        "error"]["details"] == {"field": "locale"}


def test_the_program_locale_comes_before_english(stack, api, program):
    # Given a Spanish program with its own Spanish welcome SMS, and a member in French (no built-in French)
    admin, path = program["admin"], program["path"]
    assert api.call("PATCH", path, admin, {"locale": "es"})[0] == 200
    api.call("PUT", f"{path}/templates/welcome/es", admin, {"sms": {"text": "¡Hola {name}, bienvenido a {program}!"}})
    phone = f"+3361{uuid.uuid4().int % 10**7:07d}"
    api.call("PUT", f"{path}/members/zoe", admin, {"phone": phone, "email": f"{phone[1:]}@example.com",
                                                   "name": "Zoé", "locale": "fr"})
    # When she is welcomed
    notifications.publish("welcome", ["email", "sms"], {"org_id": program["org_id"], "program_id": program["id"],
                                                        "external_id": "zoe"})
    deliver(stack)
    # Then the SMS is the program's Spanish one, and the email (no Spanish email of its own) the built-in Spanish
    assert sms_to(phone) == ["¡Hola Zoé, bienvenido a Coffee Club!"]
    assert emails_to(f"{phone[1:]}@example.com")[-1].subject == "Te damos la bienvenida a Coffee Club"


def test_a_preview_fills_a_draft_with_sample_values_and_counts_the_sms(api, program):
    status, preview = api.call("POST", f"{program['path']}/templates/reward_delivered/es/preview", program["admin"],
                               {"sms": {"text": "Código {code}: {reward} ☕"}})
    assert status == 200, preview
    assert preview["sms"] == {"text": "Código PASTRY-0001: Pastry voucher ☕", "encoding": "UCS-2", "segments": 1,
                              "characters": 36}
    assert preview["email"]["subject"] == "Tu recompensa ha llegado: Pastry voucher"  # no draft: the built-in
    listed = api.call("GET", f"{program['path']}/templates", program["admin"])[1]
    assert listed == {"items": [], "next_cursor": None}  # a preview writes nothing


# --- preferences, unsubscribe, STOP ------------------------------------------------------------

def test_a_member_turns_transactional_email_off_and_gets_sms_only(stack, api, ada):
    path = f"{ada['path']}/members/ada/preferences"
    # Given the defaults: transactional on, marketing on for email and off for SMS
    assert api.call("GET", path, ada["session"])[1] == {
        "email": {"transactional": True, "marketing": True},
        "sms": {"transactional": True, "marketing": False, "stopped": False}, "updated_at": None}
    # When the member, in her own session, turns transactional email off
    status, changed = api.call("PUT", path, ada["session"], {"email": {"transactional": False}})
    assert status == 200 and changed["email"] == {"transactional": False, "marketing": True}
    assert changed["sms"]["transactional"] is True and changed["updated_at"]
    # and is told of an earn
    earned(ada, 7)
    deliver(stack)
    # Then only the SMS went; the email is recorded suppressed, with why
    assert emails_to(ada["email"]) == [] and len(sms_to(ada["phone"])) == 1
    records = {record["channel"]: record for record in messages(api, ada)}
    assert (records["email"]["status"], records["email"]["reason"]) == ("suppressed", "opted_out")
    assert records["sms"]["status"] == "sent" and records["sms"]["provider_message_id"]


def inbound_sms(stack, phone: str, text: str) -> None:
    """What two-way SMS does with a reply: a JSON notification on the inbound topic."""
    sns = boto3.client("sns", region_name=REGION)
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith("InboundSmsTopic"))
    sns.publish(TopicArn=topic, Message=json.dumps({
        "originationNumber": phone, "destinationNumber": "+18005550100", "messageKeyword": "KEYWORD_123456789012",
        "messageBody": text, "inboundMessageId": str(uuid.uuid4()), "previousPublishedMessageId": None}))
    stack.pump("SmsInboundFunction")


def test_stop_from_the_phone_stops_every_sms_until_start(stack, api, ada):
    # Given the member's phone replies "Stop" to the program's number
    inbound_sms(stack, ada["phone"], "Stop")
    assert api.call("GET", f"{ada['path']}/members/ada/preferences", ada["admin"])[1]["sms"]["stopped"] is True
    # When a transactional message is sent
    earned(ada, 3, txn="txn_stopped")
    deliver(stack)
    # Then the email goes, the SMS is suppressed because of STOP
    assert len(emails_to(ada["email"])) == 1 and sms_to(ada["phone"]) == []
    sms = next(r for r in messages(api, ada) if r["channel"] == "sms")
    assert (sms["status"], sms["reason"], sms["subject"]) == ("suppressed", "sms_stop", "points_earned:txn_stopped")
    # When the phone replies something else, then START, and another message is sent
    inbound_sms(stack, ada["phone"], "what is this?")
    assert api.call("GET", f"{ada['path']}/members/ada/preferences", ada["admin"])[1]["sms"]["stopped"] is True
    inbound_sms(stack, ada["phone"], "START")
    earned(ada, 4)
    deliver(stack)
    # Then SMS reach the phone again
    assert len(sms_to(ada["phone"])) == 1


# --- quiet hours -------------------------------------------------------------------------------

def test_a_member_in_the_night_gets_points_news_in_the_morning_and_rewards_at_once(stack, api, ada, monkeypatch):
    # Given a member in Tokyo, and midnight there
    api.call("PUT", f"{ada['path']}/members/ada", ada["admin"], {"attributes": {"time_zone": "Asia/Tokyo"}})
    night = datetime(2026, 6, 1, 15, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(clock, "now", lambda: night)
    monkeypatch.setattr(sending, "MAX_DELAY_SECONDS", 0)  # moto keeps real time: the delay is checked below
    sent_delays = []
    real_client = sending.aws.client

    def recording_client(service):
        client = real_client(service)
        if service == "sqs":
            original = client.send_message

            def send_message(**arguments):
                sent_delays.append(arguments.get("DelaySeconds"))
                return original(**arguments)
            return type("Sqs", (), {"send_message": staticmethod(send_message)})()
        return client

    monkeypatch.setattr(sending.aws, "client", recording_client)
    # When an earn is told (it may wait) and the member is woken by nothing
    earned(ada, 9, txn="txn_night")
    stack.poller("EmailDeliveryFunction").poll_once()
    # Then the email is deferred to 08:00 in Tokyo (23:00 UTC) and goes back on the queue, nothing sent
    (record,) = [r for r in messages(api, ada) if r["channel"] == "email"]
    assert (record["status"], record["deferred_until"]) == ("deferred", "2026-06-01T23:00:00.000Z")
    assert emails_to(ada["email"]) == [] and sent_delays == [0]
    # When the clock reaches the morning and the queue delivers it again
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 1, 23, 1, tzinfo=timezone.utc))
    stack.pump("EmailDeliveryFunction")
    # Then it is sent, once, and its record says so
    assert len(emails_to(ada["email"])) == 1
    (record,) = [r for r in messages(api, ada) if r["channel"] == "email"]
    assert (record["status"], record["deferred_until"]) == ("sent", None)


def test_the_deferral_delay_is_the_time_to_the_morning_at_most_sqs_allows(monkeypatch):
    sent = []
    monkeypatch.setattr(sending.aws, "client", lambda service: type("Sqs", (), {
        "send_message": staticmethod(lambda **arguments: sent.append(arguments))})())
    now = datetime(2026, 6, 1, 22, 50, tzinfo=timezone.utc)
    sending._defer("email", "{}", datetime(2026, 6, 1, 23, 0, tzinfo=timezone.utc), now)
    sending._defer("email", "{}", datetime(2026, 6, 2, 6, 0, tzinfo=timezone.utc), now)
    assert [arguments["DelaySeconds"] for arguments in sent] == [600, 900]


def test_urgent_kinds_go_at_once_in_the_night(stack, api, ada, monkeypatch):
    # Given a member in Tokyo at midnight, with a reward to redeem
    admin, path = ada["admin"], ada["path"]
    api.call("PUT", f"{path}/members/ada", admin, {"attributes": {"time_zone": "Asia/Tokyo"}})
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 500, "reason": "x"}, {"Idempotency-Key": "q"})
    reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "Cash", "cost": 100})[1]
    redemption = api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": reward["id"]},
                          {"Idempotency-Key": f"night-{ada['tag']}"})[1]
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 6, 1, 15, 0, tzinfo=timezone.utc))
    # When it is fulfilled and delivered
    stack.pump("FulfilmentFunction")
    deliver(stack)
    # Then the member is told at once on both channels
    assert len(emails_to(ada["email"])) == 1 and len(sms_to(ada["phone"])) == 1
    assert {(r["kind"], r["status"], r["subject"]) for r in messages(api, ada)} == {
        ("reward_delivered", "sent", f"reward_delivered:{redemption['id']}")}


# --- the record of each message ------------------------------------------------------------------

def test_the_messages_list_is_newest_first_paged_and_never_shows_text_codes_or_addresses(stack, api, ada):
    # Given a gift card redeemed (a code in the messages), then an earn told
    admin, path = ada["admin"], ada["path"]
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 500, "reason": "x"}, {"Idempotency-Key": "m"})
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 100})[1]
    code = f"SECRET-{ada['tag']}"
    api.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": [code]})
    api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": card["id"]}, {"Idempotency-Key": "g"})
    stack.pump("FulfilmentFunction")
    deliver(stack)
    earned(ada, 1, txn="txn_last")
    deliver(stack)
    assert code in emails_to(ada["email"])[0].body
    # When the admin (and an analyst) list the member's messages, a page of one at a time
    analyst = api.call("POST", "/v1/api-keys", admin, {"name": "a", "role": "analyst"})[1]["secret"]
    first = api.call("GET", f"{path}/members/ada/messages?limit=2", analyst)[1]
    rest = api.call("GET", f"{path}/members/ada/messages?limit=2&cursor={first['next_cursor']}", admin)[1]
    # Then the earn comes first, then the reward, each channel once, and nothing in them is the code or an address
    listed = first["items"] + rest["items"]
    assert [(r["kind"], r["status"]) for r in listed] == [("points_earned", "sent")] * 2 + [
        ("reward_delivered", "sent")] * 2
    assert rest["next_cursor"] is None and {r["channel"] for r in listed[:2]} == {"email", "sms"}
    text = json.dumps(listed)
    assert code not in text and ada["email"] not in text and ada["phone"] not in text
    assert all(set(r) == {"kind", "channel", "subject", "status", "reason", "provider_message_id", "deferred_until",
                          "created_at", "updated_at"} for r in listed)
    assert api.call("GET", f"{path}/members/nobody/messages", admin)[0] == 404
    assert api.call("GET", f"{path}/members/ada/messages", ada["session"])[0] == 403


def test_a_redemption_that_fails_for_good_is_refunded_and_the_member_told(stack, api, ada):
    # Given a gift card whose only code vanishes before fulfilment
    admin, path = ada["admin"], ada["path"]
    api.call("POST", f"{path}/members/ada/adjustments", admin, {"points": 500, "reason": "x"}, {"Idempotency-Key": "f"})
    card = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Libri", "cost": 100})[1]
    api.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": [f"GONE-{ada['tag']}"]})
    redemption = api.call("POST", f"{path}/members/ada/redemptions", admin, {"reward_id": card["id"]},
                          {"Idempotency-Key": "fails"})[1]
    db.CodeItem(*db.CodeItem.key(card["id"], f"GONE-{ada['tag']}")).delete()
    # When fulfilment gives up on its last try, and delivery runs
    stack.pump("FulfilmentFunction")
    deliver(stack)
    # Then the member is told, in Italian, that it failed and the points came back
    assert api.call("GET", f"{path}/redemptions/{redemption['id']}", admin)[1]["status"] == "failed"
    (email,) = emails_to(ada["email"])
    assert email.subject == "Novità sul tuo premio: Libri" and "ti sono stati restituiti" in email.body
    assert "non è andata a buon fine" in sms_to(ada["phone"])[0]


def test_opted_in_welcome_and_points_earned_and_tier_up_are_delivered_once_each(stack, api, program, monkeypatch):
    # Given a program that opts into welcome and points-earned messages, with a Silver tier at 1000
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 22, 12, tzinfo=timezone.utc))  # daytime in UTC
    status, _ = api.call("PATCH", program["path"], program["admin"],
                         {"messaging": {"announce": ["welcome", "points_earned"], "quiet_hours": None}})
    assert status == 200
    tag = uuid.uuid4().hex[:8]
    email = f"bo-{tag}@example.com"
    # When a member is created, earns 1,500 points (reaching Silver), and the same event is sent again
    assert api.call("PUT", f"{program['path']}/members/bo", program["admin"], {"email": email, "locale": "es"})[0] == 201
    event = {"id": f"bo-{tag}", "type": "purchase", "member": "bo", "properties": {"amount": 150000}}
    api.call("POST", f"{program['path']}/events", program["admin"], event)
    api.call("POST", f"{program['path']}/events", program["admin"], event)
    deliver(stack)
    # Then it got a welcome, one points-earned message and one tier-up message, in Spanish
    subjects = [m.subject for m in emails_to(email)]
    assert len(subjects) == 3
    records = api.call("GET", f"{program['path']}/members/bo/messages", program["admin"])[1]["items"]
    assert sorted(r["kind"] for r in records) == ["points_earned", "tier_up", "welcome"]
    assert all(r["status"] == "sent" for r in records)


def test_without_opting_in_no_welcome_or_points_messages_are_sent(stack, api, program):
    # Given a program with the default messaging, When a member is created and earns below any tier
    tag = uuid.uuid4().hex[:8]
    email = f"cy-{tag}@example.com"
    api.call("PUT", f"{program['path']}/members/cy", program["admin"], {"email": email})
    api.call("POST", f"{program['path']}/events", program["admin"],
             {"id": f"cy-{tag}", "type": "purchase", "member": "cy", "properties": {"amount": 1000}})
    deliver(stack)
    # Then nothing was sent
    assert emails_to(email) == []
