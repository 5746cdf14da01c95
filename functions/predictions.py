"""Scheduled: refit each program's churn model on the members active since the last run (EventBridge, daily)."""
from chalicelib.members import predictions
from functions.schedule import scheduled

handler = scheduled("predictions", predictions.refresh_due)
