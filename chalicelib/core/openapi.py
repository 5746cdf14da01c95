"""The OpenAPI 3 document, built from the same endpoint declarations and models that validate requests."""
import re

from pydantic.json_schema import models_json_schema

from chalicelib.core.shapes import Error
from chalicelib.core.web import Endpoint
from chalicelib.core.wire import Request

ERRORS = {400: "Invalid input (validation_error)", 401: "Missing, unknown or revoked credential (unauthorized)",
          403: "The credential's role may not do this (forbidden)",
          404: "No such object in this organisation (not_found)",
          409: "insufficient_points, out_of_stock, idempotency_conflict or conflict (also allowance_exceeded, "
               "not_eligible)",
          413: "Body too large (payload_too_large)", 429: "Too many requests (rate_limited)",
          500: "internal_error"}


def _json(shape: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}}


def _operation(endpoint: Endpoint) -> dict:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", endpoint.path)]
    if endpoint.paged:
        parameters += [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
            {"name": "cursor", "in": "query", "schema": {"type": "string"}}]
    parameters += [{"name": name, "in": "query", "description": description,
                    "schema": {"type": "string", **(accepted[0] if accepted else {})}}
                   for name, description, *accepted in endpoint.query]
    if endpoint.idempotent:
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": True,
                           "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$",
                                      "description": "1-255 visible ASCII characters"}})
    success = {"description": endpoint.summary}
    if endpoint.answer:
        success["content"] = _json(endpoint.answer.name)
    if endpoint.sheet:
        success.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
    responses = {str(endpoint.status): success}
    if endpoint.idempotent or 200 in endpoint.also:
        responses["200"] = {"description": "A replay, or nothing new to create: the first call's answer", **(
            {"content": _json(endpoint.answer.name)} if endpoint.answer else {})}
    codes = [400, 500] + [code for code in endpoint.also if code >= 400]
    if endpoint.roles:
        codes += [401, 403, 404, 429]
    if endpoint.body:
        codes += [413]
    if endpoint.idempotent or endpoint.method in ("POST", "PUT", "PATCH"):
        codes += [409]
    for code in sorted(set(codes)):
        responses[str(code)] = {"description": ERRORS[code], "content": _json("Error")}
    operation = {"summary": endpoint.summary, "operationId": f"{endpoint.method.lower()}_{endpoint.path}",
                 "parameters": parameters, "responses": responses,
                 "x-roles": list(endpoint.roles)}
    operation["security"] = [{"bearer": []}] if endpoint.roles else []
    if endpoint.body:
        operation["requestBody"] = {"required": True, "content": _json(endpoint.body.name)}
    return operation


def document(endpoints: list[Endpoint]) -> dict:
    models = {Error}
    for endpoint in endpoints:
        models.update(shape.load() for shape in (endpoint.body, endpoint.answer) if shape)
    ordered = sorted(models, key=lambda model: model.__name__)
    _, definitions = models_json_schema(
        [(model, "validation" if issubclass(model, Request) else "serialization") for model in ordered],
        ref_template="#/components/schemas/{model}")
    paths: dict = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Laurel API", "version": "1.0.0",
                 "description": "Rewards, incentives and payouts. See API.md for the contract."},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
