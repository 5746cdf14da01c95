"""Donations: a reward whose points go to one of its charities, chosen when redeeming.

Each charity the program's donation rewards name has a total item (points and donations), created with
the first reward that names it and raised in the very transaction that moves a donation to `fulfilled`,
so exactly once however often fulfilment runs. `GET .../charities` lists them with their totals.
"""
from chalicelib.core import db, pagination
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.transact import Tx, with_retries
from chalicelib.members import programs
from chalicelib.rewards import lifecycle
from chalicelib.rewards.kinds.base import Kind

KIND = "donation"


class Donation(Kind):
    name = KIND

    def check_fields(self, reward_type: str, fields: dict) -> None:
        """Only a donation names charities (unique ids); one without (the contract's plain donation) is
        fulfilled at once, as every reward was."""
        charities = fields.get("charities")
        if reward_type != KIND and charities:
            raise ValidationFailed("Only a donation has charities.", {"field": "charities"})
        if charities and len({charity["id"] for charity in charities}) != len(charities):
            raise ValidationFailed("Charity ids must be unique.", {"field": "charities"})

    def create_items(self, tx: Tx, reward: db.RewardItem) -> None:
        """The totals of charities the program has not had before, put with the reward."""
        keys = {charity["id"]: db.CharityItem.key(reward.program_id, charity["id"])
                for charity in reward.charities or []}
        known = db.get_many(*keys.values()) if keys else {}
        for charity in reward.charities or []:
            if keys[charity["id"]] not in known:
                tx.put(f"charity:{charity['id']}", db.CharityItem(*keys[charity["id"]], charity_id=charity["id"],
                                                                 name=charity["name"], points=0, donations=0),
                       condition=db.CharityItem.pk.does_not_exist())

    def check(self, reward: db.RewardItem, request: dict) -> dict | None:
        """The charity a donation goes to; 400 unless the request names one of the reward's."""
        charity_id = request.get("charity_id")
        if reward.reward_type != KIND or not reward.charities:
            if charity_id is not None:
                raise ValidationFailed("Only a donation with charities goes to a charity.", {"field": "charity_id"})
            return None
        charity = next((c for c in reward.charities or [] if c["id"] == charity_id), None)
        if charity is None:
            raise ValidationFailed("Name one of this donation's charities.", {"field": "charity_id"})
        return {"charity_id": charity["id"], "charity_name": charity["name"]}

    def delivered(self, redemption: db.RedemptionItem) -> tuple[str, dict]:
        """A donation's receipt: the charity given to and the points donated."""
        return "donation_receipt", {"charity": redemption.terms["charity_name"], "points": int(redemption.points)}

    def fulfil(self, redemption: db.RedemptionItem) -> None:
        if (redemption.terms or {}).get("charity_id"):
            with_retries(lambda: record(redemption))
        else:
            super().fulfil(redemption)


def record(redemption: db.RedemptionItem) -> bool:
    """Record the donation: fulfilled and the charity's total raised, in one transaction (so once)."""
    terms = redemption.terms
    tx = Tx()
    tx.update("charity", db.CharityItem(*db.CharityItem.key(redemption.program_id, terms["charity_id"])),
              [db.CharityItem.points.add(int(redemption.points)), db.CharityItem.donations.add(1)],
              condition=db.CharityItem.pk.exists())
    return lifecycle.mark_fulfilled(redemption, {"type": KIND, **terms}, tx)


def view(charity: db.CharityItem) -> dict:
    return {"id": charity.charity_id, "name": charity.name, "points": int(charity.points),
            "donations": int(charity.donations)}


def list_(org_id: str, program_id: str, query: dict) -> dict:
    programs.load(org_id, program_id)
    return pagination.query_page(db.CharityItem, f"PRG#{program_id}", "CHARITY#", query, f"charities:{program_id}",
                                 view)
