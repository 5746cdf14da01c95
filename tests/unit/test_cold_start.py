"""What a Lambda handler drags in at cold start (bench section B): heavy packages stay off the paths
that do not use them. Each import runs in a fresh interpreter, as a cold start does."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Handlers that validate no shapes (pydantic: ~100 ms) and seal or open no code on their common path
# (cryptography: loaded by code_vault on first use).
NO_PYDANTIC = ["functions.email_delivery", "functions.sms_delivery", "functions.fulfilment",
               "functions.points_expiry", "functions.redemption_recovery", "functions.broadcast",
               "functions.tier_review", "functions.tier_recalculation", "functions.webhook_delivery",
               "functions.sms_inbound", "functions.member_import"]


# Every module of request and answer shapes (`chalicelib.<area>.shapes`, `chalicelib.earning.event_shapes`, ...).
SHAPE_MODULES = {".".join(path.relative_to(ROOT).with_suffix("").parts)
                 for path in (ROOT / "chalicelib").rglob("*shapes.py")}


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    code = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"})
    return set(json.loads(result.stdout.splitlines()[-1]))


def imported_by(module: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `module`."""
    return loaded_after(f"import {module}")


def packages(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("handler", NO_PYDANTIC)
def test_a_handler_that_validates_no_shapes_imports_no_pydantic_nor_cryptography(handler):
    # Given a fresh interpreter
    # When it imports the handler
    loaded = packages(imported_by(handler))
    # Then neither package is loaded
    assert not loaded & {"pydantic", "pydantic_core", "cryptography"}


def test_a_delivery_worker_does_not_import_the_catalog():
    # Given a fresh interpreter
    # When it imports a delivery worker (it opens a gift card's codes through gift_codes)
    loaded = imported_by("functions.email_delivery")
    # Then nothing a redeem needs comes with it
    assert not loaded & {"chalicelib.rewards.catalog", "chalicelib.rewards.redemptions", "chalicelib.rewards.fulfilment"}


def test_the_api_loads_its_shapes_when_a_call_first_parses_a_body():
    # Given a fresh interpreter
    # When it imports the API (every route declared)
    loaded = imported_by("app")
    # Then no shape is built yet, so a read answers without pydantic
    assert not loaded & SHAPE_MODULES
    assert not packages(loaded) & {"pydantic", "pydantic_core", "cryptography"}


def areas_modules(loaded: set[str]) -> set[str]:
    """The modules of chalicelib's areas (not core's) among `loaded`, but the redemption statuses the API's
    declarations document (a module of constants that imports nothing)."""
    return {module for module in loaded if module.count(".") >= 2 and module.startswith("chalicelib.")
            and not module.startswith("chalicelib.core.")} - {"chalicelib.rewards.statuses"}


def test_the_api_loads_no_areas_module_until_a_route_calls_it():
    # Given a fresh interpreter
    # When it imports the API (every route declared)
    loaded = imported_by("app")
    # Then no area's module is loaded yet
    assert not areas_modules(loaded)


FIRST_BALANCE = """
import app
app.membership.balance  # as GET .../balance reaches it
"""


def test_a_routes_first_call_loads_its_own_area_and_those_below_it_only():
    # Given a fresh interpreter that imported the API
    # When a members route reaches its module (a balance read)
    loaded = areas_modules(loaded_after(FIRST_BALANCE))
    # Then that module is loaded, and no module of an area above members
    assert "chalicelib.members.membership" in loaded
    assert {module.split(".")[1] for module in loaded} <= {"members", "notices", "webhooks"}


FIRST_EVENT = """
import app
from chalicelib.core.web import ENDPOINTS, parse_body
route = next(e for e in ENDPOINTS if (e.method, e.path) == ("POST", "/v1/programs/{program_id}/events"))
event = parse_body(b'{"id": "e-1", "type": "purchase", "member": "m-1"}', route.body.load())  # as its view does
assert event.member == "m-1"
"""


def test_the_first_event_the_api_takes_loads_only_the_earning_areas_shapes():
    # Given a fresh interpreter that imported the API
    # When the first call parses a body: an event, as POST .../events does
    loaded = loaded_after(FIRST_EVENT)
    # Then the shapes it loads are its own area's, no other area's (no program, member or reward shapes)
    assert loaded & SHAPE_MODULES
    assert {module.split(".")[1] for module in loaded & SHAPE_MODULES} == {"earning"}


def test_the_partner_queue_builds_only_the_event_shapes():
    # Given a fresh interpreter
    # When it imports the partner events consumer
    loaded = imported_by("functions.partner_events")
    # Then of all the shapes it holds an arriving event's only
    assert loaded & SHAPE_MODULES == {"chalicelib.earning.event_shapes"}
