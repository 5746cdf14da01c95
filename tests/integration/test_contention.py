"""On the strict emulator (transactions conflict, items throttle as on DynamoDB), 16 clients racing one
campaign's budget and one reward's stock: never past the limit, and no 503 (the retries hold)."""
import os

import pytest

from bench import contention

ROOT_KEY = os.environ["LAUREL_ROOT_KEY"]
CLIENTS = 16
OPERATIONS = 64


@pytest.mark.parametrize("race", [contention.campaign_budget, contention.reward_stock], ids=["budget", "stock"])
def test_sixteen_clients_racing_for_a_limit_never_pass_it_and_never_get_a_503(stack, api, race):
    # When 16 clients race for a limit that covers 3/4 of their operations, on the strict emulator at DynamoDB's
    # own per-item limit
    run = race(api, ROOT_KEY, CLIENTS, OPERATIONS, item_wcu=1000)
    # Then the race really contended, and still: exactly the limit was granted, as stored, with no 503 or 500
    assert run.emulator["transactions"] > OPERATIONS * contention.SHARE_WITHIN_LIMIT
    assert run.granted == run.stored == run.limit, run.as_dict()
    assert not run.past_limit
    assert set(run.statuses) <= {"200", "409"} and run.busy == 0, run.statuses
