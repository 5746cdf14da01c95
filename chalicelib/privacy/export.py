"""Access: everything Laurel holds about a member, as machine-readable JSON, from the same reads the API serves
(so an export holds all that the member's API reads show, in the same shapes): its profile and status, account
(balance, expiring lots, tier and progress), ledger, tier history, redemptions (with their delivery address and
codes), cash wallet and payouts, messages (what happened, never their text), preferences with their consents,
activity and predictions, and its referral code and referrer.

Every list is read to its end, a page of `PAGE` at a time: an export of a long history is many reads, once.
"""
from typing import Callable

from chalicelib.core import clock
from chalicelib.earning import referrals
from chalicelib.members import membership, offboarding, predictions
from chalicelib.messaging import message_log, preferences
from chalicelib.rewards import cash, payouts, redemptions

PAGE = "100"
FORMAT = "laurel.member-export.v1"


def _all(read: Callable[[dict], dict], items: str = "items") -> tuple[list, dict]:
    """Every item of a paged read, and its last page (for what else it answers)."""
    found, cursor = [], None
    while True:
        page = read({"limit": PAGE, **({"cursor": cursor} if cursor else {})})
        found += page[items]
        cursor = page.get("next_cursor")
        if not cursor:
            return found, page


def export(org_id: str, program_id: str, external_id: str) -> dict:
    program, member = membership.require(org_id, program_id, external_id)
    transactions, _ = _all(lambda query: membership.transactions(org_id, program_id, external_id, query))
    tier_history, _ = _all(lambda query: membership.tier_history(org_id, program_id, external_id, query))
    redeemed, _ = _all(lambda query: redemptions.of_member(program_id, external_id, query, show_secrets=True,
                                                           show_address=True))
    cash_moves, wallet = _all(lambda query: cash.view(program_id, external_id, query), "transactions")
    payout_ids = sorted({move["payout_id"] for move in cash_moves if "payout_id" in move})
    messages, _ = _all(lambda query: message_log.list_(org_id, program_id, external_id, query))
    return {
        "format": FORMAT, "exported_at": clock.iso(clock.now()), "program_id": program_id,
        "member": membership.view(member, program),
        "status": offboarding.view(member),
        "referral": {"code": referrals.code_of(program_id, external_id) if program.referral else None,
                     "referred_by": member.referred_by, "status": member.referral},
        "transactions": transactions,
        "tier_history": tier_history,
        "redemptions": redeemed,
        "cash_wallet": {"balances": wallet["balances"], "transactions": cash_moves},
        "payouts": [payouts.get(org_id, program_id, payout_id, external_id=external_id, show_method=True)
                    for payout_id in payout_ids],
        "messages": messages,
        "preferences": preferences.get(org_id, program_id, external_id),
        "consents": preferences.consents(program_id, external_id),
        "predictions": predictions.for_member(program_id, external_id),
    }
