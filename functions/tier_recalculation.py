"""Scheduled: recalculate the tiers of members whose earnings leave the rolling window (daily)."""
from chalicelib import jobs
from functions.schedule import scheduled

handler = scheduled("tier recalculation", jobs.recalculate_tiers)
