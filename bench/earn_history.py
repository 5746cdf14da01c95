"""G. What an earn costs whatever the member's history: a member earns every day (and each night the expiry job
visits it, as the hourly schedule would, and the tier recalculation on its review day); its earn is measured on its first day, and after 365 and 730 days.

Same deployment, meter and pricing of item sizes as section A. A member's profile is about 600 bytes (email,
phone, name, locale, attributes). The 30 days before the last are measured too: a month's mean shows what the
monthly pieces cost on the days a month is sealed or read (chalicelib/members/history.py), beside the day measured.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench import capacity
from bench.dynamo import Measurement, Meter, Recorder, Table
from bench.operations import REGION, TEST_ENVIRONMENT, Api, BenchError, deployed

HISTORIES = (0, 365, 730)
MONTH = 30  # the 730-day member's last days, measured one by one
PROFILE_BYTES = 600
# DynamoDB on-demand, us-east-1 (since 1 November 2024): per million request units.
WRITE_PRICE, READ_PRICE = 0.625, 0.125
DAY_ONE = datetime(2025, 1, 6, tzinfo=UTC)
JOB_HOUR, EARN_HOUR = 0.5, 10


def dollars_per_million(m: Measurement) -> float:
    return m.wcu * WRITE_PRICE + m.rcu * READ_PRICE


@dataclass
class Result:
    name: str
    measurement: Measurement

    def row(self) -> dict[str, Any]:
        m = self.measurement
        return {"name": self.name, "requests": m.requests, "rcu": m.rcu, "wcu": m.wcu, "index_wcu": m.index_wcu,
                "dollars_per_million": round(dollars_per_million(m), 3)}


def _mean(name: str, measurements: list[Measurement]) -> Measurement:
    """One measurement standing for the mean of several (their calls together, divided by their number)."""
    return Measurement(name, [call for m in measurements for call in m.calls], sum(m.ms for m in measurements),
                       per=len(measurements))


class History:
    """One program (365-day expiry, two tiers), its members and the days they earn on."""

    def __init__(self, api: Api, meter: Meter) -> None:
        self.api, self.meter, self._events = api, meter, 0
        org = api.call("POST", "/v1/orgs", TEST_ENVIRONMENT["LAUREL_ROOT_KEY"], {"name": "History Coffee"})
        self.admin = org["admin_key"]["secret"]
        program = api.call("POST", "/v1/programs", self.admin, {
            "name": "Daily Coffee", "points_expiry_days": 365,
            "earn_rules": [{"event_type": "purchase", "points_per": {"property": "amount", "every": 100,
                                                                      "points": 1}}],
            "tiers": [{"name": "Silver", "min_points": 1000, "multiplier": 1.25},
                      {"name": "Gold", "min_points": 5000, "multiplier": 1.5}]})
        self.program_id, self.path = program["id"], f"/v1/programs/{program['id']}"

    def enrol(self, member: str) -> None:
        filler = "x" * 460  # brings the profile to about PROFILE_BYTES
        self.api.call("PUT", f"{self.path}/members/{member}", self.admin, {
            "email": f"{member}@example.com", "phone": "+393331234567", "name": "Ada Lovelace-Byron",
            "locale": "it", "attributes": {"store": "milano-01", "department": "research", "notes": filler}})

    def night(self, member: str, day: int) -> None:
        """What the schedules do for the member: expire and release what fell due, and review its tier on its
        review day (the scheduled recalculation finds it in that day's index partition)."""
        from chalicelib.core import db
        from chalicelib.members import expiry, tier_review

        key, now = db.MemberItem.key(self.program_id, member), _at(day, JOB_HOUR)
        expiry.expire_member(key, now)
        stored = db.get(db.MemberItem, key)
        if stored and stored.tier_review and stored.tier_review <= now.strftime("%Y-%m-%d"):
            tier_review.recalculate_member(key, now)

    def earn(self, member: str, day: int) -> None:
        self._events += 1
        with mock.patch("chalicelib.core.clock.now", return_value=_at(day, EARN_HOUR)):
            self.api.call("POST", f"{self.path}/events", self.admin, {
                "id": f"coffee-{self._events:06d}", "type": "purchase", "member": member,
                "properties": {"amount": 350 + self._events % 7 * 50}}, expect=(201,))

    def balance(self, member: str, day: int) -> None:
        with mock.patch("chalicelib.core.clock.now", return_value=_at(day, EARN_HOUR)):
            self.api.call("GET", f"{self.path}/members/{member}/balance", self.admin)

    def measure(self, name: str, action) -> Measurement:
        measurement, _ = self.meter.measure(name, action)
        return measurement


def _at(day: int, hour: float) -> datetime:
    return DAY_ONE + timedelta(days=day, hours=hour)


def run(histories: tuple[int, ...] = HISTORIES) -> dict[str, Any]:
    """One member earns every day; its earn is measured on its first day and on the days that give it each
    history, its last month's earns and nights one by one."""
    with deployed() as (deployment, _):
        import boto3
        from chalice.test import Client

        import app

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        recorder = Recorder()
        recorder.install()
        try:
            table = Table.describe(dynamodb, deployment.environment["LAUREL_TABLE"])
            with Client(app.app) as client:
                scene = History(Api(client), Meter(recorder, table, dynamodb))
                member, last = "ada", max(histories)
                scene.enrol(member)
                results, month_earns, month_nights = [], [], []
                for day in range(last + 1):
                    if day in histories:
                        scene.night(member, day)
                        results.append(Result(f"earn after {day} days", scene.measure(
                            "earn", lambda day=day: scene.earn(member, day))))
                    elif day >= last - MONTH:
                        month_nights.append(scene.measure("night", lambda day=day: scene.night(member, day)))
                        month_earns.append(scene.measure("earn", lambda day=day: scene.earn(member, day)))
                    else:
                        scene.night(member, day)
                        scene.earn(member, day)
                results.append(Result(f"  mean of the {MONTH} days before: an earn", _mean("earn", month_earns)))
                results.append(Result(f"  mean of the {MONTH} days before: the nightly jobs",
                                      _mean("night", month_nights)))
                scene.balance(member, last)  # warm-up: the key checked, as in section A
                results.append(Result(f"balance read after {last} days",
                                      scene.measure("balance", lambda: scene.balance(member, last))))
                sizes = _sizes(table, dynamodb, scene.program_id, member)
        finally:
            recorder.uninstall()
    if sizes["profile_bytes"] < PROFILE_BYTES - 100:
        raise BenchError(f"the profile measured {sizes['profile_bytes']} bytes, not about {PROFILE_BYTES}")
    return {"results": [r.row() for r in results], "sizes": sizes,
            "prices": {"write_per_million": WRITE_PRICE, "read_per_million": READ_PRICE}}


def _sizes(table: Table, client, program_id: str, member: str) -> dict[str, int]:
    """The bytes of the longest member's items: its account, its profile and its sealed months."""
    from chalicelib.core import db

    items = table.snapshot(client)
    pk = db.member_pk(program_id, member)
    mine = {item["sk"]["S"]: item for item in items.values() if item["pk"]["S"] == pk}
    account = capacity.item_size(mine.get("MEMBER"))
    profile = capacity.item_size(mine.get("PROFILE"))
    months = [capacity.item_size(item) for sk, item in mine.items() if sk.startswith(db.HISTORY_PREFIX)]
    return {"account_bytes": account, "profile_bytes": profile, "sealed_months": len(months),
            "sealed_month_bytes_max": max(months, default=0)}

