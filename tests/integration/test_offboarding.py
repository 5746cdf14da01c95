"""Offboarding and blocking: a closed or blocked member earns and redeems nothing (over HTTP and the partner queue),
a close forfeits the balance when the program says so, and each change is idempotent and reversible."""
import boto3
import pytest
from given import enrol
from test_partner_events import FUNCTION, dead_letters, send

KEY = {"Idempotency-Key": "k1"}


@pytest.fixture
def shop(api, program):
    """Ada with 1000 points and a gift card to redeem for 100."""
    path, admin = program["path"], program["admin"]
    enrol(api, program, "ada", email="ada@example.com")
    status, reward = api.call("POST", f"{path}/rewards", admin, {"type": "gift_card", "name": "Books", "cost": 100})
    assert status == 201
    api.call("POST", f"{path}/rewards/{reward['id']}/codes", admin, {"codes": ["B-1", "B-2", "B-3"]})
    return {**program, "reward_id": reward["id"], "member": f"{path}/members/ada"}


def earn(api, shop, event_id):
    return api.call("POST", f"{shop['path']}/events", shop["admin"],
                    {"id": event_id, "type": "signup", "member": "ada"})


def redeem(api, shop, key):
    return api.call("POST", f"{shop['member']}/redemptions", shop["admin"], {"reward_id": shop["reward_id"]},
                    {"Idempotency-Key": key})


def available(api, shop):
    return api.call("GET", f"{shop['member']}/balance", shop["admin"])[1]["available"]


def test_a_closed_member_cannot_earn_or_redeem_until_reopened_and_keeps_its_points(api, shop):
    # Given Ada closed (the program keeps balances at close)
    status, closed = api.call("POST", f"{shop['member']}/close", shop["admin"], {"reason": "left"}, KEY)
    assert status == 200
    assert closed["status"] == "closed" and closed["reason"] == "left" and "forfeited" not in closed
    # Then an earn and a redemption are refused with a clear 409, and nothing moves
    status, refused = earn(api, shop, "e-1")
    assert status == 409 and refused["error"]["code"] == "member_closed"
    status, refused = redeem(api, shop, "r-1")
    assert status == 409 and refused["error"]["code"] == "member_closed"
    assert available(api, shop) == 1000
    # And closing again answers the member as it is
    assert api.call("POST", f"{shop['member']}/close", shop["admin"], {}, {"Idempotency-Key": "k2"})[1] == closed
    # When reopened, it earns and redeems again
    status, reopened = api.call("POST", f"{shop['member']}/reopen", shop["admin"], None, KEY)
    assert status == 200 and reopened["status"] == "active"
    assert earn(api, shop, "e-1")[0] == 201
    assert redeem(api, shop, "r-1")[0] == 202
    assert available(api, shop) == 1000 + 100 - 100


def test_a_program_that_forfeits_at_close_writes_one_forfeit_entry(api, shop):
    # Given a program that forfeits balances at close
    status, updated = api.call("PATCH", shop["path"], shop["admin"], {"offboarding": {"forfeit_on_close": True}})
    assert status == 200 and updated["offboarding"] == {"forfeit_on_close": True}
    # When Ada is closed, twice
    status, closed = api.call("POST", f"{shop['member']}/close", shop["admin"], {"reason": "left"}, KEY)
    assert status == 200 and closed["forfeited"] == 1000
    assert api.call("POST", f"{shop['member']}/close", shop["admin"], {}, KEY)[1] == closed
    # Then its balance is 0, and the ledger shows one forfeit entry that makes the entries add up
    assert available(api, shop) == 0
    page = api.call("GET", f"{shop['member']}/transactions", shop["admin"])[1]["items"]
    assert [t["kind"] for t in page] == ["forfeit", "adjust"]
    assert sum(t["points"] for t in page) == 0 and page[0]["balance_after"] == 0
    # And reopening does not give the points back
    api.call("POST", f"{shop['member']}/reopen", shop["admin"], None, KEY)
    assert available(api, shop) == 0


def test_a_blocked_member_is_refused_with_its_reason_until_unblocked(api, shop):
    status, blocked = api.call("POST", f"{shop['member']}/block", shop["admin"], {"reason": "takeover suspected"}, KEY)
    assert status == 200 and blocked["status"] == "blocked" and blocked["reason"] == "takeover suspected"
    assert earn(api, shop, "e-1")[1]["error"]["code"] == "member_blocked"
    assert redeem(api, shop, "r-1")[1]["error"]["code"] == "member_blocked"
    # A blocked member is not reopened (it is unblocked), and blocking again keeps the first reason
    assert api.call("POST", f"{shop['member']}/reopen", shop["admin"], None, KEY)[1]["error"]["code"] == \
        "member_status"
    assert api.call("POST", f"{shop['member']}/block", shop["admin"], {"reason": "again"}, KEY)[1] == blocked
    status, unblocked = api.call("POST", f"{shop['member']}/unblock", shop["admin"], None, KEY)
    assert status == 200 and unblocked["status"] == "active" and unblocked["reason"] is None
    assert earn(api, shop, "e-1")[0] == 201
    assert api.call("POST", f"{shop['member']}/unblock", shop["admin"], None, KEY)[1] == unblocked


def test_only_admins_change_a_status_and_a_key_is_required(api, shop):
    status, key = api.call("POST", "/v1/api-keys", shop["admin"], {"name": "till", "role": "store"})
    assert api.call("POST", f"{shop['member']}/block", key["secret"], {"reason": "x"}, KEY)[0] == 403
    assert api.call("POST", f"{shop['member']}/block", shop["admin"], {"reason": "x"})[0] == 400
    assert api.call("POST", f"{shop['path']}/members/nobody/close", shop["admin"], {}, KEY)[0] == 404


def test_a_blocked_members_partner_event_goes_to_the_dlq_with_its_reason(stack, api, shop):
    status, key = api.call("POST", "/v1/api-keys", shop["admin"], {"name": "shop", "role": "partner"})
    partner = {**shop, "key_id": key["id"], "secret": key["secret"]}
    api.call("POST", f"{shop['member']}/block", shop["admin"], {"reason": "farming"}, KEY)
    send(stack, partner, {"id": "q-1", "type": "signup", "member": "ada"})
    stack.pump(FUNCTION)
    kept = dead_letters(stack, partner)
    assert len(kept) == 1 and "member_blocked" in kept[0]["MessageAttributes"]["error"]["StringValue"]
    assert available(api, shop) == 1000
    boto3.client("sqs").delete_message(QueueUrl=stack.env["PARTNER_EVENTS_DLQ_URL"],
                                       ReceiptHandle=kept[0]["ReceiptHandle"])


def test_the_directory_lists_members_by_status(api, shop):
    # Given Ada blocked and Bob active
    enrol(api, shop, "bob", key="welcome-bob")
    assert api.call("POST", f"{shop['member']}/block", shop["admin"], {"reason": "chargebacks"}, KEY)[0] == 200

    def listed(status: str) -> list[tuple[str, str]]:
        code, page = api.call("GET", f"{shop['path']}/members?status={status}", shop["admin"])
        assert code == 200, page
        return [(item["external_id"], item["status"]) for item in page["items"]]

    # Then the directory finds each by its status, and refuses a status there is not
    assert listed("blocked") == [("ada", "blocked")]
    assert listed("active") == [("bob", "active")]
    assert listed("closed") == []
    code, error = api.call("GET", f"{shop['path']}/members?status=gone", shop["admin"])
    assert code == 400 and error["error"]["details"] == {"field": "status"}
