"""A member's catalog order: what similar members redeemed, weighed by reach; measured on held-out redemptions."""
from bench.recommend import evaluate
from chalicelib.rewards.recommend import Affinity, ranked, reach


def counts(*members: list[str]) -> Affinity:
    affinity = Affinity()
    for rewards in members:
        affinity.add_member(rewards)
    return affinity


def test_members_who_redeemed_the_same_reward_point_to_what_they_redeemed_besides():
    affinity = counts(["tea", "scarf"], ["tea", "scarf"], ["coffee", "mug"], ["coffee", "mug"], ["coffee"])
    assert ranked({"scarf": 100, "mug": 100, "coffee": 100}, {"tea"}, 1_000, affinity)[0] == "scarf"
    assert affinity.similarity("tea", "scarf") == 1.0 and affinity.similarity("tea", "mug") == 0.0


def test_a_member_without_history_sees_what_most_members_redeem_first():
    affinity = counts(["coffee"], ["coffee"], ["coffee", "mug"], ["tea"])
    assert ranked({"tea": 100, "mug": 100, "coffee": 100, "new": 100}, set(), 1_000, affinity) == ["coffee", "mug", "tea", "new"]


def test_what_the_member_cannot_nearly_afford_sinks():
    assert reach(100, 500) == 1.0 and reach(1_000, 900) == 0.81 and reach(1_000, 0) == 0.0
    affinity = counts(["coffee"], ["flight"], ["flight"], ["flight"], ["flight"])
    assert ranked({"flight": 5_000, "coffee": 100}, set(), 200, affinity) == ["coffee", "flight"]
    assert ranked({"flight": 250, "coffee": 100}, set(), 200, affinity) == ["flight", "coffee"]  # nearly within reach


def test_on_held_out_redemptions_it_beats_popularity_by_far():
    figures = evaluate(members=1_500, seed=3)
    assert figures["hit_at_3_recommended"] > 2 * figures["hit_at_3_popularity"]
    assert figures["mrr_recommended"] > 1.5 * figures["mrr_popularity"]
    assert figures["hit_at_3_popularity"] >= figures["hit_at_3_chance"] * 0.8
