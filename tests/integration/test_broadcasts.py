"""Broadcasts through the real queues on moto: a segment found slice by slice, published at a pace, delivered
in each member's language with an unsubscribe link that works, and counted once."""
import json
import re
import uuid

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses import ses_backends
from moto.sns import sns_backends

from chalicelib.core import db, settings
from chalicelib.messaging import broadcasts

REGION = "us-east-1"
CONTENT = {"it": {"title": "Punti doppi", "body": "Fino a domenica <ogni> acquisto vale il doppio."},
           "en": {"title": "Double points", "body": "Until Sunday every purchase counts twice."}}


TIER_NEWS = ("Silver",)  # the members' own tier-up messages, from the purchases that set the scene


def emails_to(address: str) -> list:
    """The emails sent to `address`, but for its tier-up news."""
    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
            if address in m.destinations["ToAddresses"] and not any(word in m.subject for word in TIER_NEWS)]


def sms_to(phone: str) -> list[str]:
    return [text for number, text in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values()
            if number == phone and not any(word in text for word in TIER_NEWS)]


@pytest.fixture
def club(api, program, monkeypatch):
    """Five members: three in the segment (Silver, in Rome), one in Milan, one below every tier; slices of one
    member, scanned 25 items at a time, so the broadcast takes several slices and pages."""
    monkeypatch.setenv("BROADCAST_SENDS_PER_SECOND", "1000")
    monkeypatch.setattr(broadcasts, "SLICE_SECONDS", 0.001)
    monkeypatch.setattr(broadcasts, "SCAN_PAGE", 25)
    admin, path, tag = program["admin"], program["path"], uuid.uuid4().hex[:8]
    people = {
        "anna": {"locale": "it", "city": "Rome", "silver": True, "phone": True},
        "bruno": {"locale": "it", "city": "Rome", "silver": True, "phone": False},
        "eva": {"locale": "es", "city": "Rome", "silver": True, "phone": False},
        "carla": {"locale": "it", "city": "Milan", "silver": True, "phone": True},
        "dario": {"locale": "it", "city": "Rome", "silver": False, "phone": True},
    }
    for number, (name, person) in enumerate(people.items()):
        person.update(email=f"{name}-{tag}@example.com", phone=f"+3934{int(tag, 16) % 10**4:04d}{number:04d}" if person["phone"] else None)
        body = {"email": person["email"], "name": name.title(), "locale": person["locale"],
                "attributes": {"city": person["city"]}, **({"phone": person["phone"]} if person["phone"] else {})}
        assert api.call("PUT", f"{path}/members/{name}", admin, body)[0] == 201
        if person["silver"]:
            api.call("POST", f"{path}/events", admin, {"id": f"buy-{name}", "type": "purchase", "member": name,
                                                       "properties": {"amount": 100_000}})
    # Anna opted in to SMS marketing; Bruno unsubscribed from marketing email
    api.call("PUT", f"{path}/members/anna/preferences", admin, {"sms": {"marketing": True}})
    api.call("PUT", f"{path}/members/bruno/preferences", admin, {"email": {"marketing": False}})
    return {**program, "people": people}


def start(api, club, key: str, **body):
    request = {"content": CONTENT, "segment": {"tiers": ["Silver"], "attributes": {"city": "Rome"}}, **body}
    return api.call("POST", f"{club['path']}/broadcasts", club["admin"], request, {"Idempotency-Key": key})


def run(stack) -> None:
    stack.pump("BroadcastFunction", rounds=50)
    stack.pump("EmailDeliveryFunction")
    stack.pump("SmsDeliveryFunction")


def test_a_broadcast_reaches_its_segment_once_in_each_language_and_counts_it(stack, api, club):
    people = club["people"]
    # Given a broadcast to the Silver members in Rome
    status, started = start(api, club, "weekend")
    assert (status, started["status"], started["counts"]["targeted"]) == (202, "queued", 0)
    # When its slices and the deliveries run
    run(stack)
    # Then it is done and counted: three members; Anna by email and SMS, Bruno's email suppressed, Eva by email
    done = api.call("GET", f"{club['path']}/broadcasts/{started['id']}", club["admin"])[1]
    assert done["status"] == "done" and done["finished_at"]
    assert done["counts"] == {"members": 3, "targeted": 4, "sent": 3, "suppressed": 1, "failed": 0, "pending": 0}
    assert int(db.get(db.BroadcastItem, db.BroadcastItem.key(club["id"], started["id"])).slice) >= 4  # one a member
    # And Anna got it in Italian (the body escaped in the HTML), with an unsubscribe link, and by SMS
    (anna,) = emails_to(people["anna"]["email"])
    assert anna.subject == "Punti doppi" and "Fino a domenica &lt;ogni&gt; acquisto" in anna.body
    assert re.search(rf'href="{settings.public_api_url()}/v1/unsubscribe/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"', anna.body)
    assert sms_to(people["anna"]["phone"]) == ["Coffee Club: Punti doppi\nFino a domenica <ogni> acquisto vale il "
                                               "doppio."]
    # and Eva, in Spanish (there is no Spanish content: the English one, in the Spanish template)
    (eva,) = emails_to(people["eva"]["email"])
    assert eva.subject == "Double points" and "Hola Eva:" in eva.body
    # And nobody outside the segment got anything; Bruno's email is recorded suppressed
    assert emails_to(people["bruno"]["email"]) == emails_to(people["carla"]["email"]) == []
    assert emails_to(people["dario"]["email"]) == [] and sms_to(people["carla"]["phone"]) == []
    (bruno,) = [m for m in api.call("GET", f"{club['path']}/members/bruno/messages", club["admin"])[1]["items"]
                if m["kind"] == "campaign_announcement"]
    assert (bruno["kind"], bruno["status"], bruno["reason"]) == ("campaign_announcement", "suppressed", "opted_out")


def test_a_repeated_start_or_slice_sends_nothing_more(stack, api, club):
    status, first = start(api, club, "again")
    run(stack)
    sent = len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
    # When the same request comes again, the same key comes with another request, and an old slice is redelivered
    assert start(api, club, "again")[1]["id"] == first["id"] and start(api, club, "again")[0] == 200
    refused = start(api, club, "again", channels=["email"])
    assert (refused[0], refused[1]["error"]["code"]) == (409, "idempotency_conflict")
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=stack.env["BROADCAST_QUEUE_URL"], MessageBody=json.dumps(
        {"org_id": club["org_id"], "program_id": club["id"], "broadcast_id": first["id"], "slice": 0}))
    run(stack)
    # Then nothing more went out, and the counts did not move
    assert len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == sent
    counts = api.call("GET", f"{club['path']}/broadcasts/{first['id']}", club["admin"])[1]["counts"]
    assert (counts["members"], counts["sent"]) == (3, 3)


def test_the_unsubscribe_link_asks_then_unsubscribes_without_a_key(stack, api, club):
    anna = club["people"]["anna"]
    start(api, club, "first")
    run(stack)
    link = re.search(r'href="([^"]+/v1/unsubscribe/[^"]+)"', emails_to(anna["email"])[0].body)[1]
    path = link.removeprefix(settings.public_api_url())
    # When the link is opened (as a mail scanner would): a page that asks, and changes nothing
    opened = api.client.http.request("GET", path, headers={})
    assert opened.status_code == 200 and opened.headers["Content-Type"].startswith("text/html")
    assert b'<form method="post">' in opened.body and "Non ricevere più email promozionali" in opened.body.decode()
    assert "default-src 'none'" in opened.headers["Content-Security-Policy"]
    prefs = f"{club['path']}/members/anna/preferences"
    assert api.call("GET", prefs, club["admin"])[1]["email"]["marketing"] is True
    # When its button is pressed (a form post, no key)
    pressed = api.client.http.request("POST", path, body=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert pressed.status_code == 200 and "non ti invierà più email promozionali" in pressed.body.decode()
    assert api.call("GET", prefs, club["admin"])[1]["email"] == {"transactional": True, "marketing": False}
    # Then the next broadcast's email to her is suppressed, her SMS still goes
    second = start(api, club, "second")[1]
    run(stack)
    assert len(emails_to(anna["email"])) == 1 and len(sms_to(anna["phone"])) == 2
    counts = api.call("GET", f"{club['path']}/broadcasts/{second['id']}", club["admin"])[1]["counts"]
    assert (counts["sent"], counts["suppressed"]) == (2, 2)
    # And a forged or mangled link is refused
    for bad in (path[:-3] + "AAA", "/v1/unsubscribe/x.y", "/v1/unsubscribe/" + "a" * 2000):
        assert api.client.http.request("POST", bad, body=b"", headers={}).status_code == 404


def test_a_broadcast_needs_content_or_the_programs_own_template(stack, api, club):
    status, refused = api.call("POST", f"{club['path']}/broadcasts", club["admin"], {}, {"Idempotency-Key": "empty"})
    assert (status, refused["error"]["details"]["field"]) == (400, "content")
    api.call("PUT", f"{club['path']}/templates/campaign_announcement/it", club["admin"],
             {"email": {"subject": "Novità da {program}", "html": "<p>Ciao {name}</p>", "text": "Ciao {name}"}})
    status, started = api.call("POST", f"{club['path']}/broadcasts", club["admin"],
                               {"segment": {"tiers": ["Silver"], "attributes": {"city": "Milan"}}, "channels": ["email"]},
                               {"Idempotency-Key": "template"})
    assert status == 202
    run(stack)
    (carla,) = emails_to(club["people"]["carla"]["email"])
    assert carla.subject == "Novità da Coffee Club" and "Ciao Carla" in carla.body
    assert api.call("GET", f"{club['path']}/broadcasts/{started['id']}", club["admin"])[1]["counts"]["sent"] == 1
    assert api.call("GET", f"{club['path']}/broadcasts/brd_nope", club["admin"])[0] == 404


def test_a_slice_publishes_at_the_configured_pace(club, monkeypatch):
    # Given 4 sends a second in all (2 for each of the 2 slices that may run at once), 3 members per slice
    monkeypatch.setenv("BROADCAST_SENDS_PER_SECOND", "4")
    monkeypatch.setattr(broadcasts, "SLICE_SECONDS", 1.5)
    waits = []
    monkeypatch.setattr(broadcasts.time, "sleep", waits.append)
    item = db.BroadcastItem(*db.BroadcastItem.key(club["id"], "brd_pace"), org_id=club["org_id"], program_id=club["id"],
                            broadcast_id="brd_pace", kind="campaign_announcement", content=CONTENT,
                            segment={"attributes": {"city": "Rome"}}, channels=["email"], status="queued",
                            fingerprint="x", created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")
    item.save()
    # When its first slice runs
    assert broadcasts.advance(club["org_id"], club["id"], "brd_pace", 0, lambda: 120) == "running"
    # Then the second and third publishes waited for their half-second marks
    assert len(waits) == 2 and 0.4 < waits[0] <= 0.5 and 0.9 < waits[1] <= 1.0
    assert int(db.get(db.BroadcastItem, (item.pk, item.sk)).members) == 3
