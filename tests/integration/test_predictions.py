"""Predictions on members: active days recorded once each from the stream, a nightly refit on a sample that
grows with the members active, and a member's churn risk read from its summary and its program's model."""
import random
from datetime import date, timedelta

from chalicelib.core import clock, db
from chalicelib.core.db.activity_items import ChurnModelItem
from chalicelib.members import activity, predictions

DAYS = 60
START = date.fromisoformat(clock.day(clock.now())) - timedelta(days=DAYS)


def _day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


def _population(members: int, days: int, seed: int) -> dict[str, list[int]]:
    """Each member's active days: a first day, then days at its own rate until it leaves."""
    rng = random.Random(seed)
    lives = {}
    for n in range(members):
        first, rate, leaves = rng.randrange(days - 20), rng.uniform(0.05, 0.6), rng.uniform(0.02, 0.3)
        active, day = [first], first
        while rng.random() > leaves:
            day += 1 + int(rng.expovariate(rate))
            if day >= days:
                break
            active.append(day)
        lives[f"m{n:03d}"] = active
    return lives


def test_a_day_counts_once_however_often_its_entries_arrive(program):
    for day in (_day(0), _day(0), _day(3), _day(3), _day(1), _day(7)):  # redelivered, and one late from another shard
        activity.record(program["id"], "ada", day)
    item = activity.read(program["id"], "ada")
    assert (item.first, item.last, int(item.repeats)) == (_day(0), _day(7), 2)
    keys = db.index_keys("gsi2", db.ActivityItem.active_on(_day(7), program["id"], "ada")[0], 10)
    assert (item.pk, item.sk) in keys  # listed under its last active day only
    assert (item.pk, item.sk) not in db.index_keys("gsi2", db.ActivityItem.active_on(_day(3), program["id"], "ada")[0], 10)


def test_the_nightly_refresh_fits_the_program_and_ranks_its_members(program):
    lives = _population(100, DAYS, seed=3)
    by_day: dict[int, list[str]] = {}
    for member, days in lives.items():
        for day in days:
            by_day.setdefault(day, []).append(member)
    runs = []
    for n in range(DAYS):
        for member in by_day.get(n, []):
            activity.record(program["id"], member, _day(n))
        runs.append(predictions.refresh(_day(n)))
    mine = [run for run in runs if run["active_members"]]
    assert sum(run["active_members"] for run in mine) >= sum(len(days) for days in lives.values())  # other tests' too
    model = db.get(ChurnModelItem, ChurnModelItem.key(program["id"]))
    assert len(model.sample) == len(lives) == int(model.seen)  # every member, first seen active, is in the sample
    assert model.r is not None and model.fitted_at

    answer = predictions.for_member(program["id"], "m000")
    days = lives["m000"]
    assert answer["activity"] == {"first_active_day": _day(days[0]), "last_active_day": _day(days[-1]),
                                  "repeat_active_days": len(days) - 1}
    assert 0 <= answer["churn_risk"] <= 1 and answer["churn_risk"] == round(1 - answer["active_probability"], 4)
    recent = [m for m, d in lives.items() if d[-1] >= DAYS - 5 and len(d) >= 5]
    silent = [m for m, d in lives.items() if d[-1] <= DAYS // 2 and len(d) >= 5]
    assert recent and silent
    risk = {m: predictions.for_member(program["id"], m)["churn_risk"] for m in recent + silent}
    assert max(risk[m] for m in recent) < min(risk[m] for m in silent)


def test_a_member_never_active_or_a_program_without_a_model_has_no_figures(program):
    assert predictions.for_member(program["id"], "nobody")["churn_risk"] is None
    activity.record(program["id"], "solo", _day(0))
    answer = predictions.for_member(program["id"], "solo")
    assert answer["activity"]["repeat_active_days"] == 0 and answer["model"] is None and answer["churn_risk"] is None
