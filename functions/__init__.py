"""Laurel's event-driven Lambda handlers: thin shells over chalicelib, one per trigger."""
