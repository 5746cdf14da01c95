"""Campaigns: time-boxed promotions whose rules layer on the program's, with a points budget.

A campaign's definition lives on the program item (read with every event anyway); its spend lives
on a budget item that each award raises in the award's own transaction, on the condition that it
stays within the budget. When that condition fails, the award is cut to what is left and tried
again, so concurrent events can never overspend a campaign.
"""
from datetime import datetime

from chalicelib.core import clock, db, ids
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


def spend(campaigns: list[dict], shares: dict[str, int], tx: Tx) -> None:
    """Raise each campaign's spend in the award's transaction, never past its budget."""
    for campaign in campaigns:
        points = shares.get(campaign["id"])
        if not points:
            continue
        item = db.CampaignBudgetItem(*db.CampaignBudgetItem.key(campaign["id"]))
        condition = None
        if campaign.get("budget_points") is not None:
            condition = db.CampaignBudgetItem.spent <= int(campaign["budget_points"]) - points
        tx.update(f"budget:{campaign['id']}", item, [db.CampaignBudgetItem.spent.add(points)], condition=condition)


def left(campaign_id: str) -> int:
    item = db.get(db.CampaignBudgetItem, db.CampaignBudgetItem.key(campaign_id))
    return max(0, int(item.budget) - int(item.spent)) if item and item.budget is not None else 0


def view(campaign: dict, budget: db.CampaignBudgetItem | None) -> dict:
    return {**campaign, "spent_points": int(budget.spent) if budget else 0}


def create(org_id: str, program_id: str, fields: dict) -> dict:
    campaign_id = ids.new_id("cmp")

    def attempt() -> dict:
        program = programs.load(org_id, program_id)
        kept = [c for c in program.campaigns or [] if c["ends_at"] > clock.iso(clock.now())]
        if len(kept) >= MAX_CAMPAIGNS:
            raise Conflict(f"A program runs at most {MAX_CAMPAIGNS} campaigns at a time.")
        campaign = {"id": campaign_id, "active": True, **fields}
        budget = db.CampaignBudgetItem(*db.CampaignBudgetItem.key(campaign_id), budget=fields.get("budget_points"),
                                       spent=0)
        budget.save()
        updated_at = program.updated_at
        program.campaigns = kept + [campaign]
        program.updated_at = clock.iso(clock.now())
        save_or_retry(program, condition=db.ProgramItem.updated_at == updated_at)
        return view(campaign, budget)

    return with_retries(attempt)


def list_(org_id: str, program_id: str) -> dict:
    program = programs.load(org_id, program_id)
    campaigns = program.campaigns or []
    budgets = db.get_many(*[db.CampaignBudgetItem.key(c["id"]) for c in campaigns]) if campaigns else {}
    return {"items": [view(c, budgets.get(db.CampaignBudgetItem.key(c["id"]))) for c in campaigns],
            "next_cursor": None}


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
        return view(found[0], db.get(db.CampaignBudgetItem, db.CampaignBudgetItem.key(campaign_id)))

    return with_retries(attempt)
