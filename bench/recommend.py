"""How well a member's catalog order finds what the member redeems next, on a simulated population.

Members fall into taste groups that favour different rewards; each redeems a few distinct rewards. For each
member with two or more, the last one is held out, the counts are built from everything else, and the
held-out reward's rank among the rewards the member has not redeemed is recorded. The order is compared
with popularity alone (what a catalog without personalisation could do at best) and with chance.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from chalicelib.rewards.recommend import Affinity, ranked

REWARDS, GROUPS, FAVOURITES, LOYALTY = 20, 4, 5, 0.75


@dataclass(frozen=True)
class Member:
    history: list[str]  # distinct rewards, in the order redeemed
    group: int


def simulate(members: int, seed: int = 11) -> list[Member]:
    """Each group favours its own FAVOURITES rewards: a redemption is one of them with probability LOYALTY."""
    rng = random.Random(seed)
    rewards = [f"rwd_{n:02d}" for n in range(REWARDS)]
    population = []
    for _ in range(members):
        group = rng.randrange(GROUPS)
        favourites = rewards[group * FAVOURITES:(group + 1) * FAVOURITES]
        history: list[str] = []
        for _ in range(rng.randint(1, 6)):
            choice = rng.choice(favourites) if rng.random() < LOYALTY else rng.choice(rewards)
            if choice not in history:
                history.append(choice)
        population.append(Member(history, group))
    return population


def evaluate(members: int = 3_000, seed: int = 11) -> dict:
    population = simulate(members, seed)
    catalog = {f"rwd_{n:02d}": 100 for n in range(REWARDS)}
    trained = Affinity()
    for member in population:
        trained.add_member(member.history[:-1] if len(member.history) > 1 else member.history)
    popularity = Affinity(redeemers=dict(trained.redeemers))  # the same counts without pairs: popularity alone
    held_out = [member for member in population if len(member.history) > 1]
    found = {"recommended": [], "popularity": []}
    chance_hits = 0.0
    for member in held_out:
        seen = set(member.history[:-1])
        candidates = {reward: cost for reward, cost in catalog.items() if reward not in seen}
        for name, counts in (("recommended", trained), ("popularity", popularity)):
            found[name].append(ranked(candidates, seen, 10**9, counts).index(member.history[-1]) + 1)
        chance_hits += min(3, len(candidates)) / len(candidates)
    return {
        "members": members, "held_out": len(held_out), "rewards": REWARDS,
        **{f"hit_at_3_{name}": sum(rank <= 3 for rank in ranks) / len(ranks) for name, ranks in found.items()},
        **{f"mrr_{name}": sum(1 / rank for rank in ranks) / len(ranks) for name, ranks in found.items()},
        "hit_at_3_chance": chance_hits / len(held_out),
    }


def report() -> str:
    figures = evaluate()
    return "\n".join([
        f"simulated members: {figures['members']:,} in {GROUPS} taste groups, {figures['rewards']} rewards; "
        f"{figures['held_out']:,} members' last redemption held out",
        f"held-out reward in the top 3: recommended {figures['hit_at_3_recommended']:.1%}, "
        f"popularity alone {figures['hit_at_3_popularity']:.1%}, chance {figures['hit_at_3_chance']:.1%}",
        f"mean reciprocal rank: recommended {figures['mrr_recommended']:.3f}, popularity alone {figures['mrr_popularity']:.3f}",
    ])


if __name__ == "__main__":
    print(report())
