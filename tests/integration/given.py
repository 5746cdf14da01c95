"""Given steps that many integration tests share (a plain module: conftest modules share one name)."""


def enrol(api, program, member="ada", *, points=1000, key="welcome", **profile):
    """A member of the program with `profile` (a name, by default) and `points` credited by an adjustment."""
    path, admin = program["path"], program["admin"]
    assert api.call("PUT", f"{path}/members/{member}", admin, {"name": member.title(), **profile})[0] == 201
    assert api.call("POST", f"{path}/members/{member}/adjustments", admin, {"points": points, "reason": "welcome"},
                    {"Idempotency-Key": key})[0] == 201
