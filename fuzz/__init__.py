"""`python -m fuzz` (make fuzz): schemathesis against the served OpenAPI document on a fresh local stack.

Zero 5xx and zero schema violations, or a non-zero exit. See `fuzz/__main__.py` for the options.
"""
