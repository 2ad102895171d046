"""The OpenAPI document as a contract: it states every answer the server gives.

FastAPI documents an operation's success and its own validation shape. Townhall answers
every failure with ``{"error": {"code", "message", ...}}`` (``townhall.api.errors``,
docs/errors.md), so the document is finished here, once, for every operation: each error
status the operation can answer with, all with the one ``Error`` schema, and the 422 in
that shape instead of FastAPI's.

Which statuses an operation can answer follows from what it is: everything can be
malformed (400), name something that is not there (404), clash with the current state
(409), be over a rate limit (429) or meet an unavailable dependency (503); an operation
with parameters or a body can be invalid (422); one with a body can be too large (413) or
of another media type (415); one that reads a session can meet a missing or stale one (401)
and a refusal (403), as can every unsafe method (a foreign ``Origin``, docs/security.md).

The document also states the rules the domain checks with codes of its own where a schema
can say them, those the instance's settings give included (``from_settings``, ``settle``):
a request the document allows is one the server takes, but for what depends on its state,
the clock or a secret (docs/errors.md, "The document").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.routing import Route

from townhall.config import Settings
from townhall.errors import NotFound

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable and snake_case: clients branch on it "
                    "(docs/errors.md lists every code).",
                },
                "message": {"type": "string", "description": "For people, in English."},
                "fields": {
                    "type": "array",
                    "description": "With `invalid_input`: each problem of the request.",
                    "items": {
                        "type": "object",
                        "required": ["field", "problem"],
                        "properties": {
                            "field": {"type": "string"},
                            "problem": {"type": "string"},
                        },
                    },
                },
                "retry_after": {
                    "type": "integer",
                    "description": "With `rate_limited`: seconds to wait (also the "
                    "`Retry-After` header).",
                },
            },
            "additionalProperties": True,
        }
    },
}

REASONS = {
    "400": "Malformed (`bad_request`), or refused by a rule of the request's own (see `code`).",
    "401": "Not signed in, or the session is unknown, revoked or expired (`not_signed_in`).",
    "403": "Signed in but not allowed, suspended or banned, or a foreign `Origin`.",
    "404": "Something the request names does not exist, or is not visible to you.",
    "409": "The request clashes with the current state.",
    "410": "A one-time link or code that was used or has expired.",
    "413": "The body is larger than the server accepts (`too_large`).",
    "415": "The body is not of a media type the operation reads.",
    "422": "The request does not match this document (`invalid_input`, with `fields`).",
    "429": "Over a rate limit (`rate_limited`); the `Retry-After` header says when to retry.",
    "503": "A service the operation needs is unavailable for now; retry later.",
}

UNSAFE = {"post", "put", "patch", "delete"}
OPTIONAL = "Optional"
"""The prefix of the security schemes of routes that visitors may use too (api.deps)."""


def statuses(method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses ``operation`` (``method``) can answer with."""
    found = ["400", "404", "409", "410", "429", "503"]
    if operation.get("parameters") or "requestBody" in operation:
        found.append("422")
    if "requestBody" in operation:
        found += ["413", "415"]
    if operation.get("security") or method in UNSAFE:
        found += ["401", "403"]
    return sorted(found)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without FastAPI's ``null`` alternative for optional ones: a
    query string cannot carry a null; an absent parameter is how one leaves it out."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            return {**kept[0], **rest}
    return schema


SETTING = "x-townhall-setting"


def from_settings(**keywords: str | Callable[[Settings], Any]) -> dict[str, Any]:
    """A field's ``json_schema_extra`` for constraints this instance's settings give, each a
    JSON Schema keyword and the setting's name (``enum="payments_currencies"``) or a function
    of the settings: the document states the values the server checks (``settle``), though
    the domain checks them with its own codes (``currency_not_accepted``), which stay what
    clients branch on."""
    marked: dict[str, str] = {}
    for keyword, source in keywords.items():
        if callable(source):
            # The schema holds JSON only: the function by name, called when settled.
            name = f"{source.__module__}.{source.__qualname__}"
            _DERIVED[name] = source
            marked[keyword] = DERIVED_PREFIX + name
        else:
            marked[keyword] = source
    return {SETTING: marked}


_DERIVED: dict[str, Callable[[Settings], Any]] = {}
DERIVED_PREFIX = "derived:"


def named_keys(names: Iterable[str]) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` for a ``dict`` field whose keys are ``names`` only: the
    document lists them as the object's properties, each of the dict's value schema. The
    field still reads any key, so another is refused by the domain with its own code."""
    keys = list(names)

    def state(schema: dict[str, Any]) -> None:
        for option in [schema, *schema.get("anyOf", [])]:
            if option.get("type") == "object":
                value = option.pop("additionalProperties", {})
                option.pop("propertyNames", None)
                option["properties"] = dict.fromkeys(keys, value)
                option["additionalProperties"] = False

    return state


def settle(node: Any, settings: Settings) -> None:
    """Every ``from_settings`` constraint in ``node`` replaced by its value (in place)."""
    if isinstance(node, list):
        for each in node:
            settle(each, settings)
        return
    if not isinstance(node, dict):
        return
    keywords = node.pop(SETTING, None)
    if keywords:
        options = node.get("anyOf")
        targets = (
            [o for o in options if o != {"type": "null"}] if isinstance(options, list) else [node]
        )
        for target in targets:
            for keyword, name in keywords.items():
                if name.startswith(DERIVED_PREFIX):
                    value = _DERIVED[name.removeprefix(DERIVED_PREFIX)](settings)
                else:
                    value = getattr(settings, name)
                target[keyword] = list(value) if isinstance(value, list | tuple) else value
    for value in node.values():
        settle(value, settings)


def state_errors(document: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """``document`` with every operation's error answers declared and the constraints of
    ``settings`` stated (changed in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
            responses = operation.setdefault("responses", {})
            for status in statuses(method, operation):
                responses[status] = {
                    "description": REASONS[status],
                    "content": {"application/json": {"schema": reference}},
                }
    # A route a visitor may use too says so: anonymous, or either session.
    schemes = document["components"].get("securitySchemes", {})
    for optional in [name for name in schemes if name.startswith(OPTIONAL)]:
        schemes.pop(optional)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and all(n.startswith(OPTIONAL) for each in security for n in each):
                operation["security"] = [
                    {},
                    *({n[len(OPTIONAL) :]: s} for e in security for n, s in e.items()),
                ]
    # FastAPI's own validation shapes are never answered.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if settings is not None:
        settle(document, settings)
    return document


METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the document gives ``path`` (HEAD with GET): what a 405's ``Allow``
    header says. Empty when no operation of the document is at ``path``. As OpenAPI says,
    a concrete path wins over a templated one (``/media/config`` over ``/media/{session}``):
    of the templates that match, those with the most literal segments count."""
    # Looked up on every /api/ request: templates by their count of segments.
    table: dict[int, list[tuple[re.Pattern[str], int, set[str]]]] | None = getattr(
        app.state, "contract_methods", None
    )
    if table is None:
        table = {}
        for template, item in app.openapi().get("paths", {}).items():
            if methods := {m.upper() for m in item if m in METHODS}:
                table.setdefault(template.count("/"), []).append(
                    (
                        re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))),
                        sum(1 for part in template.split("/") if part and "{" not in part),
                        methods,
                    )
                )
        app.state.contract_methods = table
    matching = [
        (literal, methods)
        for regex, literal, methods in table.get(path.count("/"), [])
        if regex.fullmatch(path)
    ]
    if not matching:
        return set()
    most = max(literal for literal, _ in matching)
    found = set().union(*(methods for literal, methods in matching if literal == most))
    if "GET" in found:
        found.add("HEAD")
    return found


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the finished document at the app's OpenAPI address."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if not getattr(app.state, "contract_stated", False):
            state_errors(build(), settings)
            app.state.contract_stated = True
        return build()

    app.openapi = openapi  # type: ignore[method-assign]


def answer_the_rest(app: FastAPI) -> None:
    """Every ``/api/`` address no route takes in full: 405 with the ``Allow`` the document
    gives it, or 404 when the document has no operation there. Added after the routes, so
    the web app's files (mounted at ``/``) never answer for the API. A plain route, so it is
    neither in the document nor in the permission matrix (docs/security.md)."""

    async def not_here(request: Request) -> None:
        methods = methods_at(app, request.url.path)
        if not methods:
            raise NotFound("not_found", "There is nothing at this address.")
        raise HTTPException(405, headers={"Allow": ", ".join(sorted(methods))})

    app.router.routes.append(
        Route("/api/{rest:path}", not_here, methods=[m.upper() for m in METHODS if m != "head"])
    )
