"""Schemathesis fuzzes every operation in the OpenAPI document, with valid and invalid input,
as a signed-in member: no input may cause a server error, answers keep their shape, every
status is one the document declares, in the media type it declares."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from townhall.app import build_container, create_app
from townhall.config import Settings

EXAMPLES_PER_MODE = 15
# Fuzzing sends thousands of requests from one address and one person within seconds.
NO_LIMITS = {name: "1000000/1" for name in Settings.model_fields if name.startswith("limit_")}


def error_shape(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """Every 4xx answer is the documented `{"error": {"code", "message"}}` JSON."""
    if 400 <= response.status_code < 500:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"{response.status_code} without an error object"
        assert isinstance(error.get("code"), str) and error["code"], "error without a code"
        assert isinstance(error.get("message"), str), "error without a message"
    return None


def documented_success(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """A successful answer matches the response schema the OpenAPI document gives for it."""
    if response.status_code < 400:
        return response_schema_conformance(ctx, response, case)
    return None


CHECKS = [
    not_a_server_error,
    error_shape,
    documented_success,
    # The document is a contract (docs/errors.md, "The document"): every status answered is
    # declared, in its declared media type.
    status_code_conformance,
    content_type_conformance,
]


def new_admins(settings: Settings, count: int) -> list[tuple[str, str]]:
    """(username, bearer token) of ``count`` fresh members, each an instance administrator
    so that staff-only operations are fuzzed past the door too."""

    async def make() -> list[tuple[str, str]]:
        container = build_container(settings)
        people = []
        try:
            for _ in range(count):
                name = f"fz_{uuid.uuid4().hex[:12]}"
                await container.accounts.create_account(
                    f"{name}@example.org", name, staff_role="admin"
                )
                link = await container.accounts.create_sign_in_link(name)
                signed = await container.accounts.use_sign_in_link(
                    link.rsplit("/", 1)[1], "127.0.0.1", kind="token", device="fuzz"
                )
                people.append((name, signed.token))
        finally:
            await container.close()
        return people

    return asyncio.run(make())


@pytest.fixture
def api_schema(settings: Settings) -> Iterator[Any]:
    """The OpenAPI document of an app running its own lifespan (build, migrate, serve)."""
    app = create_app(settings)
    try:
        yield schemathesis.openapi.from_asgi("/api/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()


def fuzz(operation: Any, mode: GenerationMode, token: str, **fixed: Any) -> str | None:
    """Run one operation's examples in one mode; the failure report, if any."""
    # The session is part of the case, so negative cases never "break" it: the bearer
    # would be put back when sent, and a refused header accepted.
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy(generation_mode=mode, headers=headers, **fixed))
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing invalid can be made for an operation without inputs
    except Exception as exc:
        return f"{mode.value} {operation.label} {fixed or ''}:\n{explained(exc)}"
    return None


def explained(exc: BaseException) -> str:
    """An exception's message with those it groups (Hypothesis reports a failure that
    did not repeat as a group of the first one)."""
    if isinstance(exc, BaseExceptionGroup):
        inner = "\n".join(f"  - {explained(one)}" for one in exc.exceptions)
        return f"{exc}\n{inner}"
    return f"{type(exc).__name__}: {exc}"


SHARDS = 4
"""The operations are fuzzed in this many tests, each with every ``SHARDS``-th operation:
each stays well inside the suite's time limit for one test on a busy machine."""


@pytest.mark.settings(**NO_LIMITS)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_input_causes_a_server_error(api_schema: Any, settings: Settings, shard: int) -> None:
    """Every operation, fed generated valid and invalid input, answers without a 5xx, with
    4xx answers in the error shape and 2xx answers matching the documented schema.

    Operations on a person are also fuzzed on someone who exists, since random names
    only ever reach the 404."""
    every = [result.ok() for result in api_schema.get_all_operations()]
    assert len(every) > 10 * SHARDS
    operations = every[shard::SHARDS]
    on_someone = [op for op in operations if "{username}" in op.path]
    people = new_admins(settings, 2 * len(operations) + len(on_someone) + 1)
    someone, _ = people.pop()
    runs = [(op, mode, {}) for op in operations for mode in GenerationMode]
    runs += [
        (op, GenerationMode.POSITIVE, {"path_parameters": {"username": someone}})
        for op in on_someone
    ]
    failures = [
        report
        for (operation, mode, fixed), (_, token) in zip(runs, people, strict=True)
        if (report := fuzz(operation, mode, token, **fixed)) is not None
    ]
    assert not failures, "\n\n".join(failures)
