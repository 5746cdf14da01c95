"""What a fuzz run found: counted, classified, grouped, with a curl command for each distinct failure.

Fatal (non-zero exit):
- server errors: a 5xx answered by the app;
- schema violations: an answer that breaks the document (body schema, undocumented status code,
  content type, headers);
- authentication and stateful checks (an operation that ignores its credential, an object another
  identity can read, a deleted object still served, a created object not served).

Reported, not fatal (unless --strict): requests the server judged differently from the document
(a schema-valid request refused, a schema-violating one accepted, a missing header tolerated), and
answers slower than schemathesis' limit (10 s, the API function's timeout; on the emulator, a sign
of its load more than of the app). Those that API.md or the models' own validators explain (a rule
a JSON Schema does not state) are counted apart.

Never counted: 501 from the local HTTP server for methods it does not implement (TRACE), which the
app never sees; in AWS, API Gateway answers them.
"""
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from fuzz.runner import Failure, Interaction, Outcome, curl

SCHEMA_CHECKS = {"response_schema_conformance", "status_code_conformance", "content_type_conformance",
                 "response_headers_conformance"}
SECURITY_CHECKS = {"ignored_auth", "object_level_authorization", "use_after_free", "ensure_resource_availability"}
LOCAL_SERVER_METHODS = {"TRACE", "CONNECT"}


def _error(interaction: Interaction | None) -> dict:
    if interaction is None:
        return {}
    try:
        body = json.loads(interaction.response_body or b"null")
    except ValueError:
        return {}
    return body.get("error", {}) if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}


def is_local_server_answer(interaction: Interaction | None) -> bool:
    """The local HTTP server's own 501 page for a method it has no handler for: the app never ran."""
    return (interaction is not None and interaction.method in LOCAL_SERVER_METHODS and interaction.status == 501
            and "text/html" in str(interaction.response_headers.get("content-type", "")))


_INTEGRAL_FLOAT = re.compile(rb"[:\[,]\s*-?\d+\.0\b")


def explanation(failure: Failure) -> str | None:
    """Why API.md expects this answer although the JSON Schema alone allows the request, if it does."""
    interaction = failure.interaction
    error = _error(interaction)
    field = str((error.get("details") or {}).get("field", ""))
    message = error.get("message", "")
    if failure.check == "positive_data_acceptance" and interaction is not None and interaction.status == 400:
        if field == "cursor":
            return "cursor is opaque: only a next_cursor the API gave out is accepted (signed)"
        if "valid integer" in json.dumps(error) and _INTEGRAL_FLOAT.search(interaction.body or b""):
            return "integers are strict: 5.0 is refused where the schema's integer allows it"
        if "gift card's stock is the number of its codes" in message:
            return "API.md: a gift card's stock is its number of unused codes"
        if field == "content" and "campaign_announcement template" in message:
            return "a broadcast needs content, or the program's own campaign_announcement template"
        if "cannot be cleared" in message:
            return "PATCH: a required field cannot be set to null (the schema allows null: it means 'unchanged')"
        if "Value error, " in message:  # the models' own validators: rules across fields or values
            return "a validator's rule the JSON Schema does not state: " + message.split("Value error, ", 1)[1][:90]
    if failure.check == "negative_data_rejection" and "Missing request body" in failure.message:
        return "an empty body is read as {} where every field is optional"
    return None


def severity(failure: Failure) -> str:
    if failure.check == "not_a_server_error" or (failure.interaction and (failure.interaction.status or 0) >= 500):
        return "local" if is_local_server_answer(failure.interaction) else "server_error"
    if failure.check == "unsupported_method" and is_local_server_answer(failure.interaction):
        return "local"
    if failure.check in SCHEMA_CHECKS:
        return "schema_violation"
    if failure.check in SECURITY_CHECKS:
        return "security"
    if failure.check == "max_response_time":
        return "slow"
    return "explained" if explanation(failure) else "input_mismatch"


@dataclass
class Group:
    severity: str
    failure: Failure
    role: str
    credential: str
    count: int = 1


def _signature(failure: Failure) -> tuple:
    error = _error(failure.interaction)
    interaction = failure.interaction
    return (failure.check, failure.operation, interaction.status if interaction else None,
            error.get("code"), str((error.get("details") or {}).get("field", "")),
            failure.message.splitlines()[0] if failure.message else "")


def summarise(outcomes: list[Outcome], labels: set[str], *, strict: bool, title: str, show: int = 40) -> tuple[str, bool]:
    """The printed summary and whether the run passed."""
    lines: list[str] = []
    groups: dict[tuple, Group] = {}
    totals = Counter()
    statuses = Counter()
    tested_operations = set()
    for outcome in outcomes:
        five = sum(1 for i in outcome.interactions.values() if (i.status or 0) >= 500)
        local = sum(1 for i in outcome.interactions.values() if is_local_server_answer(i))
        statuses.update(str(i.status) for i in outcome.interactions.values())
        tested_operations.update(i.operation for i in outcome.interactions.values() if i.operation in labels)
        totals["requests"] += len(outcome.interactions)
        totals["app_5xx"] += five - local
        totals["local_5xx"] += local
        for failure in outcome.failures:
            key = (outcome.role, *_signature(failure))
            if key in groups:
                groups[key].count += 1
            else:
                groups[key] = Group(severity(failure), failure, outcome.role, outcome.role.upper())
        lines.append(f"  pass {outcome.role:<8} {len(outcome.operations):>3} operations selected, {outcome.tested:>3} tested, "
                     f"{len(outcome.interactions):>6} requests, {five - local:>3} 5xx, {outcome.seconds:6.1f} s, "
                     f"stop: {outcome.stop_reason or '?'}, seed {outcome.seed}")
        lines += [f"    schemathesis error (the tool, not the API): {error[:300]}" for error in outcome.errors]
    by_severity = defaultdict(list)
    for group in groups.values():
        by_severity[group.severity].append(group)
    for group in groups.values():
        totals[group.severity] += group.count
    header = [
        title,
        *lines,
        f"  operations tested: {len(tested_operations)} of {len(labels)}; requests sent: {totals['requests']}; "
        f"statuses: {', '.join(f'{code}: {n}' for code, n in sorted(statuses.items()))}",
        f"  5xx from the app: {totals['app_5xx']} answers, {len(by_severity['server_error'])} distinct failures",
        f"  schema violations (body, status code, content type, headers): {totals['schema_violation']} "
        f"({len(by_severity['schema_violation'])} distinct)",
        f"  authentication / stateful failures: {totals['security']} ({len(by_severity['security'])} distinct)",
        f"  slower than the API function's 10 s timeout: {totals['slow']} ({len(by_severity['slow'])} distinct)",
        f"  input judged unlike the document: {totals['input_mismatch']} unexplained "
        f"({len(by_severity['input_mismatch'])} distinct), {totals['explained']} explained by API.md",
        f"  not counted: {totals['local_5xx']} x 501 from the local HTTP server (TRACE: the app never sees it)",
    ]
    body: list[str] = []
    titles = {"server_error": "SERVER ERRORS (5xx)", "schema_violation": "SCHEMA VIOLATIONS",
              "security": "AUTHENTICATION / STATEFUL", "slow": "SLOWER THAN 10 s (not fatal)",
              "input_mismatch": "INPUT JUDGED UNLIKE THE DOCUMENT (not fatal)"}
    for name, title in titles.items():
        if not by_severity[name]:
            continue
        body += ["", f"== {title}: {len(by_severity[name])} distinct"]
        for number, group in enumerate(sorted(by_severity[name], key=lambda g: (g.failure.operation, -g.count)), 1):
            if number > show:
                body.append(f"  ... and {len(by_severity[name]) - show} more (see the reports)")
                break
            body += _describe(number, group)
    explained = Counter(explanation(group.failure) for group in by_severity["explained"] for _ in range(group.count))
    if explained:
        body += ["", "== explained by API.md (not failures):"]
        body += [f"  {count:>5} x {why}" for why, count in explained.most_common()]
    fatal = ("server_error", "schema_violation", "security") + (("input_mismatch",) if strict else ())
    passed = not any(by_severity[name] for name in fatal) and all(o.ran for o in outcomes)
    incomplete = [o.role for o in outcomes if o.stop_reason != "completed" or o.errors]
    verdict = [""]
    if incomplete:
        verdict.append(f"warning: pass(es) {', '.join(incomplete)} stopped early or met a schemathesis error: "
                       "coverage is partial (raise --budget, or see the logs)")
    verdict.append("PASSED: no 5xx, no schema violation" if passed else "FAILED")
    return "\n".join(header + body + verdict), passed


def _describe(number: int, group: Group) -> list[str]:
    failure, interaction = group.failure, group.failure.interaction
    lines = [f"  {number}. [{failure.code} {failure.title}] {failure.operation}  (pass {group.role}, "
             f"phase {failure.phase}, x{group.count})"]
    if failure.message:
        lines += [f"     {line}" for line in failure.message.splitlines()[:4] if line.strip()]
    if interaction is not None:
        answer = interaction.response_body.decode("utf-8", errors="replace")
        lines.append(f"     answer: {interaction.status} {answer[:300]}")
        lines.append(f"     repro:  {curl(interaction, group.credential)}")
    return lines
