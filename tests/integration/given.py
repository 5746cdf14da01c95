"""Given steps and races that many integration tests share (a plain module: conftest modules share one name)."""
from concurrent.futures import ThreadPoolExecutor

from chalicelib.core.errors import LaurelError

THREADS = 12


def enrol(api, program, member="ada", *, points=1000, key="welcome", **profile):
    """A member of the program with `profile` (a name, by default) and `points` credited by an adjustment."""
    path, admin = program["path"], program["admin"]
    assert api.call("PUT", f"{path}/members/{member}", admin, {"name": member.title(), **profile})[0] == 201
    assert api.call("POST", f"{path}/members/{member}/adjustments", admin, {"points": points, "reason": "welcome"},
                    {"Idempotency-Key": key})[0] == 201


def outcomes(calls):
    """Run the calls at once; each outcome is 'ok' or the contract's error code, sorted."""
    def run(call):
        try:
            call()
            return "ok"
        except LaurelError as error:
            return error.code

    with ThreadPoolExecutor(THREADS) as pool:
        return sorted(pool.map(run, calls))


# A staff read of a member's personal data, and any staff write, is recorded in the organisation's audit trail
# (chalicelib/core/audit.py): after the call's own requests, the chain head's read and the record's transaction.
AUDIT_APPEND = ["GetItem", "TransactWriteItems"]
