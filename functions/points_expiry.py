"""Scheduled: expire the points that are due (EventBridge, hourly)."""
from chalicelib.members import expiry
from functions.schedule import scheduled

handler = scheduled("points expiry", expiry.expire_points)
