"""The churn model: its formulas recover a population's parameters, and it ranks held-out activity well."""
import math
import random

import pytest

from bench.churn import auc, evaluate
from chalicelib.members.churn import Model, Summary, fit, hyp2f1, nelder_mead

TRUTH = Model(r=0.6, alpha=12.0, a=0.8, b=3.0)


def continuous_population(members: int, seed: int) -> list[Summary]:
    """MBG/NBD's own story in continuous time, each member watched for 30 to 180 days."""
    rng = random.Random(seed)
    population = []
    for _ in range(members):
        rate, leaves = rng.gammavariate(TRUTH.r, 1 / TRUTH.alpha), rng.betavariate(TRUTH.a, TRUTH.b)
        watched, moment, repeats, last = rng.uniform(30, 180), 0.0, 0, 0.0
        while rng.random() >= leaves:
            moment += rng.expovariate(rate)
            if moment >= watched:
                break
            repeats, last = repeats + 1, moment
        population.append(Summary(repeats, last, watched))
    return population


def test_a_fit_recovers_the_parameters_the_population_was_drawn_from():
    fitted = fit(continuous_population(6_000, seed=11))
    assert fitted.r == pytest.approx(TRUTH.r, rel=0.2)
    assert fitted.alpha == pytest.approx(TRUTH.alpha, rel=0.25)
    assert fitted.a == pytest.approx(TRUTH.a, rel=0.3)
    assert fitted.b == pytest.approx(TRUTH.b, rel=0.4)


def test_a_member_long_silent_is_less_likely_active_than_one_seen_yesterday():
    recent, silent = Summary(x=5, t_x=99, T=100), Summary(x=5, t_x=10, T=100)
    assert TRUTH.p_alive(recent) > 0.9 > 0.5 > TRUTH.p_alive(silent)
    assert TRUTH.expected(recent, 30) > TRUTH.expected(silent, 30)


def test_a_member_seen_once_long_ago_is_not_surely_active():
    assert TRUTH.p_alive(Summary(x=0, t_x=0, T=365)) < TRUTH.p_alive(Summary(x=0, t_x=0, T=1)) < 1


def test_the_hypergeometric_series_matches_a_closed_form():
    for z in (0.0, 0.3, 0.9):
        expected = 1.0 if z == 0 else -math.log(1 - z) / z  # 2F1(1, 1; 2; z)
        assert hyp2f1(1, 1, 2, z) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError):
        hyp2f1(1, 1, 2, 1.0)


def test_the_simplex_search_finds_a_known_minimum():
    found = nelder_mead(lambda p: (p[0] - 3) ** 2 + 2 * (p[1] + 1) ** 2, [0.0, 0.0])
    assert found == pytest.approx([3, -1], abs=1e-3)


def test_a_summary_that_cannot_be_is_refused():
    with pytest.raises(ValueError):
        Summary(x=1, t_x=10, T=5)
    with pytest.raises(ValueError):
        fit([])


def test_auc_counts_ties_as_half():
    assert auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert auc([1, 1], [False, True]) == 0.5
    assert auc([4, 3, 2, 1], [False, False, True, True]) == 0.0


def test_on_a_simulated_population_it_ranks_who_stays_active_and_expects_about_what_happens():
    figures = evaluate(members=2_000, seed=5)
    assert figures["auc_p_alive"] > 0.75
    assert figures["auc_expected"] > 0.75
    assert figures["expected_active_days"] == pytest.approx(figures["actual_active_days"], rel=0.1)
