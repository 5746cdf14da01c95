"""Scheduled jobs: driven by the index entries the ledger writes, safe to run twice."""
import json
from datetime import timedelta

import boto3
from test_webhooks import register

from chalicelib.core import clock, db
from chalicelib.members import expiry, tier_review
from chalicelib.rewards import recovery


def earn(api, program, member, amount):
    status, answer = api.call("POST", f"{program['path']}/events", program["admin"], {
        "id": f"{member}-{amount}", "type": "purchase", "member": member, "properties": {"amount": amount}})
    assert status == 201
    return answer


def member_item(program, member):
    return db.get(db.MemberItem, db.MemberItem.key(program["id"], member))


def test_points_expire_on_their_day_once(stack, api, program):
    # Given points that expire in 365 days
    earned = earn(api, program, "exp-1", 50000)
    expires_at = clock.parse(earned["transactions"][0]["expires_at"])
    # When the expiry job runs the day before, then twice on the day
    assert expiry.expire_member(db.MemberItem.key(program["id"], "exp-1"), expires_at - timedelta(days=1)) == 0
    first = expiry.expire_points(expires_at + timedelta(minutes=1))
    second = expiry.expire_points(expires_at + timedelta(minutes=2))
    # Then the points expired once, with one `expire` transaction
    assert first["points_expired"] >= 500 and second["points_expired"] == 0
    status, page = api.call("GET", f"{program['path']}/members/exp-1/transactions", program["admin"])
    assert [(t["kind"], t["points"]) for t in page["items"]] == [("expire", -500), ("earn", 500)]
    status, balance = api.call("GET", f"{program['path']}/members/exp-1/balance", program["admin"])
    assert (balance["available"], balance["expiring"]) == (0, [])
    assert member_item(program, "exp-1").gsi2pk is None  # nothing left to index


def test_tier_falls_when_earnings_leave_the_window(stack, api, program):
    # Given a member who reached Silver today
    earn(api, program, "tier-1", 120000)
    assert member_item(program, "tier-1").tier == "Silver"
    # When the daily schedule plans the recalculation 365 days later, and the review function runs it
    planned = tier_review.plan(clock.now() + timedelta(days=365))
    stack.pump("TierReviewFunction")
    # Then one message per index shard of the day was sent, its stored tier is gone, and a rerun changes nothing
    assert planned["segments"] >= db.SHARDS
    assert member_item(program, "tier-1").tier is None
    assert tier_review.recalculate_member(db.MemberItem.key(program["id"], "tier-1"), clock.now() + timedelta(days=365)) is False


def test_a_lost_fulfilment_send_is_recovered(stack, api, program):
    # Given a redemption whose fulfilment message was lost
    admin, path = program["admin"], program["path"]
    earn(api, program, "rec-1", 10000)
    status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "cashback", "name": "1 EUR", "cost": 50,
                                                                "value": {"amount": 100, "currency": "EUR"}})
    status, redemption = api.call("POST", f"{path}/members/rec-1/redemptions", admin, {"reward_id": reward["id"]},
                                  {"Idempotency-Key": "rec-1"})
    assert status == 202
    boto3.client("sqs").purge_queue(QueueUrl=stack.env["FULFILMENT_QUEUE_URL"])
    # When the recovery job runs after the grace period, and fulfilment consumes the queue
    assert recovery.recover_redemptions(clock.now() + timedelta(minutes=3))["resent"] >= 1
    stack.pump("FulfilmentFunction")
    # Then the redemption is fulfilled, and a later recovery run finds nothing to resend for it
    assert api.call("GET", f"{path}/redemptions/{redemption['id']}", admin)[1]["status"] == "fulfilled"
    assert db.get(db.RedemptionItem, db.RedemptionItem.key(redemption["id"])).gsi2pk is None


def test_members_are_told_once_a_week_ahead_that_points_expire(stack, api, program):
    # Given a member with an email whose points expire in 365 days
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    api.call("PUT", f"{program['path']}/members/remind-1", program["admin"],
             {"email": "remind-1@example.com", "locale": "it"})
    earned = earn(api, program, "remind-1", 30000)
    expires_at = clock.parse(earned["transactions"][0]["expires_at"])
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    before = len([m for m in sent if "remind-1@example.com" in m.destinations["ToAddresses"]])
    # When the expiry job runs 8 days before (too early), then 6 days before, twice
    assert expiry.expire_points(expires_at - timedelta(days=8))["reminders"] == 0
    first = expiry.expire_points(expires_at - timedelta(days=6))
    second = expiry.expire_points(expires_at - timedelta(days=6, hours=-1))
    stack.pump("EmailDeliveryFunction")
    # Then one reminder went out, in the member's language, naming the points and the date
    assert first["reminders"] >= 1 and second["reminders"] == 0
    mine = [m for m in sent if "remind-1@example.com" in m.destinations["ToAddresses"]][before:]
    assert len(mine) == 1
    assert "300" in mine[0].subject and expires_at.strftime("%Y-%m-%d") in mine[0].body and "scadono" in mine[0].body


def test_points_about_to_expire_are_told_once_as_a_webhook_even_without_channels(stack, api, program, receiver):
    # Given an endpoint for expiring points, and a member with no email or phone whose points expire
    register(api, program, receiver, kinds=("points.expiring",))
    earned = earn(api, program, "hook-1", 30000)
    expires_at = clock.parse(earned["transactions"][0]["expires_at"])
    # When the hourly job runs twice within the reminder window, and the webhook function runs
    expiry.expire_points(expires_at - timedelta(days=3))
    expiry.expire_points(expires_at - timedelta(days=3, minutes=-5))
    stack.pump("WebhookDeliveryFunction")
    # Then the receiver was told once, signed, with the points and the moment, and nothing personal
    told = [json.loads(r["body"]) for r in receiver.requests]
    assert [event["data"] for event in told] == [
        {"member": {"external_id": "hook-1"}, "points": 300, "expires_at": earned["transactions"][0]["expires_at"]}]
    assert told[0]["type"] == "points.expiring" and receiver.requests[0]["verified_with"]
