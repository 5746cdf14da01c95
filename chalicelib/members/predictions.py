"""Predictions on a member: the probability it is still active, its churn risk, the active days to expect.

Each program's MBG/NBD model (members/churn.py) is refitted nightly by `refresh`, whose cost grows with the
members active the day before: it reads them from gsi2 (`ACTIVE#{day}#{shard}`), keeps a uniform sample of the
program's members in the model item (reservoir sampling over members as they are first seen active) and fits
the sample. A member's figures are computed when read, from its summary and the model, so a silent member's
risk rises day by day without any write.
"""
import random
import time
from collections import defaultdict
from datetime import date, timedelta
from typing import Optional

from chalicelib.core import clock, db
from chalicelib.core.db.activity_items import ActivityItem, ChurnModelItem
from chalicelib.members import activity
from chalicelib.members.churn import Model, fit

SAMPLE_SIZE = 500  # members a program's model is fitted on; a fit takes about a second of CPU
MIN_SAMPLE = 30  # below this the model is not fitted (its figures would mean little)
HORIZON_DAYS = 30  # the "next period" of the expected active days
BATCH = 100  # BatchGetItem's limit
MODEL_CACHE_SECONDS = 300
JOB = "predictions"
_models: dict[str, tuple[float, Model]] = {}  # program -> (until, its fitted model)


def refresh_due() -> dict:
    """The scheduled run: every day since the last run's, up to yesterday (UTC), each once."""
    state = db.get(db.JobStateItem, db.JobStateItem.key(JOB))
    yesterday = clock.day(clock.now() - timedelta(days=1))
    first = (date.fromisoformat(state.last_day) + timedelta(days=1)).isoformat() if state else yesterday
    runs = [refresh(day) for day in clock.days_between(first, yesterday)] if first <= yesterday else []
    db.JobStateItem(*db.JobStateItem.key(JOB), last_day=yesterday).save()
    return {"days": len(runs), "active_members": sum(run["active_members"] for run in runs),
            "fitted": sum(run["fitted"] for run in runs)}


def refresh(day: str) -> dict:
    """The nightly job: the members active on `day` update their programs' samples; each such program is refitted."""
    keys = []
    for shard in range(db.SHARDS):
        keys += db.index_keys("gsi2", f"ACTIVE#{day}#{shard}", 1_000_000)
    by_program: dict[str, list[ActivityItem]] = defaultdict(list)
    for start in range(0, len(keys), BATCH):
        for item in db.get_many(*keys[start:start + BATCH]).values():
            if isinstance(item, ActivityItem) and item.last == day:
                by_program[item.program_id].append(item)
    fitted = sum(_refresh_program(program_id, members, day) for program_id, members in sorted(by_program.items()))
    return {"day": day, "active_members": sum(map(len, by_program.values())), "programs": len(by_program),
            "fitted": fitted}


def _refresh_program(program_id: str, active: list[ActivityItem], day: str) -> bool:
    model = db.get(ChurnModelItem, ChurnModelItem.key(program_id)) or ChurnModelItem(*ChurnModelItem.key(program_id))
    if model.day is not None and model.day >= day:
        return False  # this day was counted in (a run retried after a crash): the reservoir must not see it twice
    model.day = day
    sample = dict(model.sample or {})
    chooser = random.Random(f"{program_id}#{day}")  # nothing to guess: which members a sample holds is not secret
    for member in sorted(active, key=lambda item: item.external_id):
        summary = [member.first, member.last, int(member.repeats)]
        if member.external_id in sample:
            sample[member.external_id] = summary
        elif member.first == day:  # first seen active: the reservoir's next candidate
            model.seen = int(model.seen or 0) + 1
            if len(sample) < SAMPLE_SIZE:
                sample[member.external_id] = summary
            elif (slot := chooser.randrange(model.seen)) < SAMPLE_SIZE:
                del sample[sorted(sample)[slot]]
                sample[member.external_id] = summary
    model.sample = sample
    fitted = len(sample) >= MIN_SAMPLE
    if fitted:
        today = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        params = fit(activity.summary(*values, today) for values in sample.values())
        model.r, model.alpha, model.a, model.b = params.r, params.alpha, params.a, params.b
        model.fitted_at = clock.iso(clock.now())
    model.save()
    return fitted


def model_of(program_id: str) -> tuple[Optional[Model], Optional[ChurnModelItem]]:
    item = db.get(ChurnModelItem, ChurnModelItem.key(program_id), consistent=False)
    if item is None or item.r is None:
        return None, item
    return Model(float(item.r), float(item.alpha), float(item.a), float(item.b)), item


def fitted_model(program_id: str) -> Optional[Model]:
    """The program's model, read at most once per MODEL_CACHE_SECONDS per process (a segment tests many members;
    the model changes nightly); a program without one is read again next time."""
    cached = _models.get(program_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    model, _ = model_of(program_id)
    if model is not None:
        _models[program_id] = (time.monotonic() + MODEL_CACHE_SECONDS, model)
    return model


def churn_risk(program_id: str, external_id: str, model: Optional[Model], today: str) -> Optional[float]:
    """1 - P(still active); None where the program has no model yet or the member was never active."""
    member = activity.read(program_id, external_id)
    if model is None or member is None:
        return None
    return 1.0 - model.p_alive(activity.summary(member.first, member.last, member.repeats, today))


def for_member(program_id: str, external_id: str) -> dict:
    model, item = model_of(program_id)
    member = activity.read(program_id, external_id)
    today = clock.day(clock.now())
    answer = {"external_id": external_id, "active_probability": None, "churn_risk": None,
              "expected_active_days": None, "horizon_days": HORIZON_DAYS, "activity": None,
              "model": None if model is None else {
                  "method": "MBG/NBD (recency and frequency of active days)", "fitted_at": item.fitted_at,
                  "members_in_sample": len(item.sample or {}),
                  "parameters": {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}}}
    if member is not None:
        answer["activity"] = {"first_active_day": member.first, "last_active_day": member.last,
                              "repeat_active_days": int(member.repeats)}
        if model is not None:
            summary = activity.summary(member.first, member.last, member.repeats, today)
            alive = model.p_alive(summary)
            answer.update(active_probability=round(alive, 4), churn_risk=round(1 - alive, 4),
                          expected_active_days=round(model.expected(summary, HORIZON_DAYS), 3))
    return answer
