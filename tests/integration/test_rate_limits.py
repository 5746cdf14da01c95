"""Rate limits are per credential: a member's flood slows that member, never another member (of another
organisation, or of the same program) nor the organisation's keys."""
import os
import uuid
from unittest import mock

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
BURST = 3


def _program(api) -> dict:
    org = api.call("POST", "/v1/orgs", ROOT_KEY, {"name": f"Org {uuid.uuid4().hex[:6]}"})[1]
    admin = org["admin_key"]["secret"]
    created = api.call("POST", "/v1/programs", admin, {"name": "Club", "currency_name": "points"})[1]
    return {"admin": admin, "path": f"/v1/programs/{created['id']}"}


def _session(api, program, member) -> str:
    api.call("PUT", f"{program['path']}/members/{member}", program["admin"], {"name": member})
    return api.call("POST", f"{program['path']}/members/{member}/sessions", program["admin"], {})[1]["token"]


def test_one_members_flood_answers_429_to_that_member_only(api):
    # Given members of two organisations, and a second member of the first program, with sessions
    first, second = _program(api), _program(api)
    ada, bea, cy = _session(api, first, "ada"), _session(api, first, "bea"), _session(api, second, "cy")
    with mock.patch.dict(os.environ, {"LAUREL_RATE_LIMIT_PER_SECOND": "0.001", "LAUREL_RATE_LIMIT_BURST": str(BURST)}):
        # When one member calls past its burst
        statuses = [api.call("GET", f"{first['path']}/members/ada/balance", ada)[0] for _ in range(BURST + 1)]
        # Then that member is slowed down
        assert statuses == [200] * BURST + [429]
        # And nobody else is: not another organisation's member, not a member of its own program, not its admin
        assert api.call("GET", f"{second['path']}/members/cy/balance", cy)[0] == 200
        assert api.call("GET", f"{first['path']}/members/bea/balance", bea)[0] == 200
        assert api.call("GET", f"{first['path']}/members/ada/balance", first["admin"])[0] == 200
