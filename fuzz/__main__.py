"""`python -m fuzz` (make fuzz): schemathesis against the served OpenAPI document, on a fresh local stack.

    python -m fuzz                  # ~50 examples per operation, passes as admin and as a member session
    python -m fuzz --fast           # ~10 examples per operation, under a minute
    python -m fuzz --roles admin,member,store,analyst,partner,fulfilment --max-examples 100
    python -m fuzz --base-url http://127.0.0.1:8000 --root-key "$ROOT"   # a stack already running

It starts `python -m local` on free ports (LAUREL_SEED=0, a random root key, the rate limit raised), makes one tenant through the API (an org, its admin key, store,
analyst, partner and fulfilment keys, a program with referrals and recognition switched on, members with points,
a gift card with codes, a redemption, a campaign, a member session), then runs `schemathesis run`
with every check (`--checks all`) and every phase, once per role: each pass calls only the
operations whose `x-roles` name its role (the admin pass also the public ones; a root pass follows
it for POST /v1/orgs), with every path parameter bound to the tenant's real ids. `--fast` keeps to
the examples and fuzzing phases. Operations with a recursive request schema (the rule language)
skip the coverage phase, which does not finish on them. Reports (NDJSON events, JSON summary,
schemathesis' own log) go to build/fuzz/<time>/<role>/ and the stack's output to build/fuzz/<time>/stack.log;
the summary prints each distinct failure with a curl command that repeats it.

Exit 0 when no 5xx and no schema violation; 1 otherwise; 2 when the stack or the tenant could not be made.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

import requests

from fuzz.report import summarise
from fuzz.runner import Pass, operations, run_pass
from fuzz.tenant import SetupError, make_tenant
from local.launcher import REPO, LocalStack, StackError

DEFAULT_EXAMPLES, FAST_EXAMPLES = 50, 10
DEFAULT_BUDGET, FAST_BUDGET = 300.0, 60.0
MIN_PASS_SECONDS = 15.0


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help=f"{FAST_EXAMPLES} examples per operation, a {FAST_BUDGET:.0f} s budget")
    parser.add_argument("--max-examples", type=int, help=f"per operation and phase (default {DEFAULT_EXAMPLES})")
    parser.add_argument("--roles", default="admin,member",
                        help="one pass per role: admin, member, store, analyst, partner, fulfilment (default admin,member)")
    parser.add_argument("--budget", type=float, help=f"seconds for all passes (default {DEFAULT_BUDGET:.0f})")
    parser.add_argument("--workers", default="1", help=(
        "schemathesis workers per pass (default 1: more threads crash schemathesis now and then, "
        "'AST constructor recursion depth mismatch', and add little speed)"))
    parser.add_argument("--phases", help="schemathesis phases (default all: examples,coverage,fuzzing,stateful)")
    parser.add_argument("--seed", type=int, help="schemathesis seed, to repeat a pass (each pass prints its own)")
    parser.add_argument("--strict", action="store_true",
                        help="also fail on requests the server judged unlike the document")
    parser.add_argument("--base-url", help="fuzz a stack already running here (needs --root-key)")
    parser.add_argument("--root-key", help="the running stack's root key")
    parser.add_argument("--report-dir", type=Path, help="default build/fuzz/<time>")
    parser.add_argument("--verbose", "-v", action="store_true", help="show schemathesis' own output")
    arguments = parser.parse_args(argv)
    if arguments.base_url and not arguments.root_key:
        parser.error("--base-url needs --root-key")
    arguments.max_examples = arguments.max_examples or (FAST_EXAMPLES if arguments.fast else DEFAULT_EXAMPLES)
    arguments.budget = arguments.budget or (FAST_BUDGET if arguments.fast else DEFAULT_BUDGET)
    if arguments.fast and not arguments.phases:
        # The coverage phase walks every keyword of every schema (minutes for the rule language) and the
        # stateful phase chains requests until its budget runs out: the fast run draws examples only.
        arguments.phases = "examples,fuzzing"
    arguments.roles = [role.strip() for role in arguments.roles.split(",") if role.strip()]
    arguments.report_dir = arguments.report_dir or REPO / "build" / "fuzz" / time.strftime("%Y%m%dT%H%M%S")
    return arguments


def _server_errors(log: str) -> list[str]:
    """The local stack's own record of each distinct unhandled error: route and exception."""
    seen = {}
    for line in log.splitlines():
        if '"unhandled error"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        last = (record.get("exception") or "").strip().splitlines()[-1:] or ["?"]
        key = f"{record.get('route', '?')}: {last[0][:200]}"
        seen[key] = seen.get(key, 0) + 1
    return [f"{count} x {key}" for key, count in seen.items()]


def _fuzz(arguments: argparse.Namespace, base_url: str, root_key: str, started: float,
          server_log: Callable[[], str] | None = None) -> int:
    try:
        document = requests.get(f"{base_url}/v1/openapi.json", timeout=30).json()
        tenant = make_tenant(base_url, root_key, document)
    except (SetupError, requests.RequestException, ValueError) as error:
        print(f"fuzz: could not make the tenant: {error}", file=sys.stderr)
        return 2
    bound = tenant.path_parameters()
    unbound = sorted({name for op in operations(document) for name in re.findall(r"{(\w+)}", op.path)} - set(bound))
    if unbound:
        print(f"fuzz: warning: no real id for path parameter(s) {', '.join(unbound)} (fuzz/tenant.py makes none): "
              "schemathesis draws them, so those operations mostly answer 404", flush=True)
    skipped = [op.label for op in operations(document) if op.recursive_body]
    if skipped:
        print(f"fuzz: no coverage phase for {', '.join(skipped)} (a recursive schema it does not finish)", flush=True)
    roles = list(arguments.roles)
    if "admin" in roles and "root" not in roles:
        roles.insert(roles.index("admin") + 1, "root")  # POST /v1/orgs: short, so before the passes that follow
    passes = [Pass.for_role(role, tenant, root_key, document) for role in roles]
    labels = {op.label for op in operations(document)}
    print(f"fuzz: {len(operations(document))} operations in the document; passes: "
          + ", ".join(f"{run.role} ({len(run.operations)} operations)" for run in passes)
          + f"; {arguments.max_examples} examples per operation; budget {arguments.budget:.0f} s", flush=True)
    outcomes = []
    for index, run in enumerate(passes):
        left = arguments.budget - (time.monotonic() - started)
        # What is left, shared by operation count among this pass and those after it (a pass that ends
        # early leaves its time to the next); a pass that starts at all gets to test something.
        weights = [max(len(later.operations), 1) for later in passes[index:]]
        share = max(left * weights[0] / sum(weights), MIN_PASS_SECONDS)
        print(f"fuzz: pass {run.role}: up to {share:.0f} s ...", flush=True)
        outcomes.append(run_pass(run, tenant, base_url, arguments.report_dir / run.role,
                                 max_examples=arguments.max_examples, workers=arguments.workers,
                                 seed=arguments.seed, timeout=share, phases=arguments.phases,
                                 verbose=arguments.verbose))
    summary, passed = summarise(outcomes, labels, strict=arguments.strict, title=(
        f"Laurel fuzz: schemathesis, every check, phases {arguments.phases or 'examples,coverage,fuzzing,stateful'}, "
        f"{arguments.max_examples} examples per operation"))
    print(summary)
    if server_log is not None:
        errors = _server_errors(server_log())
        print("\nthe stack's log of unhandled errors (what the 5xx were): " + ("none" if not errors else "")
              + "".join(f"\n  {error}" for error in errors))
    print(f"\nreports: {arguments.report_dir} (events.ndjson, report.json and schemathesis.log per pass); "
          f"the repro commands read the credential from $ADMIN, $MEMBER, $ROOT, ...; {time.monotonic() - started:.0f} s")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    if arguments.base_url:
        return _fuzz(arguments, arguments.base_url.rstrip("/"), arguments.root_key, started)
    # The per-credential rate limit (100/s) would turn much of the run into 429s: raised for this stack.
    # Answers are checked by schemathesis against the document, not by the app itself (which would turn a
    # schema violation into a 500 and hide what it is).
    stack = LocalStack(arguments.report_dir / "stack.log",
                       {"LAUREL_RATE_LIMIT_PER_SECOND": "100000", "LAUREL_RATE_LIMIT_BURST": "100000",
                        "LAUREL_LOCAL_RETRY_SECONDS": "1"}, without=["LAUREL_VALIDATE_ANSWERS"])
    try:
        print("fuzz: starting the local stack ...", flush=True)
        stack.start()
    except StackError as error:
        print(f"fuzz: {error}", file=sys.stderr)
        return 2
    try:
        print(f"fuzz: stack on {stack.base_url} ({time.monotonic() - started:.0f} s)", flush=True)
        return _fuzz(arguments, stack.base_url, stack.root_key, started, lambda: stack.output)
    finally:
        code = stack.stop()
        if code != 0:
            print(f"fuzz: the local stack exited with {code} (its output: {stack.log_path}):\n{stack.output[-5000:]}",
                  file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
