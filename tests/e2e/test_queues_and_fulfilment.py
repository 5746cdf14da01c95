"""The asynchronous half, end to end: the partner queue, fulfilment, SES and SNS, refunds, DLQs."""
import hashlib
import hmac
import json
import re

import pytest
import requests

from laurel_http import new_tenant


@pytest.fixture(scope="module")
def tenant(http, stack):
    made = new_tenant(http, stack.root_key)
    partner = http.call("POST", "/v1/api-keys", made["admin"], {"name": "shop", "role": "partner"}).body
    org = http.call("GET", "/v1/org", made["admin"]).body
    return {**made, "partner_id": partner["id"], "partner_secret": partner["secret"],
            "queue_url": org["partner_events_queue_url"], "dlq_url": org["partner_events_dlq_url"]}


def send_partner_event(stack, tenant, event, secret=None):
    """What a partner does: sign the exact body bytes with its key's secret."""
    body = json.dumps({"org_id": tenant["org_id"], "program_id": tenant["program_id"], "event": event})
    signature = hmac.new((secret or tenant["partner_secret"]).encode(), body.encode(), hashlib.sha256).hexdigest()
    stack.sqs().send_message(QueueUrl=tenant["queue_url"], MessageBody=body, MessageAttributes={
        "key_id": {"DataType": "String", "StringValue": tenant["partner_id"]},
        "signature": {"DataType": "String", "StringValue": signature}})


def dlq_reasons(stack, tenant, marker):
    messages = stack.sqs().receive_message(QueueUrl=tenant["dlq_url"], MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"], VisibilityTimeout=0).get("Messages", [])
    return [m["MessageAttributes"]["error"]["StringValue"] for m in messages if marker in m["Body"]]


def sent(stack):
    reply = requests.get(f"{stack.control_url}/sent", timeout=10)
    reply.raise_for_status()
    return reply.json()


def test_a_signed_partner_event_sent_twice_is_credited_once(http, stack, tenant):
    event = {"id": "q-order-1", "type": "purchase", "member": "quinn", "properties": {"amount": 4200}}
    send_partner_event(stack, tenant, event)
    send_partner_event(stack, tenant, event)
    assert stack.drain()
    balance = http.call("GET", f"{tenant['path']}/members/quinn/balance", tenant["admin"])
    assert balance.body["available"] == 42
    page = http.call("GET", f"{tenant['path']}/members/quinn/transactions", tenant["admin"])
    assert [t["event_id"] for t in page.body["items"]] == ["q-order-1"]


def test_a_badly_signed_partner_event_credits_nothing_and_lands_in_the_dlq(http, stack, tenant):
    send_partner_event(stack, tenant, {"id": "q-forged", "type": "signup", "member": "mallory"}, secret="guess")
    assert stack.drain()
    assert http.call("GET", f"{tenant['path']}/members/mallory/balance", tenant["admin"]).code == "not_found"
    assert dlq_reasons(stack, tenant, "q-forged") == ["bad signature"]


def test_a_redemption_is_fulfilled_and_the_member_told_by_email_and_sms(http, stack, tenant):
    path, admin = tenant["path"], tenant["admin"]
    http.call("PUT", f"{path}/members/rita", admin, {"email": "rita@example.com", "phone": "+14155550123",
                                                     "name": "Rita", "locale": "es"})
    http.call("POST", f"{path}/events", admin, {"id": "r-1", "type": "purchase", "member": "rita",
                                                "properties": {"amount": 100000}})
    card = http.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Cine", "cost": 300}).body
    http.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": ["CINE-1"]})
    session = http.call("POST", f"{path}/members/rita/sessions", admin, {}).body["token"]
    redemption = http.call("POST", f"{path}/members/rita/redemptions", session, {"reward_id": card["id"]},
                           headers={"Idempotency-Key": "rita-1"})
    assert redemption.status == 202 and redemption.body["status"] == "pending"
    assert stack.drain()
    done = http.call("GET", f"{path}/redemptions/{redemption.body['id']}", session)
    assert done.body["status"] == "fulfilled" and done.body["fulfillment"]["code"] == "CINE-1"
    outbox = sent(stack)
    # (the purchase also lifted Rita to Silver, which she was told of too)
    emails = [e for e in outbox["emails"] if "rita@example.com" in e["to"] and "Tu recompensa" in e["subject"]]
    sms = [s for s in outbox["sms"] if s["phone"] == "+14155550123" and "CINE-1" in s["message"]]
    assert len(emails) == 1 and "CINE-1" in emails[0]["body"]
    assert len(sms) == 1
    assert any("Silver" in e["subject"] for e in outbox["emails"] if "rita@example.com" in e["to"])


def test_a_failed_fulfilment_gives_the_points_back(http, stack, tenant):
    path, admin = tenant["path"], tenant["admin"]
    http.call("PUT", f"{path}/members/sam", admin, {"name": "Sam"})
    http.call("POST", f"{path}/members/sam/adjustments", admin, {"points": 500, "reason": "gift"},
              headers={"Idempotency-Key": "sam-gift"})
    card = http.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Gone", "cost": 200}).body
    http.call("POST", f"{path}/rewards/{card['id']}/codes", admin, {"codes": ["GONE-1"]})
    # The code disappears behind Laurel's back (a provider or data fault): fulfilment can never succeed
    table = stack.client("dynamodb")
    name = next(t for t in table.list_tables()["TableNames"])
    code_hash = hashlib.sha256(b"GONE-1").hexdigest()
    table.delete_item(TableName=name, Key={"pk": {"S": f"CODE#{card['id']}"}, "sk": {"S": code_hash}})
    redemption = http.call("POST", f"{path}/members/sam/redemptions", admin, {"reward_id": card["id"]},
                           headers={"Idempotency-Key": "sam-1"})
    assert redemption.status == 202
    assert http.call("GET", f"{path}/members/sam/balance", admin).body["available"] == 300
    assert stack.drain(timeout=60)
    failed = http.call("GET", f"{path}/redemptions/{redemption.body['id']}", admin)
    assert failed.body["status"] == "failed"
    assert http.call("GET", f"{path}/members/sam/balance", admin).body["available"] == 500
    kinds = [t["kind"] for t in http.call("GET", f"{path}/members/sam/transactions", admin).body["items"]]
    assert kinds == ["refund", "redeem", "adjust"]


def test_a_broadcast_reaches_its_segment_and_its_unsubscribe_link_works_without_a_key(http, stack, tenant):
    path, admin = tenant["path"], tenant["admin"]
    for name, lists in (("uma", "news"), ("vic", "none")):
        http.call("PUT", f"{path}/members/{name}", admin, {"email": f"{name}@example.com", "name": name.title(),
                                                           "attributes": {"list": lists}})
    started = http.call("POST", f"{path}/broadcasts", admin,
                        {"content": {"en": {"title": "Hello from the club", "body": "News for you."}},
                         "segment": {"attributes": {"list": "news"}}}, headers={"Idempotency-Key": "news-1"})
    assert started.status == 202
    assert stack.drain(timeout=60)
    # The segment got it, with the link to this API's unsubscribe page; the others nothing
    outbox = sent(stack)
    (email,) = [e for e in outbox["emails"] if "uma@example.com" in e["to"]]
    assert email["subject"] == "Hello from the club" and not [e for e in outbox["emails"] if "vic@example.com" in e["to"]]
    link = re.search(r'href="([^"]+)"', email["body"])[1]
    assert link.startswith(f"{stack.base_url}/v1/unsubscribe/")
    done = http.call("GET", f"{path}/broadcasts/{started.body['id']}", admin).body
    assert done["status"] == "done" and done["counts"]["sent"] == 1
    # Following it: a page that asks, then its button unsubscribes
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert requests.post(link, data={}, timeout=10).status_code == 200
    prefs = http.call("GET", f"{path}/members/uma/preferences", admin).body
    assert prefs["email"] == {"transactional": True, "marketing": False}
