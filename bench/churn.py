"""How well the churn model ranks members, on a simulated population whose answer is known.

Members are drawn from BG/NBD's own story with parameters set here: each has a rate of active days and
a chance of leaving after each one. The model is fitted on a calibration window only (it never sees
the parameters), then ranks members by the probability they are still active; the held-out window says
who really was (any active day in it). The figures are the ranking's AUC, how the expected active days
compare with what happened, and how far the fitted parameters land from the true ones.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from chalicelib.members.churn import Model, Summary, fit

TRUTH = Model(r=0.6, alpha=12.0, a=0.8, b=3.0)


@dataclass(frozen=True)
class Simulated:
    summary: Summary  # what the calibration window shows
    holdout_days: int  # active days in the held-out window (the answer)


def simulate(members: int, calibration: int, holdout: int, *, truth: Model = TRUTH, seed: int = 7) -> list[Simulated]:
    """Each member joins (first active day) within the calibration window; activity counted in whole days."""
    rng = random.Random(seed)
    population = []
    end = calibration + holdout
    for _ in range(members):
        rate = rng.gammavariate(truth.r, 1.0 / truth.alpha)
        leaves = rng.betavariate(truth.a, truth.b)
        first = rng.randrange(calibration)
        days = {first}
        moment = float(first)
        while rate > 0:
            if rng.random() < leaves:
                break
            moment += rng.expovariate(rate)
            if moment >= end:
                break
            days.add(math.floor(moment))
        seen = sorted(day for day in days if day < calibration)
        summary = Summary(x=len(seen) - 1, t_x=float(seen[-1] - first), T=float(calibration - first))
        population.append(Simulated(summary, sum(1 for day in days if day >= calibration)))
    return population


def auc(scores: list[float], positives: list[bool]) -> float:
    """The chance a random positive scores above a random negative (ties count half): Mann-Whitney."""
    ranked = sorted(zip(scores, positives))
    rank_sum, position, count_positive = 0.0, 0, sum(positives)
    while position < len(ranked):
        end = position
        while end < len(ranked) and ranked[end][0] == ranked[position][0]:
            end += 1
        average_rank = (position + 1 + end) / 2
        rank_sum += average_rank * sum(1 for _, positive in ranked[position:end] if positive)
        position = end
    count_negative = len(ranked) - count_positive
    return (rank_sum - count_positive * (count_positive + 1) / 2) / (count_positive * count_negative)


def evaluate(members: int = 5_000, calibration: int = 180, holdout: int = 90, seed: int = 7) -> dict:
    population = simulate(members, calibration, holdout, seed=seed)
    model = fit(member.summary for member in population)
    still_active = [member.holdout_days > 0 for member in population]
    expected = sum(model.expected(member.summary, holdout) for member in population)
    actual = sum(member.holdout_days for member in population)
    return {
        "members": members, "calibration_days": calibration, "holdout_days": holdout,
        "fitted": model, "truth": TRUTH,
        "auc_p_alive": auc([model.p_alive(member.summary) for member in population], still_active),
        "auc_expected": auc([model.expected(member.summary, holdout) for member in population], still_active),
        "expected_active_days": expected, "actual_active_days": actual,
    }


def report() -> str:
    figures = evaluate()
    fitted, truth = figures["fitted"], figures["truth"]
    return "\n".join([
        f"simulated members: {figures['members']:,}; calibration {figures['calibration_days']} days, "
        f"held out {figures['holdout_days']} days",
        f"AUC, P(still active) vs any activity held out: {figures['auc_p_alive']:.3f}",
        f"AUC, expected active days vs any activity held out: {figures['auc_expected']:.3f}",
        f"active days held out: expected {figures['expected_active_days']:,.0f}, actual {figures['actual_active_days']:,}",
        f"fitted r={fitted.r:.2f} alpha={fitted.alpha:.1f} a={fitted.a:.2f} b={fitted.b:.2f} "
        f"(true r={truth.r} alpha={truth.alpha} a={truth.a} b={truth.b})",
    ])


if __name__ == "__main__":
    print(report())
