"""Scheduled (daily): plan the tier recalculation, one TierReviewQueue message per index partition due."""
from chalicelib.members import tier_review
from functions.schedule import scheduled

handler = scheduled("tier recalculation planned", tier_review.plan)
