"""Scheduled (every 5 minutes): send what a crash left in an outbox: fulfilment of redemptions whose
first send was lost, and tier-change notices."""
from chalicelib.members import jobs
from functions.schedule import scheduled

handler = scheduled("outbox recovery", jobs.recover_outboxes)
