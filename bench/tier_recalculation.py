"""Tier recalculation at scale: 100,000 members of whom 1% can change tier today, on moto in this process.

    python -m bench.tier_recalculation [--members N]

The stack is deployed from infra/template.yaml (bench.operations' `deployed`). Members are written
straight into moto's table as the ledger leaves them (fast seeding, not measured): 99% earned their
Silver points 100 days ago (their tier is next reviewed in 265 days), 1% earned them 365 days ago,
so today their points leave the window and they fall to no tier. Two runs are measured, every
botocore request counted:

- scheduled: the daily plan (`tier_review.plan`) and TierReviewFunction's real handler consuming its
  messages, as the schedule and the queue run them; it reads only the members indexed for today;
- sweep: `tier_review.sweep` over the program (what a change of its tiers costs): parallel Scan
  segments over the whole table, every member read, only changes written. moto's Scan costs a pass
  over the whole table per page, so the sweep runs on a tenth of the members in a fresh deployment
  and its figures are also shown scaled to the full count (requests grow linearly with the table).

The target: the scheduled run's DynamoDB requests within 2x the members that change, plus a constant.
"""
from __future__ import annotations

import argparse
import time
from datetime import timedelta

from bench.member_import import Counter
from bench.operations import REGION, deployed
from bench.report import table

MEMBERS = 100_000
CHANGING_EVERY = 100  # 1% of the members can change tier today
FUNCTION = "TierReviewFunction"
CONSTANT = 50  # per run: the plan's index queries (days x shards), job state, programs, endpoints


def _seed(program: dict, count: int, now, table: str) -> int:
    """Members put straight into moto's table as their account (chalicelib.members.account) leaves them after
earning 2000 points, with the index entries it gives them."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.core import clock
    from chalicelib.core.transact import Tx
    from chalicelib.members import account, programs

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    item = programs.load(program["org_id"], program["id"])
    changing = 0
    for n in range(count):
        falls = n % CHANGING_EVERY == 0
        changing += falls
        earned_at = now - timedelta(days=365 if falls else 100)
        member = account.new_member(program["org_id"], program["id"], f"m-{n:06d}", clock.iso(earned_at))
        member.tier = "Silver"  # reached when it earned (no history, no bonus to seed)
        earned = account.Account(item, member, earned_at)
        earned.credit(2000, toward_window=True)
        earned.settle(Tx())  # Silver kept; reviewed the day these points leave the window
        earned.stage(Tx())  # the member item as the earn's transaction writes it
        member.version = 1
        backend.put_item(table, member.serialize())
    return changing


def _measure(counter: Counter, work) -> dict:
    counter.reset()
    started = time.perf_counter()
    counts = work()
    seconds = time.perf_counter() - started
    dynamodb = counter.of("dynamodb")
    return {**counts, "seconds": round(seconds, 1), "dynamodb_requests": dynamodb,
            "dynamodb_requests_total": sum(dynamodb.values()), "sqs_requests": counter.of("sqs")}


def _deployment(members: int, runs: tuple[str, ...]) -> dict:
    """Seed `members` in a fresh deployment and measure the named runs, in order."""
    with deployed() as (deployment, runtime):
        from chalicelib.core import clock, db, orgs
        from chalicelib.members import programs, tier_review

        poller = next(p for p in runtime.pollers if p.trigger.function.logical_id == FUNCTION)
        now = clock.now()
        org = orgs.create_org("Bench Tiers")
        program = programs.create(org["id"], {"name": "Club", "currency_name": "points", "locale": "en",
                                              "tiers": [{"name": "Silver", "min_points": 1000}]})
        program["org_id"] = org["id"]
        changing = _seed(program, members, now, deployment.environment["LAUREL_TABLE"])
        while poller.poll_once():  # the sweep that creating the program with tiers asked for (empty then)
            pass

        def consume() -> dict:
            handled = 0
            while poller.poll_once():
                handled += 1
            return {"messages": handled}

        work = {"scheduled": lambda: {**tier_review.plan(now), **consume()},
                "sweep": lambda: {"segments": tier_review.sweep(program["id"], now), **consume()}}
        result = {"members": members, "changing": changing}
        with Counter() as counter:
            for name in runs:
                result[name] = _measure(counter, work[name])
        result["changed"] = sum(1 for m in db.MemberItem.scan(db.MemberItem.sk == "MEMBER")
                                if m.tier is None and m.program_id == program["id"])
    return result


def run(members: int = MEMBERS) -> dict:
    full = _deployment(members, ("scheduled",))
    sample = _deployment(max(1000, members // 10), ("scheduled", "sweep"))
    scale = members / sample["members"]
    sweep = sample["sweep"]
    budget = 2 * full["changing"]
    return {"members": members, "changing": full["changing"], "changed": full["changed"],
            "scheduled": full["scheduled"], "sweep_sample": sample,
            "sweep_projected": {"dynamodb_requests_total": round(sweep["dynamodb_requests_total"] * scale),
                                "seconds": round(sweep["seconds"] * scale, 1)},
            "target_requests": budget,
            "scheduled_within_target": full["scheduled"]["dynamodb_requests_total"] <= budget + CONSTANT}


def render(result: dict) -> str:
    def row(label: str, m: dict) -> list[str]:
        return [label, f"{m['dynamodb_requests_total']:,}", f"{m['seconds']:.1f}", str(m["messages"]),
                ", ".join(f"{op} {n:,}" for op, n in m["dynamodb_requests"].items())]

    sample = result["sweep_sample"]
    projected = result["sweep_projected"]
    rows = [row(f"scheduled, {result['members']:,} members", result["scheduled"]),
            row(f"scheduled, {sample['members']:,} members", sample["scheduled"]),
            row(f"full sweep, {sample['members']:,} members", sample["sweep"]),
            [f"full sweep, {result['members']:,} (scaled)", f"{projected['dynamodb_requests_total']:,}",
             f"{projected['seconds']:.0f}", "", "linear in the table's size"]]
    mark = "✓" if result["scheduled_within_target"] else "✗"
    return "\n".join([
        f"E. Tier recalculation: {result['members']:,} members, {result['changing']:,} (1%) falling a tier today "
        f"({result['changed']:,} fell)",
        table(["run", "DynamoDB requests", "seconds", "messages", "requests by operation"], rows, "lrrrl"),
        f"   target: scheduled requests ≤ 2 × {result['changing']:,} changing + {CONSTANT}: "
        f"{result['scheduled']['dynamodb_requests_total']:,} {mark}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tier_recalculation", description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=MEMBERS, help=f"members (default {MEMBERS:,})")
    result = run(parser.parse_args(argv).members)
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
