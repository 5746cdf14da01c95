"""`python -m load` (`make load`): a bounded locust run against the local stack.

Without --host it starts its own local stack (`python -m local`) on free loopback ports, seeds a
tenant through the API, runs the scenario headless for --seconds, checks the ledger of a sample of
members, stops the stack and reports p50/p95/p99 latency, counts, errors and throughput per request
type and overall, as a table and in build/load.json. With --host it runs against a stack already
running on this machine (it needs the root key, --root-key or LAUREL_ROOT_KEY, to seed its tenant).
The stack it starts runs its emulator in strict mode (local/strict_dynamodb.py: transactions that
overlap on an item conflict, items written past DynamoDB's per-item limit are throttled, as on AWS),
and the report says what that mode refused.

Exit status: 0 when errors are at most 1% of requests (a 409 insufficient_points or out_of_stock on
a redemption is an expected answer, counted apart); 1 when they are more, when no request was made,
or when a checked member's transactions do not add up to its balance; 2 for bad options, a stack
that would not start or a tenant that could not be seeded.

Only loopback traffic: --host must be 127.0.0.1 or localhost; the run is bounded by --users (at
most 500) and --seconds (at most 600). The stack it starts is the one `make run` starts, with its
output in build/load-stack.log.
"""
# locust first: importing it monkey-patches the standard library for gevent, which must happen
# before anything imports socket, ssl or threading users such as requests.
import locust  # noqa: F401,I001  isort: skip

import argparse
import ipaddress
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import gevent
import gevent.pool
import requests
from locust.env import Environment

from load import report, scenario
from load.tenant import SeedError, Tenant, seed
from local.launcher import REPO, LocalStack, StackError
from local.strict_dynamodb import SWITCH as STRICT_SWITCH

BUILD = REPO / "build"
ERROR_LIMIT = 0.01
MAX_USERS = 500
MAX_SECONDS = 600
STOP_TIMEOUT = 15  # a user finishes its request in flight, then stops; a hung one is stopped after this
SEED_CONCURRENCY = 8


def _bounded(low: int, high: int):
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _loopback_url(text: str) -> str:
    """Only this machine: a load test must never be pointed at someone else's service."""
    parts = urlsplit(text)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise argparse.ArgumentTypeError("must be an http(s) URL on this machine (127.0.0.1 or localhost)")
    return text.rstrip("/")


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=_bounded(1, MAX_USERS), default=20, help="simulated clients (default 20)")
    parser.add_argument("--seconds", type=_bounded(1, MAX_SECONDS), default=60,
                        help="how long the load runs, spawn included (default 60)")
    parser.add_argument("--spawn-rate", type=_bounded(1, MAX_USERS), default=10, help="users started per second")
    parser.add_argument("--host", type=_loopback_url,
                        help="a Laurel API already running on this machine; default: start a local stack")
    parser.add_argument("--root-key", default=os.environ.get("LAUREL_ROOT_KEY"),
                        help="with --host: its root key, to seed a tenant (default $LAUREL_ROOT_KEY)")
    parser.add_argument("--members", type=_bounded(1, 2000), default=200, help="members seeded (default 200)")
    parser.add_argument("--codes", type=_bounded(0, 20_000), default=100, help="gift-card codes seeded (default 100)")
    parser.add_argument("--check-members", type=_bounded(0, 2000), default=50,
                        help="members whose ledger is checked after the run (default 50)")
    parser.add_argument("--out", type=Path, default=BUILD / "load.json", help="where the figures go")
    args = parser.parse_args(argv)
    if args.host and not args.root_key:
        parser.error("--host needs the stack's root key: --root-key or LAUREL_ROOT_KEY")
    return args


def log(message: str) -> None:
    print(f"load: {message}", file=sys.stderr, flush=True)


def parallel(function, items: list) -> list:
    return gevent.pool.Pool(SEED_CONCURRENCY).map(function, items)


def run_load(base_url: str, tenant: Tenant, users: int, spawn_rate: int, seconds: int) -> tuple[Environment, float]:
    scenario.PointOfSale.tenant = tenant
    env = Environment(user_classes=[scenario.PointOfSale], host=base_url, stop_timeout=STOP_TIMEOUT)
    runner = env.create_local_runner()
    started = time.monotonic()
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join(timeout=seconds + STOP_TIMEOUT + 30)  # quit() stops the users within STOP_TIMEOUT
    return env, time.monotonic() - started


def check_ledger(base_url: str, tenant: Tenant, stack: LocalStack | None, sample: int) -> dict:
    """After our own stack's queues drain: each sampled member's transactions sum to available + pending, none negative."""
    drained = stack.drain(timeout=60) if stack else None
    session = requests.Session()
    headers = {"Authorization": f"Bearer {tenant.admin_key}"}
    mismatches = []
    for member in tenant.members[:sample]:
        balance = session.get(f"{base_url}{tenant.path}/members/{member}/balance", headers=headers, timeout=60).json()
        total, cursor, negative = 0, None, False
        while True:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = session.get(f"{base_url}{tenant.path}/members/{member}/transactions{query}", headers=headers,
                               timeout=60).json()
            total += sum(item["points"] for item in page["items"])
            negative |= any(item["balance_after"] < 0 for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        if total != balance["available"] + balance["pending"] or negative or balance["available"] < 0:
            mismatches.append({"member": member, "sum": total, "available": balance["available"],
                               "pending": balance["pending"]})
    return {"members_checked": min(sample, len(tenant.members)), "mismatches": mismatches, "drained": drained}


def results(env: Environment, args: argparse.Namespace, target: str, duration: float, tenant: Tenant,
            ledger: dict | None) -> dict:
    refusals = scenario.Refusals.counts
    per_type = {}
    for name in scenario.REQUEST_TYPES:
        entry = next((e for e in env.stats.entries.values() if e.name == name), None)
        if entry is not None:
            per_type[name] = report.entry_figures(entry, sum(n for (kind, _), n in refusals.items() if kind == name))
    total = report.entry_figures(env.stats.total, sum(refusals.values()))
    errors = sorted(({"name": e.name, "method": e.method, "error": str(e.error), "occurrences": e.occurrences}
                     for e in env.stats.errors.values()), key=lambda e: -e["occurrences"])
    reasons = []
    if total["requests"] == 0:
        reasons.append("no request was made")
    if total["error_rate"] > ERROR_LIMIT:
        reasons.append(f"errors {total['error_rate']:.2%} > {ERROR_LIMIT:.0%}")
    if ledger and ledger["mismatches"]:
        reasons.append(f"{len(ledger['mismatches'])} member(s) whose ledger does not add up")
    return {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": {"users": args.users, "seconds": args.seconds, "spawn_rate": args.spawn_rate, "target": target,
                   "task_weights": {"GET balance": 50, "GET member": 10, "POST event (earn)": 30,
                                    "POST redemption": 10},
                   "think_time_s": 0, "locust": locust.__version__},
        "tenant": tenant.public(),
        "duration_s": round(duration, 1),
        "requests": per_type,
        "total": total,
        "refusals": [[name, code, count] for (name, code), count in sorted(refusals.items())],
        "errors": errors,
        "error_limit": ERROR_LIMIT,
        "ledger_check": ledger,
        "passed": not reasons,
        "verdict": "; ".join(reasons) or f"errors within {ERROR_LIMIT:.0%}",
    }


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    stack = None
    try:
        if args.host:
            base_url, root_key, target = args.host, args.root_key, args.host
        else:
            log("starting a local stack (python -m local) on free ports ...")
            # Only the settings made here: none of this shell's LAUREL_* reaches the stack being measured.
            stack = LocalStack(BUILD / "load-stack.log", {STRICT_SWITCH: "1"}, without=["LAUREL_"])
            stack.start()
            base_url, root_key = stack.base_url, stack.root_key
            target = f"{base_url} (own local stack, log in {stack.log_path.relative_to(REPO)})"
        log(f"seeding a tenant: {args.members} members, {args.codes} gift-card codes, {args.users} store keys ...")
        tenant = seed(base_url, root_key, members=args.members, codes=args.codes, store_keys=args.users,
                      map_parallel=parallel)
        log(f"seeded in {tenant.seconds:.1f} s ({tenant.calls} calls); running {args.users} users for "
            f"{args.seconds} s ...")
        env, duration = run_load(base_url, tenant, args.users, args.spawn_rate, args.seconds)
        log(f"load done in {duration:.0f} s")
        ledger = None
        if args.check_members:
            log(f"draining the queues and checking the ledger of {min(args.check_members, args.members)} members ...")
            checked = time.monotonic()
            ledger = check_ledger(base_url, tenant, stack, args.check_members)
            log(f"checked in {time.monotonic() - checked:.0f} s")
        result = results(env, args, target, duration, tenant, ledger)
        if stack is not None:
            result["strict_emulator"] = stack.strict()
    except (StackError, SeedError, requests.RequestException) as error:
        log(f"{type(error).__name__}: {error}")
        return 2
    finally:
        if stack is not None:
            log("stopping the local stack (Ctrl-C) ...")
            code = stack.stop()
            log(f"local stack stopped in {stack.stop_seconds:.0f} s (exit {code})")
    if stack is not None:
        result["stack"] = {"exit_code": code, "stop_seconds": round(stack.stop_seconds, 1),
                           "log": str(stack.log_path.relative_to(REPO))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.render(result))
    print(f"figures written to {args.out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
