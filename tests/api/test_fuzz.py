"""Schemathesis fuzzes every operation in the OpenAPI document, with valid and invalid input,
as a signed-in administrator, and holds every answer to every check it has (the document is
a contract, docs/errors.md "The document"): no input causes a server error, every status and
media type and header is one the document declares, every body matches its schema, a request
the document allows is accepted and one it refuses is refused, a method it does not give is
405 with ``Allow``, and 4xx answers are the error shape."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, CheckContext, is_check_class, load_all_checks
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
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


BEYOND_THE_DOCUMENT = {
    # Refusals of a request the document allows that the document cannot state, since they
    # depend on what the server holds, on the clock or on a secret: each one's status and
    # code, and why. Anything else a schema-valid request is refused with fails the check.
    (400, "invalid_cursor"): "a cursor is a position the server handed out (any string "
    "of the cursor's form is one to the schema)",
    (410, "room_ended"): "the room named has ended since",
    (410, "invite_cancelled"): "the invite named was cancelled",
    (410, "code_expired"): "the clock: the code is older than code_ttl_seconds",
    (410, "link_expired"): "the clock: the link is older than sign_in_link_ttl_seconds",
    (410, "calendar_feed_revoked"): "the feed address was replaced",
    (400, "cannot_follow_self"): "the name is the signed-in person's own",
    (400, "cannot_block_self"): "the name is the signed-in person's own",
    (400, "invalid_until"): "the clock: a suspension ends in the future",
    (400, "event_in_past"): "the clock: an event starts in the future",
    (400, "event_too_far_ahead"): "the clock: at most event_max_days_ahead from now",
    (400, "invalid_seq"): "an event number this room has reached",
    (400, "code_invalid"): "a sign-in code is one the server mailed",
    (400, "link_invalid"): "a sign-in link's token is one the server mailed",
    # The webhook is for the payment provider, who signs it with the shared secret (its
    # checks run before the body is read, in this order, so any other sender is told why).
    **{
        (400, code): "a webhook is signed, at a time near now, under the webhook secret"
        for code in (
            "webhook_signature_missing",
            "webhook_signature_invalid",
            "webhook_signature_expired",
            "webhook_malformed",
        )
    },
    (400, "tip_to_self"): "the name is the signed-in person's own",
    (400, "cannot_report_self"): "the name is the signed-in person's own",
    (400, "cannot_remove_self"): "the name is the signed-in person's own",
    (400, "cohost_not_member"): "who is a member is what the server holds",
    (400, "cohost_not_club_member"): "who is a member is what the server holds",
    (400, "not_a_townhall_member"): "who is a member is what the server holds",
    (400, "report_names_no_person"): "what the report named is what the server holds",
    (400, "invalid_sdp"): "an offer the WebRTC stack can read (SDP is not a schema)",
    **{
        (400, code): "the upload's bytes must be a PNG, JPEG or WebP image of a size the "
        "server reads (its type is in its bytes, not in a schema)"
        for code in ("avatar_not_image", "avatar_unsupported_type", "avatar_too_many_pixels")
    },
    (400, "query_too_short"): "a letter or digit of any script: the validator's regular "
    "expressions read \\w as ASCII, so no pattern says it",
    (400, "confirmation_mismatch"): "deleting an account needs the signed-in person's name",
    # A schema says "one of these two fields" only as a union of two bodies, which would make
    # the body's model a union in every client generated from the document.
    (400, "report_needs_subject"): "a report names a person, a room or both",
    (400, "members_only_needs_club"): "a members-only room or event is a club's",
    (400, "invalid_handle"): "Instagram's handles need lookarounds, which the regular "
    "expressions of schemathesis' generator (Python's) and validator (Rust's) read apart",
    (400, "invalid_email"): "email-validator also refuses special-use and reserved "
    "domains, which the `email` format allows",
    # Text is folded (NFC, spaces collapsed, docs/rooms.md) before its characters and
    # length are counted: a schema's pattern and length count the text as sent.
    # The document bounds the text as sent, loosely enough for what folding takes away.
    **{
        (400, code): "text rules read the folded text"
        for code in (
            "control_characters",
            "event_name_missing",
            "club_name_too_short",
            "club_name_too_long",
            "club_description_too_long",
            "club_rule_too_long",
            "event_name_too_long",
            "event_description_too_long",
            "display_name_too_long",
            "bio_too_long",
        )
    },
}


def refused_as_documented(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """schemathesis' negative_data_rejection, with 413 a refusal too: a body over
    ``http_max_body_bytes`` is refused before it is read, whatever it holds (docs/errors.md,
    ``body_too_large``), and schemathesis does not count 413 among refusals."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


def accepted_as_documented(ctx: CheckContext, response: Any, case: Any) -> bool | None:
    """schemathesis' positive_data_acceptance, but for the refusals the document cannot
    state (``BEYOND_THE_DOCUMENT``)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Exception:
        body = response.json() if response.status_code >= 400 else None
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if (response.status_code, code) in BEYOND_THE_DOCUMENT:
            return None
        raise


load_all_checks()
WITH_EXCEPTIONS = {
    positive_data_acceptance: accepted_as_documented,
    negative_data_rejection: refused_as_documented,
}
CHECKS_ALL = [
    WITH_EXCEPTIONS.get(check, check) for check in CHECKS.get_all() if not is_check_class(check)
]
"""Every check the installed schemathesis has (``--checks all``), and the error shape."""
CHECKS_ALL.append(error_shape)
assert len(CHECKS_ALL) > 10


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
        case.call_and_validate(checks=CHECKS_ALL)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing invalid can be made for an operation without inputs
    except (Exception, BaseExceptionGroup) as exc:
        return f"{mode.value} {operation.label} {fixed or ''}:\n{explained(exc)}"
    return None


def cover(operation: Any, token: str) -> list[str]:
    """Run one operation's coverage cases (schemathesis' coverage phase: each bound and
    each missing, extra or mistyped input once, and methods the document does not give);
    the failure reports. The checks of methods and headers run only in this phase."""
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=list(GenerationMode),
        generation_config=operation.schema.config.generation_for(
            operation=operation, phase="coverage"
        ),
        auth_storage=None,
        override=Override(headers={"Authorization": f"Bearer {token}"}),
        feedback=NO_FEEDBACK,
    )
    failures = []
    for case in generator:
        try:
            case.call_and_validate(checks=CHECKS_ALL)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"coverage {operation.label}:\n{explained(exc)}")
    return failures


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
def test_every_check_of_schemathesis_passes(
    api_schema: Any, settings: Settings, shard: int
) -> None:
    """Every operation, fed generated valid and invalid input and its coverage cases, passes
    every check schemathesis has (``--checks all``) and the error shape.

    Operations on a person are also fuzzed on someone who exists, since random names
    only ever reach the 404. Each run has a session of its own (a fresh administrator), so
    signing out or deleting an account is fuzzed too without breaking the others."""
    every = [result.ok() for result in api_schema.get_all_operations()]
    assert len(every) > 10 * SHARDS
    operations = every[shard::SHARDS]
    on_someone = [op for op in operations if "{username}" in op.path]
    people = new_admins(settings, 3 * len(operations) + len(on_someone) + 1)
    someone, _ = people.pop()
    covering = [people.pop() for _ in operations]
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
    for operation, (_, token) in zip(operations, covering, strict=True):
        failures += cover(operation, token)
    assert not failures, "\n\n".join(failures)


SCENARIOS = 25
"""Stateful scenarios: chains of calls that follow the links schemathesis infers between
operations (a room opened, then read, changed, ended...)."""
SESSION_ENDING = [
    "/api/auth/signout",
    "/api/me",
    "/api/me/sessions",
    "/api/me/sessions/{session_id}",
]
"""Operations that end the scenario's own session (or account): fuzzed above, each run with
a session of its own; in a scenario they would sign out every step after them."""


@pytest.mark.settings(**NO_LIMITS)
def test_every_check_passes_along_the_links(api_schema: Any, settings: Settings) -> None:
    """Chains of calls along the links between operations pass every check too, those that
    need a history included: a resource deleted is gone (``use_after_free``), one created
    can be read (``ensure_resource_availability``). Each scenario has an administrator of
    its own."""
    people = itertools.cycle(new_admins(settings, SCENARIOS))
    scope = api_schema.exclude(
        lambda ctx: ctx.operation.path in SESSION_ENDING and ctx.operation.method.upper() != "GET"
    )
    Machine = scope.as_state_machine()

    class Scenario(Machine):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            self.token = next(people)[1]

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {self.token}"}}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(
                response,
                checks=CHECKS_ALL,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Scenario.run(
        settings=hypothesis_settings(
            max_examples=SCENARIOS,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
