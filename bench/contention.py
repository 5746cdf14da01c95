"""F. Contention: a budgeted campaign and a stocked reward raced by many clients on the strict emulator.

DynamoDB cancels a transaction that overlaps another on the same item and throttles an item written
past 1,000 WCU a second; local/strict_dynamodb.py makes the emulator do the same. Here one campaign's
budget (earns racing for it) and one reward's stock (redemptions racing for it) are each raced by
8, 32 and 128 threads calling the domain functions the API's routes call (earning.earn.record_event,
rewards.redemptions.create), a fixed number of operations per run. Setup and the final checks go
through the API. Each run reports operations a second, conflicts, throttles and retries per operation,
503s, and whether the budget or stock went past its limit: what was granted (summed from the answers)
against the limit, and against what the API says was spent or is left.
"""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from bench.report import MISSED, OK, number, table

CLIENTS = (8, 32, 128)
OPERATIONS = 256  # per run, shared among its clients
SHARE_WITHIN_LIMIT = 0.75  # the budget or stock covers this share of a run's operations: the rest race for none
PROGRAM_POINTS = 1  # the program's own rule, per purchase
CAMPAIGN_POINTS = 10  # the campaign's rule, per purchase, within its budget
REWARD_COST = 10
# The emulator applies some 60 operations a second in all, where DynamoDB lets one item take 500 transactional
# writes a second (1,000 WCU): the per-item limit is scaled by 0.05, so a hot item is throttled at the emulator's pace.
ITEM_WCU = 50
COMMIT_MS = 5.0  # how long a committed transaction holds its items (strict_dynamodb's default)


class Api:
    """The Chalice app through its test client, answering (status, body) as the integration tests' Api does."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method: str, path: str, key: str, body: Any = None, headers: dict | None = None
             ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {key}", **(headers or {})}
        response = self.client.http.request(method, path, headers=sent,
                                            body=json.dumps(body) if body is not None else b"")
        return response.status_code, (json.loads(response.body) if response.body else None)


class SetupFailed(Exception):
    pass


def _ok(answer: tuple[int, Any], what: str) -> Any:
    status, body = answer
    if status not in (200, 201, 202):
        raise SetupFailed(f"{what} answered {status}: {body}")
    return body


@dataclass
class Run:
    """One race and its figures."""

    race: str  # "campaign budget" or "reward stock"
    clients: int
    operations: int
    seconds: float
    limit: int  # the budget's points or the stock's units
    granted: int  # what the successful answers got: campaign points, or units redeemed
    stored: int  # what the API says: the campaign's spent points, or the units taken from the stock
    statuses: dict[str, int]  # HTTP status the route would answer (200/201/202, 409, 503, 500) -> count
    emulator: dict[str, int]  # strict_dynamodb's counters
    retried: int  # attempts retried by chalicelib.core.transact
    settings: dict = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def conflicts(self) -> int:
        return (self.emulator["transaction_conflicts"] + self.emulator["write_conflicts"]
                + self.emulator["read_conflicts"])

    @property
    def throttles(self) -> int:
        return self.emulator["throttled_transactions"] + self.emulator["throttled_writes"]

    @property
    def busy(self) -> int:
        return self.statuses.get("503", 0)

    @property
    def past_limit(self) -> bool:
        """Granted or stored beyond the limit, or the answers and the stored state disagree."""
        return self.granted > self.limit or self.stored > self.limit or self.granted != self.stored

    def as_dict(self) -> dict:
        return {**asdict(self), "per_second": round(self.per_second, 1), "conflicts": self.conflicts,
                "throttles": self.throttles, "busy": self.busy, "past_limit": self.past_limit}


def _status(call: Callable[[], Any]) -> tuple[int, Any]:
    """The status the API would answer for this domain call (chalicelib/core/web.py's mapping), and its result."""
    from chalicelib.core.errors import LaurelError
    from chalicelib.core.transact import is_transient

    try:
        return 200, call()
    except LaurelError as error:
        return error.status, error
    except Exception as error:  # noqa: BLE001 - what the route would answer is the figure
        return (503 if is_transient(error) else 500), error


def _race(clients: int, operations: int, operation: Callable[[int], Any], *, item_wcu: int, commit_ms: float
          ) -> tuple[list[tuple[int, Any]], float, dict[str, int], int]:
    """`operation(n)` for n in range(operations), by `clients` threads on the strict emulator."""
    from chalicelib.core import transact
    from local import strict_dynamodb

    strict_dynamodb.enable(commit_ms=commit_ms, item_wcu=item_wcu)
    transact.tally.take()
    share = [list(range(operations))[c::clients] for c in range(clients)]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            done = pool.map(lambda numbers: [_status(lambda n=n: operation(n)) for n in numbers], share)
            results = [result for client in done for result in client]
        seconds = time.perf_counter() - started
        return results, seconds, strict_dynamodb.counters(), transact.tally.take()["retried"]
    finally:
        strict_dynamodb.disable()


def _program(api, root_key: str, label: str) -> dict:
    org = _ok(api.call("POST", "/v1/orgs", root_key, {"name": f"{label} {uuid.uuid4().hex[:6]}"}), "POST /v1/orgs")
    admin = org["admin_key"]["secret"]
    program = _ok(api.call("POST", "/v1/programs", admin, {
        "name": label, "earn_rules": [{"event_type": "purchase", "points": PROGRAM_POINTS}]}), "POST /v1/programs")
    return {"org_id": org["id"], "id": program["id"], "admin": admin, "path": f"/v1/programs/{program['id']}"}


def campaign_budget(api, root_key: str, clients: int, operations: int = OPERATIONS, *, item_wcu: int = ITEM_WCU,
                    commit_ms: float = COMMIT_MS) -> Run:
    """`operations` purchases by as many new members, racing for one campaign's budget."""
    from chalicelib.core import clock
    from chalicelib.earning import earn

    program = _program(api, root_key, "Flash campaign")
    budget = int(operations * SHARE_WITHIN_LIMIT) * CAMPAIGN_POINTS
    now = clock.now()
    campaign = _ok(api.call("POST", f"{program['path']}/campaigns", program["admin"], {
        "name": "Flash", "starts_at": clock.iso(now - timedelta(hours=1)),
        "ends_at": clock.iso(now + timedelta(hours=1)), "budget_points": budget,
        "earn_rules": [{"event_type": "purchase", "points": CAMPAIGN_POINTS}]}), "POST campaigns")

    def purchase(n: int):
        return earn.record_event(program["org_id"], program["id"],
                                 {"id": f"flash-{n}", "type": "purchase", "member": f"buyer-{n}"})

    results, seconds, counters, retried = _race(clients, operations, purchase, item_wcu=item_wcu,
                                                commit_ms=commit_ms)
    granted = sum(answer[0]["points"] - PROGRAM_POINTS for status, answer in results if status == 200)
    listed = _ok(api.call("GET", f"{program['path']}/campaigns", program["admin"]), "GET campaigns")["items"]
    stored = next(c["spent_points"] for c in listed if c["id"] == campaign["id"])
    return Run("campaign budget", clients, operations, seconds, budget, granted, stored,
               dict(Counter(str(status) for status, _ in results)), counters, retried,
               {"item_wcu": item_wcu, "commit_ms": commit_ms})


def reward_stock(api, root_key: str, clients: int, operations: int = OPERATIONS, *, item_wcu: int = ITEM_WCU,
                 commit_ms: float = COMMIT_MS) -> Run:
    """`operations` redemptions by `clients` members (one each, with points for all its turns), racing
    for one reward's stock."""
    from chalicelib.rewards import redemptions

    program = _program(api, root_key, "Hot reward")
    stock = int(operations * SHARE_WITHIN_LIMIT)
    reward = _ok(api.call("POST", f"{program['path']}/rewards", program["admin"],
                          {"type": "cashback", "name": "Hot", "cost": REWARD_COST, "stock": stock}), "POST rewards")
    turns = -(-operations // clients)
    for client in range(clients):
        _ok(api.call("PUT", f"{program['path']}/members/fan-{client}", program["admin"], {"name": f"Fan {client}"}),
            "PUT member")
        _ok(api.call("POST", f"{program['path']}/members/fan-{client}/adjustments", program["admin"],
                     {"points": turns * REWARD_COST, "reason": "contention bench"},
                     {"Idempotency-Key": f"fan-{client}"}), "POST adjustment")

    def redeem(n: int):
        return redemptions.create(program["org_id"], program["id"], f"fan-{n % clients}",
                                  {"reward_id": reward["id"], "quantity": 1}, f"hot-{n}")

    results, seconds, counters, retried = _race(clients, operations, redeem, item_wcu=item_wcu, commit_ms=commit_ms)
    granted = sum(1 for status, _ in results if status == 200)
    left = _ok(api.call("GET", f"{program['path']}/rewards/{reward['id']}", program["admin"]), "GET reward")["stock"]
    return Run("reward stock", clients, operations, seconds, stock, granted, stock - left,
               dict(Counter(str(status) for status, _ in results)), counters, retried,
               {"item_wcu": item_wcu, "commit_ms": commit_ms})


def run(clients: tuple[int, ...] = CLIENTS, operations: int = OPERATIONS) -> list[Run]:
    """Every race, on moto in this process (deployed as section A deploys it)."""
    from bench import operations as section_a

    with section_a.deployed():
        from chalice.test import Client

        import app

        with Client(app.app) as client:
            api = Api(client)
            root_key = section_a.TEST_ENVIRONMENT["LAUREL_ROOT_KEY"]
            return [race(api, root_key, count, operations) for race in (campaign_budget, reward_stock)
                    for count in clients]


def render(runs: list[Run]) -> str:
    settings = runs[0].settings if runs else {"item_wcu": ITEM_WCU, "commit_ms": COMMIT_MS}
    operations = runs[0].operations if runs else OPERATIONS
    rows = []
    for r in runs:
        per = r.operations or 1
        rows.append([r.race, str(r.clients), f"{r.per_second:.0f}", number(r.conflicts / per),
                     number(r.throttles / per), number(r.retried / per), f"{r.busy} {OK if not r.busy else MISSED}",
                     str(r.statuses.get("500", 0)), f"{r.granted}/{r.limit}",
                     f"{'yes ' + MISSED if r.past_limit else 'no ' + OK}"])
    return "\n".join([
        "F. Contention on the strict emulator (local/strict_dynamodb.py): one budgeted campaign, one stocked reward",
        table(["race", "clients", "ops/s", "conflicts/op", "throttles/op", "retries/op", "503s", "500s",
               "granted/limit", "past limit"], rows, "lrrrrrrrrl"),
        (f"   {operations} operations a run among its clients (threads calling the routes' domain functions); the"
         f" limit covers {SHARE_WITHIN_LIMIT:.0%} of them."),
        (f"   strict emulator: a committed transaction holds its items {settings['commit_ms']:g} ms; per-item limit"
         f" scaled to {settings['item_wcu']} WCU/s (DynamoDB: 1,000, i.e. x{settings['item_wcu'] / 1000:g}),"),
        "   as the emulator runs far slower than DynamoDB. conflicts: transactions (writes, and the shards' reads at one",
        "   instant) cancelled with TransactionConflict and single writes refused with TransactionConflictException;",
        "   throttles: refused for the item's WCU;",
        "   retries: attempts chalicelib.core.transact tried again. past limit: more granted (summed from the answers)",
        "   than the limit, or more stored (the API's spent points / stock taken), or the two disagree.",
        "   targets: no 503, never past the limit, conflicts per operation that do not grow with the clients.",
    ])
