"""Schemathesis hooks for `python -m fuzz` (loaded through SCHEMATHESIS_HOOKS=fuzz.hooks).

Only one: schema-valid gift-card code uploads keep to CODES_PER_UPLOAD codes. The local emulator
writes a transaction item in ~0.1 s once the table holds a few thousand items and serialises every
table operation behind one lock, so a valid 1,000-code upload (ten 100-item transactions) would
hold the whole stack for minutes and turn unrelated calls into read timeouts: the emulator's
limit, not the app's. Schema-violating uploads (over 1,000 codes, bad items) are sent as drawn.
"""
import schemathesis

CODES_PER_UPLOAD = 20


@schemathesis.hook
def map_case(context, case):
    operation = context.operation
    if operation is None or operation.method.upper() != "POST" or not operation.path.endswith("/codes"):
        return case
    meta = case.meta
    positive = meta is not None and not meta.generation.mode.is_negative
    body = case.body
    if positive and isinstance(body, dict) and isinstance(body.get("codes"), list):
        case.body = {**body, "codes": body["codes"][:CODES_PER_UPLOAD]}
    return case
