"""Scheduled (every 5 minutes): send what a crash left in an outbox: fulfilment of redemptions whose
first send was lost, and tier-change notices."""
from chalicelib.rewards import recovery
from functions.schedule import scheduled

handler = scheduled("outbox recovery", recovery.recover_outboxes)
