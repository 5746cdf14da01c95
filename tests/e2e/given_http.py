"""Steps the end-to-end tests share, over HTTP against a running stack: Given a member with points and a
reward; When many clients call at once; Then the member's ledger adds up."""
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from laurel_http import Http, Reply

TIMEOUT = 60  # seconds any one group of parallel calls may take, all together


def enrol(http: Http, tenant: dict, member: str, points: int, **profile) -> None:
    """A member of the tenant's program with `points` from one adjustment."""
    path, admin = tenant["path"], tenant["admin"]
    assert http.call("PUT", f"{path}/members/{member}", admin, {"name": member.title(), **profile}).status == 201
    credit = http.call("POST", f"{path}/members/{member}/adjustments", admin, {"points": points, "reason": "seed"},
                       headers={"Idempotency-Key": f"seed-{member}"})
    assert credit.status == 201, credit


def add_reward(http: Http, tenant: dict, **reward) -> dict:
    made = http.call("POST", f"{tenant['path']}/rewards", tenant["admin"], reward)
    assert made.status == 201, made
    return made.body


def redemption(http: Http, tenant: dict, redemption_id: str, key: str | None = None) -> dict:
    shown = http.call("GET", f"{tenant['path']}/redemptions/{redemption_id}", key or tenant["admin"])
    assert shown.status == 200, shown
    return shown.body


def at_once(base_url: str, jobs: list[Callable[[Http], Any]]) -> list[Any]:
    """Run each job in its own thread with its own HTTP session, all released together; results in order."""
    clients = [Http(base_url) for _ in jobs]
    for client in clients:  # each opens its (kept-alive) connection before the start line: the calls race,
        assert client.call("GET", "/v1/health").status == 200  # not the connects
    start = threading.Barrier(len(jobs))

    def run(job, client):
        start.wait(TIMEOUT)
        return job(client)

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(run, job, client) for job, client in zip(jobs, clients)]
        return [future.result(TIMEOUT) for future in futures]


def outcome(reply: Reply) -> str:
    """A reply as `status` or `status code`, for counting."""
    return f"{reply.status} {reply.code}" if reply.code else str(reply.status)


def transactions(http: Http, tenant: dict, member: str) -> list[dict]:
    """The member's transactions, newest first (all of them: the tests keep under a page)."""
    page = http.call("GET", f"{tenant['path']}/members/{member}/transactions?limit=100", tenant["admin"])
    assert page.status == 200 and page.body["next_cursor"] is None, page
    return page.body["items"]


def balance(http: Http, tenant: dict, member: str) -> dict:
    reply = http.call("GET", f"{tenant['path']}/members/{member}/balance", tenant["admin"])
    assert reply.status == 200, reply
    return reply.body


def assert_ledger_adds_up(http: Http, tenant: dict, member: str) -> dict:
    """The contract's invariant: the member's transactions sum to available + pending; nothing negative."""
    now = balance(http, tenant, member)
    items = transactions(http, tenant, member)
    assert sum(t["points"] for t in items) == now["available"] + now["pending"]
    assert now["available"] >= 0 and all(t["balance_after"] >= 0 for t in items)
    return now


def ledger(http: Http, tenant: dict, member: str) -> list[dict]:
    """The member's transactions, oldest first, once checked: each balance follows from the one before
    and the last is the balance shown; no redemption refunded twice."""
    entries = list(reversed(transactions(http, tenant, member)))
    running = 0
    for entry in entries:
        running += entry["points"]
        assert entry["balance_after"] == running, entries
    shown = balance(http, tenant, member)
    assert shown["available"] == running, (shown, entries)
    refunded = [e["redemption_id"] for e in entries if e["kind"] == "refund"]
    assert len(refunded) == len(set(refunded)), entries
    return entries


def refunds_of(entries: list[dict], redemption_id: str) -> list[dict]:
    return [e for e in entries if e["kind"] == "refund" and e["redemption_id"] == redemption_id]
