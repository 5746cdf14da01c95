"""Scheduled: expire the points that are due (EventBridge, hourly)."""
from chalicelib.members import jobs
from functions.schedule import scheduled

handler = scheduled("points expiry", jobs.expire_points)
