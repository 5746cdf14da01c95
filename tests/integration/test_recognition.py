"""Recognition: members give points from a monthly allowance that never goes negative and resets monthly."""
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from unittest import mock

from chalicelib.core import clock
from chalicelib.earning import recognition

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]


def team(api):
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Team {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    program = api.call("POST", "/v1/programs", admin, {
        "name": "Kudos", "recognition": {"monthly_allowance": 100, "max_per_gift": 50}})[1]
    path = f"/v1/programs/{program['id']}"
    for member in ("ann", "ben", "cat"):
        api.call("PUT", f"{path}/members/{member}", admin, {"name": member})
    return {"org_id": org["id"], "id": program["id"], "admin": admin, "path": path}


def give(api, program, giver, key, to="ben", points=30, message="Thanks for the launch!", token=None):
    return api.call("POST", f"{program['path']}/members/{giver}/recognitions", token or program["admin"],
                    {"to": to, "points": points, "message": message}, {"Idempotency-Key": key})


def test_a_gift_moves_points_from_the_allowance_to_the_receiver_once(stack, api):
    program = team(api)
    token = api.call("POST", f"{program['path']}/members/ann/sessions", program["admin"], {})[1]["token"]
    status, gift = give(api, program, "ann", "g-1", token=token)
    assert status == 201 and (gift["from"], gift["to"], gift["points"], gift["allowance_left"]) == ("ann", "ben", 30, 70)
    assert give(api, program, "ann", "g-1", token=token) == (200, gift)
    balance = api.call("GET", f"{program['path']}/members/ben/balance", program["admin"])[1]
    assert balance["available"] == 30
    assert api.call("GET", f"{program['path']}/members/ann/balance", program["admin"])[1]["available"] == 0
    assert give(api, program, "ben", "g-2", token=token)[0] == 404  # ann's session cannot give as ben


def test_the_allowance_never_goes_negative_even_at_once(stack, api):
    program = team(api)
    calls = [lambda n=n: recognition.give(program["org_id"], program["id"], "ann",
                                          {"to": "cat", "points": 30, "message": "x"}, f"c-{n}") for n in range(8)]

    def run(call):
        try:
            call()
            return "ok"
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            return getattr(error, "code", type(error).__name__)

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(run, calls))
    assert outcomes == ["allowance_exceeded"] * 5 + ["ok"] * 3
    assert api.call("GET", f"{program['path']}/members/cat/balance", program["admin"])[1]["available"] == 90


def test_limits_and_refusals(stack, api):
    program = team(api)
    assert give(api, program, "ann", "r-1", points=51)[1]["error"]["code"] == "conflict"  # over max_per_gift
    assert give(api, program, "ann", "r-2", to="ann")[1]["error"]["code"] == "conflict"  # to itself
    assert give(api, program, "ann", "r-3", to="nobody")[0] == 404
    assert give(api, program, "ann", "r-4", points=0)[0] == 400


def test_the_allowance_resets_when_the_month_turns(stack, api):
    program = team(api)
    november, december = datetime(2026, 11, 30, 23, tzinfo=timezone.utc), datetime(2026, 12, 1, 1, tzinfo=timezone.utc)
    with mock.patch.object(clock, "now", return_value=november):
        assert give(api, program, "ann", "m-1", points=50)[0] == 201
        assert give(api, program, "ann", "m-2", points=50)[0] == 201
        assert give(api, program, "ann", "m-3", points=1)[1]["error"]["code"] == "allowance_exceeded"
    with mock.patch.object(clock, "now", return_value=december):
        assert give(api, program, "ann", "m-4", points=50)[1]["allowance_left"] == 50


def test_a_member_who_cannot_give_learns_nothing_of_who_is_a_member(stack, api):
    # Given a member session whose gift would be refused anyway (over the gift limit, or the allowance)
    program = team(api)
    token = api.call("POST", f"{program['path']}/members/ann/sessions", program["admin"], {})[1]["token"]
    assert give(api, program, "ann", "spend-it", points=50, token=token)[0] == 201
    assert give(api, program, "ann", "spend-more", points=50, to="cat", token=token)[0] == 201
    # When it names a member and a stranger alike
    for points in (60, 10):
        known = give(api, program, "ann", f"k-{points}", to="ben", points=points, token=token)
        stranger = give(api, program, "ann", f"s-{points}", to="nobody-here", points=points, token=token)
        # Then both answers are the same refusal
        assert known[0] == stranger[0] == 409 and known[1] == stranger[1], (known, stranger)
