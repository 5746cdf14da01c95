"""Whether a member is still active, and how active they will be: the MBG/NBD model, in closed form.

Fader, Hardie and Lee's BG/NBD ("Counting your customers the easy way", 2005) as Batislam, Denizel and
Filiztekin modified it (2007): a member is active on days at a Poisson rate that varies across members as
Gamma(r, alpha), and after each active day, the first included, leaves for good with a probability that
varies as Beta(a, b). (In BG/NBD nobody leaves after the first day, so a member seen once is "surely
active" however long ago that was; here they are not.) Fitting needs only each member's recency-frequency
summary (repeat active days `x`, the day of the last one `t_x`, days since the first `T`), and the answers
are formulas: the probability the member is still active and the active days expected in the next period.

Pure Python on purpose: scipy would be most of a Lambda artifact, and the model needs only `lgamma`, a
Gauss hypergeometric series and a four-parameter Nelder-Mead search. Summaries are grouped, so a fit
costs the number of distinct (x, t_x, T), not the number of members.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Fitting searches log-parameters; this weak pull toward 1 keeps a program with few members from fitting
# degenerate values (a Beta or Gamma with a vanishing shape) while barely moving a well-fed fit.
PENALTY = 1e-3
SERIES_TERMS = 2_000
SERIES_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Summary:
    """A member's recency-frequency summary, in days: repeat active days, the last one's age, the first one's."""
    x: int  # active days after the first
    t_x: float  # days from the first active day to the last
    T: float  # days from the first active day to now

    def __post_init__(self) -> None:
        if self.x < 0 or not 0 <= self.t_x <= self.T:
            raise ValueError(f"not a recency-frequency summary: {self}")


@dataclass(frozen=True)
class Model:
    """A program's fitted BG/NBD parameters."""
    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, member: Summary) -> float:
        """The probability the member has not left."""
        return 1.0 / (1.0 + self._odds_gone(member))

    def expected(self, member: Summary, days: float) -> float:
        """Active days expected in the next `days`, given the member's summary."""
        r, alpha, a, b, x = self.r, self.alpha, self.a, self.b, member.x
        z = days / (alpha + member.T + days)
        if_active = (a + b + x) / (a - 1) * (
            1 - ((alpha + member.T) / (alpha + member.T + days)) ** (r + x) * hyp2f1(r + x, b + x + 1, a + b + x, z))
        return if_active / (1.0 + self._odds_gone(member))

    def _odds_gone(self, member: Summary) -> float:
        return self.a / (self.b + member.x) * ((self.alpha + member.T) / (self.alpha + member.t_x)) ** (self.r + member.x)


def log_likelihood(model: Model, member: Summary) -> float:
    r, alpha, a, b, x = model.r, model.alpha, model.a, model.b, member.x
    common = (math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
              + math.lgamma(a + b) + math.lgamma(b + x + 1) - math.lgamma(b) - math.lgamma(a + b + x + 1))
    stayed = -(r + x) * math.log(alpha + member.T)
    left = math.log(a) - math.log(b + x) - (r + x) * math.log(alpha + member.t_x)
    top = max(stayed, left)
    return common + top + math.log(math.exp(stayed - top) + math.exp(left - top))


def fit(members: Iterable[Summary]) -> Model:
    """The parameters that make these summaries most likely (maximum likelihood, grouped)."""
    groups = Counter(members)
    if not groups:
        raise ValueError("no members to fit")

    def cost(logs: Sequence[float]) -> float:
        model = Model(*(math.exp(value) for value in logs))
        total = sum(count * log_likelihood(model, member) for member, count in groups.items())
        return -total / sum(groups.values()) + PENALTY * sum(value * value for value in logs)

    best = nelder_mead(cost, [0.0, math.log(10.0), 0.0, 0.0])
    return Model(*(math.exp(value) for value in best))


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's hypergeometric function by its series, for 0 <= z < 1 (where BG/NBD needs it)."""
    if not 0 <= z < 1:
        raise ValueError(f"the series needs 0 <= z < 1, not {z}")
    term = total = 1.0
    for n in range(SERIES_TERMS):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        if abs(term) < SERIES_TOLERANCE * abs(total):
            return total
    raise ArithmeticError(f"2F1({a}, {b}; {c}; {z}) did not converge")


def nelder_mead(cost: Callable[[Sequence[float]], float], start: Sequence[float], *,
                step: float = 0.5, tolerance: float = 1e-9, iterations: int = 2_000) -> list[float]:
    """The standard simplex search (reflect, expand, contract, shrink) for a smooth cost's minimum."""
    simplex = [list(start)] + [[value + (step if i == j else 0.0) for j, value in enumerate(start)]
                               for i in range(len(start))]
    scored = sorted(((cost(point), point) for point in simplex), key=lambda pair: pair[0])
    for _ in range(iterations):
        if scored[-1][0] - scored[0][0] < tolerance:
            break
        worst_cost, worst = scored[-1]
        centre = [sum(point[i] for _, point in scored[:-1]) / (len(scored) - 1) for i in range(len(start))]
        reflected = _toward(centre, worst, -1.0)
        reflected_cost = cost(reflected)
        if reflected_cost < scored[0][0]:
            expanded = _toward(centre, worst, -2.0)
            expanded_cost = cost(expanded)
            scored[-1] = (expanded_cost, expanded) if expanded_cost < reflected_cost else (reflected_cost, reflected)
        elif reflected_cost < scored[-2][0]:
            scored[-1] = (reflected_cost, reflected)
        else:
            contracted = _toward(centre, worst, 0.5 if reflected_cost >= worst_cost else -0.5)
            contracted_cost = cost(contracted)
            if contracted_cost < min(worst_cost, reflected_cost):
                scored[-1] = (contracted_cost, contracted)
            else:
                best = scored[0][1]
                scored = [scored[0]] + [(cost(shrunk), shrunk) for shrunk in
                                        ([b + 0.5 * (p - b) for b, p in zip(best, point)] for _, point in scored[1:])]
        scored.sort(key=lambda pair: pair[0])
    return scored[0][1]


def _toward(centre: list[float], point: list[float], factor: float) -> list[float]:
    """The point `factor` of the way from the simplex's centre to `point` (negative: through and past the centre)."""
    return [c + factor * (p - c) for c, p in zip(centre, point)]
