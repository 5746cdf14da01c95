"""Tier standing (chalicelib.members.tiers): up at once, down only on the scheduled run after the grace, by policy."""
from chalicelib.members import tiers

LADDER = [{"name": "Gold", "min_points": 5000}, {"name": "Bronze", "min_points": 100},
          {"name": "Silver", "min_points": 1000}]
POLICY = tiers.policy_of({"grace_days": 30})


def decide(stored, measure, below_since=None, today="2026-11-22", scheduled=False, policy=POLICY):
    return tiers.decide(LADDER, policy, stored, measure, below_since, today, scheduled=scheduled)


def test_an_upgrade_happens_at_once_and_names_every_tier_passed():
    # Given a Bronze member, When its measure jumps to Gold's
    standing = decide("Bronze", 6000)
    # Then it is Gold now, having passed Silver on the way (whose bonus it also earns)
    assert standing.tier["name"] == "Gold" and standing.change == "up"
    assert [tier["name"] for tier in standing.reached] == ["Silver", "Gold"]
    assert standing.below_since is None


def test_falling_below_keeps_the_tier_and_starts_the_grace_only_once():
    # Given a Gold member whose measure falls to Silver's on a write, then again later
    first = decide("Gold", 2000)
    later = decide("Gold", 1500, below_since=first.below_since, today="2026-12-01")
    # Then it stays Gold, below since the first day; nothing changes outside the scheduled run
    assert (first.tier["name"], first.change, first.below_since) == ("Gold", None, "2026-11-22")
    assert (later.tier["name"], later.below_since) == ("Gold", "2026-11-22")
    # And climbing back clears the grace
    assert decide("Gold", 5000, below_since="2026-11-22").below_since is None


def test_the_scheduled_run_moves_down_only_after_the_grace_to_the_level_earned():
    # Given a Gold member below since 22 Nov with 30 days of grace
    too_soon = decide("Gold", 200, below_since="2026-11-22", today="2026-12-21", scheduled=True)
    due = decide("Gold", 200, below_since="2026-11-22", today="2026-12-22", scheduled=True)
    # Then the run before day 30 changes nothing; on day 30 it goes straight to Bronze
    assert (too_soon.tier["name"], too_soon.change) == ("Gold", None)
    assert (due.tier["name"], due.change, due.below_since) == ("Bronze", "down", None)


def test_one_step_goes_down_a_tier_at_a_time_each_after_its_own_grace():
    # Given the one-step policy and a Gold member whose measure is now Bronze's
    policy = tiers.policy_of({"grace_days": 30, "downgrade": "one_step"})
    first = decide("Gold", 200, below_since="2026-10-01", today="2026-11-22", scheduled=True, policy=policy)
    # Then it drops to Silver, still below: the grace starts again today
    assert (first.tier["name"], first.change, first.below_since) == ("Silver", "down", "2026-11-22")
    second = decide("Silver", 200, below_since=first.below_since, today="2026-12-22", scheduled=True, policy=policy)
    assert (second.tier["name"], second.below_since) == ("Bronze", None)
    # And from the bottom tier one step is no tier at all
    assert decide("Bronze", 0, below_since="2026-01-01", scheduled=True, policy=policy).tier is None


def test_a_tier_the_program_no_longer_has_is_placed_afresh():
    standing = decide("Platinum", 1200)
    assert (standing.tier["name"], standing.change) == ("Silver", "up")


def test_progress_shows_the_next_tier_and_a_pending_downgrade():
    assert tiers.progress(LADDER, POLICY, "Bronze", 400, None) == {
        "measure": "points", "window_days": 365, "qualifying": 400, "next_tier": "Silver", "needed": 600}
    top = tiers.progress(LADDER, POLICY, "Gold", 4200.5, "2026-11-22")
    assert (top["next_tier"], top["needed"], top["qualifying"], top["downgrade_from"]) == \
        (None, 0, 4200.5, "2026-12-22")
