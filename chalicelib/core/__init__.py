"""The ground every area stands on: settings, the one table's map (`db`), transactions, auth and API
keys, the HTTP glue (`web`, `openapi`, `wire`), errors, clock, ids, pagination, rate limits,
organisations, locales, AWS clients, sealing (`vault`), queue helpers and logging.

May import: nothing of Laurel's above it (it knows no area).
"""
