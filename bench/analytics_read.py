"""H. What an analytics read costs: GET .../analytics over 30 and 365 days, by day, for programs whose history
differs by orders of magnitude in members and events. The figures must not move with them: the read is the
program's GetItem and one Query over the range's day items (a page per MB).

The days are filled through the stream consumer's own write (chalicelib.insight.aggregates.count, what
AnalyticsFunction does per record), from changes shaped as ledger entries' records, so a year fills in a minute.
The last scene is the worst case, written as day items directly: every day's active-members sketch dense (4 KB,
from ~1,400 members active a day up), the largest a day item gets.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.dynamo import Measurement, Meter, Recorder, Table
from bench.operations import REGION, TEST_ENVIRONMENT, Api, deployed

RANGES = (30, 365)
LAST_DAY = datetime(2025, 12, 31, 12, tzinfo=UTC)
# (name, members, events a day by distinct members; None: the dense worst case, written directly)
SCENES = (("1 member, 1 event a day", 1, 1), ("1,000 members, 5 events a day", 1_000, 5),
          ("worst case: 2,000 members active every day", 100_000, None))
DENSE_ACTIVE = 2_000


def fill(program_id: str, members: int, events_a_day: int, rng: random.Random) -> int:
    """A year of days through the stream consumer's write, each with its events' points and members; returns
    the events."""
    from chalicelib.insight import aggregates
    from chalicelib.insight.deltas import Change

    for back in range(max(RANGES)):
        at = (LAST_DAY - timedelta(days=back)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for n, member in enumerate(rng.sample(range(members), k=events_a_day)):
            aggregates.count(Change(program_id, at, marker=f"bench-{program_id}-{back}-{n}",
                                    counts={"issued": 10, "issued_rules": 10}, active=f"m{member}"))
    return events_a_day * max(RANGES)


def fill_dense(program_id: str, members: int, rng: random.Random) -> int:
    """A year of day items as full as they get: a dense sketch each (written directly, not event by event)."""
    from chalicelib.insight.aggregates import AggregateItem
    from chalicelib.insight.sketch import Sketch

    for back in range(max(RANGES)):
        sketch = Sketch()
        for member in rng.sample(range(members), k=DENSE_ACTIVE):
            sketch.add(f"m{member}")
        day = (LAST_DAY - timedelta(days=back)).strftime("%Y-%m-%d")
        AggregateItem(*AggregateItem.key(program_id, day), issued=10 * DENSE_ACTIVE,
                      issued_rules=10 * DENSE_ACTIVE, active=sketch.to_bytes(), sketch_version=1).save()
    return DENSE_ACTIVE * max(RANGES)


def run() -> dict[str, Any]:
    with deployed() as (deployment, _):
        import boto3
        from chalice.test import Client

        import app

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        recorder = Recorder()
        recorder.install()
        try:
            table = Table.describe(dynamodb, deployment.environment["LAUREL_TABLE"])
            meter = Meter(recorder, table, dynamodb)
            rows = []
            with Client(app.app) as client:
                api = Api(client)
                org = api.call("POST", "/v1/orgs", TEST_ENVIRONMENT["LAUREL_ROOT_KEY"], {"name": "Analytics"})
                admin = org["admin_key"]["secret"]
                for name, members, events_a_day in SCENES:
                    program = api.call("POST", "/v1/programs", admin, {"name": name})
                    rng = random.Random(members)
                    events = (fill(program["id"], members, events_a_day, rng) if events_a_day
                              else fill_dense(program["id"], members, rng))
                    path = f"/v1/programs/{program['id']}/analytics"
                    for days in RANGES:
                        first = (LAST_DAY - timedelta(days=days - 1)).strftime("%Y-%m-%d")
                        query = f"{path}?from={first}&to={LAST_DAY:%Y-%m-%d}"
                        api.call("GET", query, admin)  # warm-up: the key checked and cached, as in section A
                        measured, answer = meter.measure("analytics", lambda query=query: api.call("GET", query,
                                                                                                    admin))
                        if answer["totals"]["issued"] != 10 * (events_a_day or DENSE_ACTIVE) * days:
                            raise AssertionError(f"{name}: {days} days answered {answer['totals']['issued']}")
                        rows.append({**_row(name, members, events, days, measured, answer),
                                     "dense": events_a_day is None})
        finally:
            recorder.uninstall()
    return {"results": rows}


def _row(scene: str, members: int, events: int, days: int, m: Measurement, answer: dict) -> dict[str, Any]:
    return {"scene": scene, "members": members, "events": events, "days": days, "requests": m.requests,
            "rcu": m.rcu, "ms": round(m.ms, 1), "active_members": answer["totals"]["active_members"]}
