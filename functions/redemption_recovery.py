"""Scheduled: re-send fulfilment for redemptions whose first send was lost (every 5 minutes)."""
from chalicelib import jobs
from functions.schedule import scheduled

handler = scheduled("redemption recovery", jobs.recover_redemptions)
