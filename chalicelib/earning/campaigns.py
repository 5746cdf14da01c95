"""Campaigns: time-boxed promotions whose rules layer on the program's, with a points budget.

A campaign's definition lives on the program item (read with every event anyway); its spend lives
on a budget item that each award raises in the award's own transaction, on the condition that it
stays within the budget. When that condition fails, the award is cut to what is left and tried
again, so concurrent events can never overspend a campaign.

A campaign with many awards' worth of budget (or none: unlimited) is created split: its budget is cut
into shards (core/shards.py, `budget_shards` on its definition) and each award takes from the shard its
event hashes to, so a flash campaign's awards do not all write one item. When that shard is short, the
shards are read at one instant: what they hold in all is what is left (the award is cut to it), and the
event's shard is refilled from the others. Campaigns created before shards keep their one budget item.
"""
from datetime import datetime

from chalicelib.core import clock, db, ids, shards
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.transact import Tx, save_or_retry, with_retries
from chalicelib.earning.rules import rule_ids
from chalicelib.members import programs

MAX_CAMPAIGNS = 20
PREFIX = "@"  # campaign rule ids start with it; a program rule's own id cannot (see rule_shapes)


def active(program: db.ProgramItem, at: datetime) -> list[dict]:
    moment = clock.iso(at)
    return [c for c in program.campaigns or [] if c.get("active", True) and c["starts_at"] <= moment < c["ends_at"]]


def rules_of(campaign: dict) -> list[dict]:
    """The campaign's rules with ids of their own, so their caps count apart from the program's."""
    return [{**rule, "id": f"{PREFIX}{campaign['id']}:{rule_id}"}
            for rule, rule_id in zip(campaign["earn_rules"], rule_ids(campaign["earn_rules"]))]


def points_by_campaign(campaigns: list[dict], per_rule: dict[str, int], cuts: dict[str, int]) -> dict[str, int]:
    """Each campaign's share of an award, cut to the budget left where a cut is known."""
    shares = {}
    for campaign in campaigns:
        prefix = f"{PREFIX}{campaign['id']}:"
        points = sum(p for rule_id, p in per_rule.items() if rule_id.startswith(prefix))
        if campaign["id"] in cuts:
            points = min(points, cuts[campaign["id"]])
        if points:
            shares[campaign["id"]] = points
    return shares


def counter(campaign: dict) -> shards.Counter | None:
    """The campaign's budget shards; None for a campaign whose budget item alone counts."""
    count = campaign.get("budget_shards")
    return shards.Counter(*db.CampaignBudgetItem.key(campaign["id"]), count, "shards",
                          f"campaign:{campaign['id']}") if count else None


def spend(campaigns: list[dict], shares: dict[str, int], tx: Tx, key: str) -> None:
    """Raise each campaign's spend in the award's transaction, never past its budget (a split budget: from the
    shard `key`, the event's id, hashes to)."""
    for campaign in campaigns:
        points = shares.get(campaign["id"])
        if not points:
            continue
        split = counter(campaign)
        if split is not None:
            shards.take(tx, split, key, points, limited=campaign.get("budget_points") is not None)
            continue
        item = db.CampaignBudgetItem(*db.CampaignBudgetItem.key(campaign["id"]))
        condition = None
        if campaign.get("budget_points") is not None:
            condition = db.CampaignBudgetItem.spent <= int(campaign["budget_points"]) - points
        tx.update(f"budget:{campaign['id']}", item, [db.CampaignBudgetItem.spent.add(points)], condition=condition)


def short_of_budget(label: str) -> str | None:
    """The campaign whose budget a failed award's transaction ran short of (its failure's label), if any."""
    if label.startswith("budget:"):
        return label.removeprefix("budget:")
    if shards.is_counter(label) and label.removeprefix(shards.LABEL).startswith("campaign:"):
        return label.removeprefix(shards.LABEL).removeprefix("campaign:")
    return None


def left(campaigns: list[dict], campaign_id: str, wanted: int, key: str) -> int:
    """What the campaign's budget has left, after an award of `wanted` from the event `key` ran short of it: a
    split budget is read at one instant and, if it holds `wanted`, the event's shard is refilled for the retry."""
    split = counter(next(campaign for campaign in campaigns if campaign["id"] == campaign_id))
    if split is not None:
        return max(0, shards.make_room(split, key, wanted).left)
    item = db.get(db.CampaignBudgetItem, db.CampaignBudgetItem.key(campaign_id))
    return max(0, int(item.budget) - int(item.spent)) if item and item.budget is not None else 0


def view(campaign: dict, spent: int) -> dict:
    shown = {name: value for name, value in campaign.items() if name != "budget_shards"}
    return {**shown, "spent_points": spent}


def spent_of(campaigns: list[dict]) -> dict[str, int]:
    """What each campaign has given: its budget item's count, plus its shards' (one BatchGetItem each way)."""
    heads = db.get_many(*[db.CampaignBudgetItem.key(c["id"]) for c in campaigns]) if campaigns else {}
    split = [counter(c) for c in campaigns if counter(c) is not None]
    in_shards = shards.totals(split) if split else {}
    spent = {}
    for campaign in campaigns:
        key = db.CampaignBudgetItem.key(campaign["id"])
        spent[campaign["id"]] = (int(heads[key].spent) if key in heads else 0) + (
            in_shards[key].taken if key in in_shards else 0)
    return spent


def create(org_id: str, program_id: str, fields: dict) -> dict:
    campaign_id = ids.new_id("cmp")

    def attempt() -> dict:
        program = programs.load(org_id, program_id)
        kept = [c for c in program.campaigns or [] if c["ends_at"] > clock.iso(clock.now())]
        if len(kept) >= MAX_CAMPAIGNS:
            raise Conflict(f"A program runs at most {MAX_CAMPAIGNS} campaigns at a time.")
        budget_points = fields.get("budget_points")
        count = shards.count_for(budget_points, max([int(rule.get("points") or 1) for rule in fields["earn_rules"]]))
        campaign = {"id": campaign_id, "active": True, **fields, **({"budget_shards": count} if count > 1 else {})}
        _create_budget(campaign)
        updated_at = program.updated_at
        program.campaigns = kept + [campaign]
        program.updated_at = clock.iso(clock.now())
        save_or_retry(program, condition=db.ProgramItem.updated_at == updated_at)
        return view(campaign, 0)

    return with_retries(attempt)


def _create_budget(campaign: dict) -> None:
    """The campaign's budget item, and its shards if it is split (each put again alike by a retry)."""
    split, budget_points = counter(campaign), campaign.get("budget_points")
    tx = Tx()
    tx.put("budget", db.CampaignBudgetItem(*db.CampaignBudgetItem.key(campaign["id"]), budget=budget_points, spent=0,
                                           shards=split.count if split else None))
    if split is not None:
        shards.put_all(tx, split, budget_points, fresh=False)
    tx.commit()


def list_(org_id: str, program_id: str) -> dict:
    program = programs.load(org_id, program_id)
    campaigns = program.campaigns or []
    spent = spent_of(campaigns)
    return {"items": [view(c, spent[c["id"]]) for c in campaigns], "next_cursor": None}


def is_campaign_rule(rule_id: str) -> bool:
    return rule_id.startswith(PREFIX)


def stop(org_id: str, program_id: str, campaign_id: str) -> dict:
    def attempt() -> dict:
        program = programs.load(org_id, program_id)
        found = [c for c in program.campaigns or [] if c["id"] == campaign_id]
        if not found:
            raise NotFound("No such campaign.")
        found[0]["active"] = False
        updated_at = program.updated_at
        program.updated_at = clock.iso(clock.now())
        save_or_retry(program, condition=db.ProgramItem.updated_at == updated_at)
        return view(found[0], spent_of(found)[campaign_id])

    return with_retries(attempt)
