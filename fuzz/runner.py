"""One schemathesis pass: a config file for one credential, the `st run` command, and what it recorded.

Each pass calls the operations whose `x-roles` name its role (the admin pass also the public ones)
with that role's credential, binds every path parameter to a real id of
the fuzzer's tenant, runs ALL of schemathesis' checks and phases, and reads back the NDJSON event
stream (every request and response, every check) to count and classify what happened.
"""
import base64
import json
import os
import shlex
import subprocess  # schemathesis from this virtualenv, a fixed argument list  # nosec B404
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.tenant import Tenant
from local.launcher import REPO

# The credential reaches schemathesis through the environment (its config resolves ${VAR}), never a file.
KEY_ENV = "LAUREL_FUZZ_KEY"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    roles: tuple[str, ...]
    recursive_body: bool = False  # its request schema refers to itself (the rule language's conditions)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def operations(document: dict) -> list[Operation]:
    return [Operation(method.upper(), path, spec["operationId"], tuple(spec.get("x-roles", ())),
                      _recursive(document, (spec.get("requestBody") or {}).get("content", {})))
            for path, methods in document["paths"].items() for method, spec in methods.items()]


def _recursive(document: dict, node, seen: tuple[str, ...] = ()) -> bool:
    """Whether a schema reaches a component that contains itself."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return name in seen or _recursive(document, document["components"]["schemas"].get(name, {}),
                                              (*seen, name))
        return any(_recursive(document, value, seen) for value in node.values())
    if isinstance(node, list):
        return any(_recursive(document, value, seen) for value in node)
    return False


@dataclass
class Pass:
    """Who a pass calls as, and which operations it may call."""

    role: str
    key: str
    operations: list[Operation]

    @classmethod
    def for_role(cls, role: str, tenant: Tenant, root_key: str, document: dict) -> "Pass":
        """Root is its own pass (POST /v1/orgs); the admin pass also calls the public operations."""
        keys = {"admin": tenant.admin_key, "store": tenant.store_key, "analyst": tenant.analyst_key,
                "partner": tenant.partner_key, "fulfilment": tenant.keys["fulfilment"], "member": tenant.session,
                "root": root_key}
        if role not in keys:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(keys)}")
        chosen = [op for op in operations(document) if role in op.roles or (role == "admin" and not op.roles)]
        return cls(role, keys[role], chosen)


@dataclass
class Interaction:
    case_id: str
    phase: str
    operation: str
    method: str
    uri: str
    headers: dict
    body: bytes | None
    status: int | None
    response_headers: dict
    response_body: bytes


@dataclass
class Failure:
    check: str
    code: str
    title: str
    message: str
    operation: str
    phase: str
    interaction: Interaction | None


@dataclass
class Outcome:
    role: str
    operations: list[str]
    exit_code: int
    seconds: float
    report_dir: Path
    log: Path
    interactions: dict[str, Interaction] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    tested: int = 0
    stop_reason: str = ""
    errors: list[str] = field(default_factory=list)  # schemathesis' own (a crash in the tool, not the API)
    ran: bool = False  # whether schemathesis wrote its event stream at all
    seed: int | None = None  # `--seed` repeats the pass's draws


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(directory: Path, run: Pass, tenant: Tenant) -> Path:
    lines = ["# Written by `python -m fuzz` for one pass; credentials come from the environment.",
             # Only the credential is hidden in reports: idempotency keys and bodies stay, to replay a failure.
             "[output.sanitization]", 'keys-to-sanitize = ["authorization"]', 'sensitive-markers = ["authorization"]',
             "", "[auth.openapi.bearer]", f"bearer = {_toml_string('${' + KEY_ENV + '}')}", "", "[parameters]"]
    lines += [f"{_toml_string('path.' + name)} = {_toml_string(value)}"
              for name, value in tenant.path_parameters().items()]
    for op in run.operations:
        if op.recursive_body:
            # schemathesis' coverage phase does not finish (minutes, then killed) on a recursive schema;
            # the examples, fuzzing and stateful phases still draw bodies for it.
            lines += ["", "[[operations]]", f"include-operation-id = {_toml_string(op.operation_id)}",
                      "phases.coverage.enabled = false"]
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_pass(run: Pass, tenant: Tenant, base_url: str, out: Path, *, max_examples: int, workers: str,
             seed: int | None, timeout: float, phases: str | None, verbose: bool) -> Outcome:
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(out, run, tenant)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
               f"{base_url}/v1/openapi.json", "--checks", "all", "--max-examples", str(max_examples),
               "--workers", workers, "--report", "ndjson,json", "--report-dir", str(out),
               "--report-ndjson-path", str(out / "events.ndjson"), "--report-json-path", str(out / "report.json"),
               "--no-color", "--request-timeout", "30", "--suppress-health-check", "all",
               "--generation-database", "none"]
    if seed is not None:
        command += ["--seed", str(seed)]
    if phases:
        command += ["--phases", phases]
    for op in run.operations:
        command += ["--include-operation-id", op.operation_id]
    env = {**os.environ, KEY_ENV: run.key, "PYTHONUNBUFFERED": "1", "SCHEMATHESIS_HOOKS": "fuzz.hooks"}
    log = out / "schemathesis.log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as sink:
        # sys.executable and a fixed argument list, no shell:
        process = subprocess.Popen(command, env=env, cwd=REPO,  # nosec B603
                                   stdout=subprocess.PIPE if verbose else sink, stderr=subprocess.STDOUT, text=True)
        def echo() -> None:  # --verbose: schemathesis' own output, to the terminal and the log
            for line in process.stdout:
                sys.stdout.write(line)
                sink.write(line)

        echoing = threading.Thread(target=echo, daemon=True) if verbose else None
        if echoing:
            echoing.start()
        try:
            code = process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            process.send_signal(2)  # SIGINT: schemathesis stops and still writes its reports
            try:
                code = process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        if echoing:
            echoing.join(5)
    outcome = Outcome(run.role, [op.label for op in run.operations], code, time.monotonic() - started, out, log)
    _read_events(outcome, out / "events.ndjson")
    _read_report(outcome, out / "report.json")
    return outcome


def _unb64(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, dict) and "$base64" in value:
        return base64.b64decode(value["$base64"])
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _read_events(outcome: Outcome, path: Path) -> None:
    if not path.exists():
        outcome.errors.append(f"schemathesis wrote no event stream ({path}); see {outcome.log}")
        return
    outcome.ran = True
    with path.open(encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if finished:
                _read_scenario(outcome, finished)
            elif "FatalError" in event or "NonFatalError" in event:
                error = event.get("FatalError") or event.get("NonFatalError")
                outcome.errors.append(json.dumps(error)[:2000])


def _read_scenario(outcome: Outcome, scenario: dict) -> None:
    recorder = scenario.get("recorder") or {}
    label = recorder.get("label", "?")
    phase = scenario.get("phase", "?")
    for case_id, recorded in (recorder.get("interactions") or {}).items():
        request, response = recorded.get("request") or {}, recorded.get("response") or {}
        outcome.interactions[case_id] = Interaction(
            case_id=case_id, phase=phase, operation=label, method=request.get("method", "?"),
            uri=request.get("uri", "?"), headers={k: v[0] if isinstance(v, list) and v else v
                                                 for k, v in (request.get("headers") or {}).items()},
            body=_unb64(request.get("body")) if request.get("body") is not None else None,
            status=response.get("status_code"),
            response_headers={k.lower(): v[0] if isinstance(v, list) and v else v
                              for k, v in (response.get("headers") or {}).items()},
            response_body=_unb64(response.get("content")))
    for case_id, checks in (recorder.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "failure":
                continue
            failure = (check.get("failure_info") or {}).get("failure") or {}
            outcome.failures.append(Failure(
                check=check.get("name", "?"), code=failure.get("code", "?"), title=failure.get("title", "?"),
                message=failure.get("message", ""), operation=failure.get("operation") or label, phase=phase,
                interaction=outcome.interactions.get(case_id)))


def _read_report(outcome: Outcome, path: Path) -> None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # killed before it wrote its summary: the event stream still counts
        outcome.stop_reason = outcome.stop_reason or "killed"
        return
    outcome.tested = (report.get("operations") or {}).get("tested") or 0
    outcome.seed = report.get("seed")
    outcome.stop_reason = report.get("stop_reason", "")
    outcome.errors += [f"{error['title']} x{error['count']}" for error in report.get("errors", [])]


_SKIPPED_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "content-length",
                    "x-schemathesis-testcaseid"}


def curl(interaction: Interaction, credential_variable: str) -> str:
    """A command that sends the same request again; the credential is a shell variable, never its value."""
    parts = ["curl", "-sS", "-i", "-X", shlex.quote(interaction.method)]
    for name, value in interaction.headers.items():
        if name.lower() in _SKIPPED_HEADERS:
            continue
        if name.lower() == "authorization" and value == "[Filtered]":
            parts += ["-H", f'"Authorization: Bearer ${credential_variable}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if interaction.body:
        parts += ["--data-binary", shlex.quote(interaction.body.decode("utf-8", errors="backslashreplace"))]
    parts.append(shlex.quote(interaction.uri))
    return " ".join(parts)
