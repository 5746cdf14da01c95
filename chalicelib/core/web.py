"""How a function becomes an endpoint: authenticate, authorise, validate, answer in the contract's shape.

Every route is declared once with `endpoint(...)`: the same declaration registers it with Chalice,
checks its credential and body, and feeds the OpenAPI document, so the three cannot disagree.

A route names its shapes (a `Shape`: a class of its area's shapes module, e.g. chalicelib.earning.event_shapes)
rather than holding them: a shapes module, and pydantic with it, loads on the first call that parses a body of
it, not at every cold start (a read answers without them), and that call loads its own area's shapes only.

The domain modules the routes call are named the same way (`modules_in`): each loads on the first call of a
route that uses it, with what it imports, so a cold start pays for the routes' declarations only and a route's
first call for its own area (the API's cold-start target, bench section B).

Each call is recorded in the organisation's audit trail (chalicelib/core/audit.py) once answered, as its route
declares: every call that may change state (POST, PUT, PATCH, DELETE) unless it writes the ledger, which is its own
record (`audit="ledger"`: partner events, order webhooks), and every staff read of a member's personal data
(`audit="personal"` on a GET). A 401 (no known caller) and a 429 (a flood, which must not cost writes) are not.
"""
import importlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Optional

from chalice import Chalice, Response

from chalicelib.core import audit as audit_trail
from chalicelib.core import auth
from chalicelib.core.errors import Contention, LaurelError, PayloadTooLarge, ValidationFailed
from chalicelib.core.observability import invocation, logger
from chalicelib.core.ratelimit import limiter
from chalicelib.core.transact import is_transient

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

MAX_BODY_BYTES = 256 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff"}
CHALICE_ERRORS = {400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                  415: "unsupported_media_type", 429: "rate_limited"}


@dataclass(frozen=True)
class Shape:
    """A request or answer shape named, not loaded: the class `name` of the shapes module `module`."""

    module: str
    name: str

    def load(self) -> type["BaseModel"]:
        return getattr(importlib.import_module(self.module), self.name)  # on first use (the module's docstring)


def shapes_in(module: str) -> Callable[[str], Shape]:
    """Names the shapes of one module: `EARNING = shapes_in("chalicelib.earning.shapes")`, `EARNING("Program")`."""
    return partial(Shape, module)


class DomainModule:
    """A module named, not loaded: reading one of its names (`earn.record_event`) imports it on first use.

    importlib takes the module's own import lock, so when the local stack's threads call routes of one module
    at once, it is loaded once and each of them sees it whole; after that, reading a name is a lookup in
    sys.modules."""

    __slots__ = ("_module_name",)

    def __init__(self, module_name: str) -> None:
        self._module_name = module_name

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._module_name), name)

    def __repr__(self) -> str:
        return f"<{self._module_name}, loaded on first use>"


def modules_in(package: str, *names: str) -> tuple[DomainModule, ...]:
    """Names modules of one package for the routes, as `from package import a, b` would import them:
    `campaigns, earn = modules_in("chalicelib.earning", "campaigns", "earn")`."""
    return tuple(DomainModule(f"{package}.{name}") for name in names)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    roles: tuple[str, ...]
    summary: str
    body: Optional[Shape] = None  # the request's shape
    answer: Optional[Shape] = None  # the answer's shape
    status: int = 200
    idempotent: bool = False  # requires an Idempotency-Key header
    paged: bool = False  # takes ?limit= and ?cursor=
    also: tuple[int, ...] = ()  # other statuses it answers (a replay's 200, a 409), for the document
    # other query parameters it reads: (name, description) or (name, description, the JSON schema of the values
    # it accepts beyond a string: the server's own check, so the document refuses what the server refuses)
    query: tuple[tuple, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)  # request bodies Chalice lets through
    sheet: bool = False  # answers CSV too: always when it has no answer shape, else with ?format=csv
    audit: Optional[str] = None  # "personal": a read of personal data; "ledger": a write the ledger records


AUDIT_DECLARATIONS = (None, "personal", "ledger")


@dataclass
class Call:
    """What a route function gets: who is calling and what they sent, already checked."""

    principal: Optional[auth.Principal]
    params: dict[str, str]
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    idempotency_key: Optional[str] = None
    audit_org: Optional[str] = None  # the organisation a root call acted on (the one it created)

    @property
    def org_id(self) -> str:
        return self.principal.org_id


ENDPOINTS: list[Endpoint] = []


def error_response(error: LaurelError) -> Response:
    headers = dict(JSON_HEADERS)
    if "retry_after_seconds" in error.details:
        headers["Retry-After"] = str(error.details["retry_after_seconds"])
    return Response(body=json.dumps(error.body()), status_code=error.status, headers=headers)


def _validation_error(error: "ValidationError") -> ValidationFailed:
    """Name each offending field (never echo the value: it may be personal data)."""
    problems = [{"field": ".".join(str(part) for part in problem["loc"]) or "body", "message": problem["msg"]}
                for problem in error.errors(include_input=False, include_url=False)]
    first = problems[0]
    return ValidationFailed(f"{first['field']}: {first['message']}", {"field": first["field"], "errors": problems})


def parse_body(raw: bytes, model: type["BaseModel"]) -> "BaseModel":
    from pydantic import ValidationError  # loaded with the shapes (see the module's docstring)

    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.", {"limit": MAX_BODY_BYTES})
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as error:
        raise _validation_error(error) from None


def _idempotency_key(headers) -> str:
    key = headers.get("idempotency-key")
    if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed("Send an Idempotency-Key header of 1 to 255 visible characters.",
                               {"field": "Idempotency-Key"})
    return key


def _answer(endpoint: Endpoint, result: Any) -> Response:
    if isinstance(result, Response):  # a page for people (the unsubscribe link), made by the route itself
        return result
    status, data = result if isinstance(result, tuple) else (endpoint.status, result)
    if status == 204:
        return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
    if endpoint.answer and os.environ.get("LAUREL_VALIDATE_ANSWERS") == "1":
        endpoint.answer.load().model_validate(data)  # tests: every answer matches the documented schema
    return Response(body=json.dumps(data), status_code=status, headers=JSON_HEADERS)


def endpoint(app: Chalice, method: str, path: str, *, roles: tuple[str, ...], summary: str,
             body: Optional[Shape] = None, answer: Optional[Shape] = None,
             status: int = 200, idempotent: bool = False, paged: bool = False,
             also: tuple[int, ...] = (), query: tuple[tuple, ...] = (),
             content_types: tuple[str, ...] = ("application/json",), sheet: bool = False,
             audit: Optional[str] = None) -> Callable:
    if audit not in AUDIT_DECLARATIONS or (audit == "personal") != (method == "GET" and audit is not None):
        raise ValueError(f"{method} {path}: audit is one of {AUDIT_DECLARATIONS}, personal for reads only")
    spec = Endpoint(method, path, roles, summary, body, answer, status, idempotent, paged, also, query, content_types,
                    sheet, audit)
    ENDPOINTS.append(spec)

    def register(function: Callable[[Call], Any]) -> Callable:
        def view(**params: str) -> Response:
            request = app.current_request
            call = Call(None, params, query=dict(request.query_params or {}))
            try:
                if roles:
                    # who calls first, so a refused call is recorded with its caller (the audit trail)
                    call.principal = auth.authenticate(request.headers.get("authorization"),
                                                       auth.source_address(request.context))
                    auth.admitted(call.principal, roles, path, params)
                    limiter.take(call.principal.bucket)
                if body is not None:
                    call.body = parse_body(request.raw_body or b"", body.load())
                if idempotent:
                    call.idempotency_key = _idempotency_key(request.headers)
                response = _answer(spec, function(call))
            except LaurelError as error:
                response = error_response(error)
            except Exception as error:  # noqa: BLE001
                if is_transient(error):  # DynamoDB throttled a read past the SDK's retries: as for writes, 503
                    response = error_response(Contention("The service is busy; try again shortly."))
                else:  # the contract's 500, never a stack trace to the client
                    logger.exception("unhandled error", extra={"route": f"{method} {path}"})
                    response = error_response(LaurelError("Something went wrong on our side; try again later."))
            _record(spec, call, request, response.status_code)
            return response

        view.__name__ = function.__name__
        app.route(path, methods=[method], content_types=list(content_types))(view)
        return function

    return register


def audited(spec: Endpoint, principal: Optional[auth.Principal]) -> bool:
    """Whether a call of this route by this caller goes to the audit trail (the module's docstring)."""
    if principal is None or spec.audit == "ledger":
        return False
    if spec.method != "GET":
        return True
    return spec.audit == "personal" and principal.kind != "member"  # a member reading itself is no staff read


def _actor(principal: auth.Principal) -> dict:
    if principal.kind == "member":
        return {"kind": "member", "id": principal.external_id, "program": principal.program_id}
    if principal.kind == "key":
        return {"kind": "key", "id": principal.key_id, "role": principal.role}
    return {"kind": "root", "id": "root"}


def _record(spec: Endpoint, call: Call, request, status: int) -> None:
    """Append the call to its organisation's audit trail. The call's own work is done and answered: if the append
    fails it is logged (ids only) and the answer stands; the chain stays whole, without that record."""
    org_id = call.audit_org or (call.principal.org_id if call.principal else None)
    if status == 429 or org_id is None or not audited(spec, call.principal):
        return
    context = request.context or {}
    request_id = (context.get("requestId") or getattr(request.lambda_context, "aws_request_id", None)
                  or uuid.uuid4().hex)
    # The path's ids name the caller's own objects once the call succeeded; a refused call's may be another
    # organisation's (a 404 reveals nothing of them, nor may its trail) or any text: their names only, then.
    target = dict(call.params) if status < 400 else {name: "" for name in call.params}
    try:
        audit_trail.append(org_id, _actor(call.principal), f"{spec.method} {spec.path}", target, request_id,
                           (context.get("identity") or {}).get("sourceIp"), status)
    except Exception:  # noqa: BLE001
        logger.exception("audit append failed", extra={"route": f"{spec.method} {spec.path}", "status": status,
                                                       "request_id": request_id})


def install(app: Chalice) -> None:
    """Middleware: one access log line per call, and Chalice's own errors in the contract's shape."""

    @app.middleware("http")
    def contract_shape(request, get_response):
        with invocation(request.lambda_context):  # every line the call writes is labelled the API's
            started = time.perf_counter()
            response = get_response(request)
            if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
                code = CHALICE_ERRORS.get(response.status_code, "internal_error")
                message = response.body.get("Message") if response.status_code < 500 else "Something went wrong."
                response = Response(body=json.dumps({"error": {"code": code, "message": message, "details": {}}}),
                                    status_code=response.status_code,
                                    headers={**JSON_HEADERS, **{k: v for k, v in response.headers.items()
                                                                if k.lower() == "allow"}})
            logger.info("request", extra={"method": request.method, "route": request.path,
                                          "status": response.status_code,
                                          "ms": round((time.perf_counter() - started) * 1000, 1)})
            return response
