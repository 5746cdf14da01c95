"""Referrals: one code per member, each referee attached once and rewarded once, no self-referral, no cycles."""
import os
import uuid

from given import outcomes

from chalicelib.core.errors import LaurelError

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def referral_program(api):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Refer {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Friends", "earn_rules": [{"event_type": "purchase", "points": 10}],
        "referral": {"qualifying_event": "purchase", "referrer_points": 500, "referee_points": 200}})[1]
    path = f"/v1/programs/{program['id']}"
    for member in ("ann", "ben", "cat"):
        api.call("PUT", f"{path}/members/{member}", admin, {"name": member})
    return {"admin": admin, "path": path}


def code(api, program, member):
    status, body = api.call("GET", f"{program['path']}/members/{member}/referral-code", program["admin"])
    assert status == 200
    return body["code"]


def attach(api, program, member, referral_code):
    return api.call("PUT", f"{program['path']}/members/{member}/referral", program["admin"], {"code": referral_code})


def available(api, program, member):
    return api.call("GET", f"{program['path']}/members/{member}/balance", program["admin"])[1]["available"]


def test_both_are_rewarded_once_on_the_referees_first_qualifying_event(stack, api):
    # Given ben referred by ann, through ann's code
    program = referral_program(api)
    ann_code = code(api, program, "ann")
    assert code(api, program, "ann") == ann_code  # one code per member, forever
    assert attach(api, program, "ben", ann_code) == (201, {"referred_by": "ann", "status": "pending"})
    assert attach(api, program, "ben", ann_code)[0] == 200  # the same again is a no-op
    # When ben makes two purchases
    first = api.call("POST", f"{program['path']}/events", program["admin"],
                     {"id": "p-1", "type": "purchase", "member": "ben"})[1]
    api.call("POST", f"{program['path']}/events", program["admin"], {"id": "p-2", "type": "purchase", "member": "ben"})
    # Then ben got 200 extra once, ann got 500 once
    assert first["points"] == 10 + 200
    assert available(api, program, "ben") == 210 + 10
    assert available(api, program, "ann") == 500
    items = api.call("GET", f"{program['path']}/members/ann/transactions", program["admin"])[1]["items"]
    assert [(t["kind"], t["points"], t["reason"]) for t in items] == [("earn", 500, "referral bonus")]


def test_self_referral_cycles_and_a_second_referrer_are_refused(stack, api):
    program = referral_program(api)
    ann, ben, cat = (code(api, program, m) for m in ("ann", "ben", "cat"))
    assert attach(api, program, "ann", ann)[1]["error"]["code"] == "conflict"  # self
    assert attach(api, program, "ben", ann)[0] == 201  # ann -> ben
    assert attach(api, program, "cat", ben)[0] == 201  # ben -> cat
    assert attach(api, program, "ann", cat)[1]["error"]["code"] == "conflict"  # cat -> ann would close a cycle
    assert attach(api, program, "ben", cat)[1]["error"]["code"] == "conflict"  # ben already referred
    assert attach(api, program, "ann", "AAAAAAAA")[0] == 404


def test_a_member_session_sees_its_own_code_only(stack, api):
    program = referral_program(api)
    token = api.call("POST", f"{program['path']}/members/ann/sessions", program["admin"], {})[1]["token"]
    assert api.call("GET", f"{program['path']}/members/ann/referral-code", token)[0] == 200
    assert api.call("GET", f"{program['path']}/members/ben/referral-code", token)[0] == 404


def test_two_members_attaching_each_others_code_at_once_never_both_succeed(stack, api):
    # Given pairs of members, each pair knowing each other's codes
    program = referral_program(api)
    for pair in range(6):
        first, second = f"p{pair}a", f"p{pair}b"
        for member in (first, second):
            api.call("PUT", f"{program['path']}/members/{member}", program["admin"], {"name": member})
        codes = {member: code(api, program, member) for member in (first, second)}

        def attaching(member, other, codes=codes):
            def call():
                status, body = attach(api, program, member, codes[other])
                if status != 201 and status != 200:
                    raise LaurelError(body["error"]["message"], code=body["error"]["code"])
            return call

        # When both attach the other's code at the same moment
        results = outcomes([attaching(first, second), attaching(second, first)])
        # Then one referral stands and the other is refused as a cycle
        assert results == ["conflict", "ok"], results
