"""The OpenAPI document states what the server does (docs/errors.md, "The document"): every
error status of every operation in the one error shape, the methods of every address, and
types as strict as the server reads them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.api.test_basics import assert_error

METHODS = {"get", "put", "post", "delete", "patch"}


async def document(client: Any) -> dict[str, Any]:
    r = await client.get("/api/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


async def test_every_operation_declares_its_errors_in_the_error_shape(client: Any) -> None:
    """Each operation lists the error statuses it can answer, all with the Error schema;
    FastAPI's own validation shape, which the server never sends, is gone."""
    doc = await document(client)
    error = {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("400", "404", "409", "429"):
                assert responses[status]["content"]["application/json"]["schema"] == error, (
                    method,
                    path,
                    status,
                )
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= set(responses), (method, path)
            if method in {"post", "put", "patch", "delete"}:
                assert {"401", "403"} <= set(responses), (method, path)


async def test_routes_visitors_may_use_say_so(client: Any) -> None:
    """A route that also answers visitors allows anonymous use in its security; a route for
    members requires a session."""
    paths = (await document(client))["paths"]
    assert {} in paths["/api/clubs/{club_id}"]["get"]["security"]
    assert {} not in paths["/api/me"]["get"]["security"]
    schemes = (await document(client))["components"]["securitySchemes"]
    assert set(schemes) == {"HTTPBearer", "APIKeyCookie"}


async def test_a_method_an_address_lacks_is_405_with_the_documented_allow(client: Any) -> None:
    """For every address of the document, a method it does not list is refused with 405 and
    an Allow header naming exactly the methods the document gives it (HEAD with GET)."""
    paths = (await document(client))["paths"]
    concrete = {template: re.sub(r"\{[^}]+\}", "1", template) for template in paths}
    checked = 0
    for template, item in paths.items():
        missing = sorted(METHODS - set(item))
        shared = [t for t in paths if t != template and _fits(t, concrete[template])]
        if not missing or shared:
            continue  # a path two templates fit is the next test's
        documented = {m.upper() for m in item}
        r = await client.request(missing[0], concrete[template])
        assert_error(r, 405, "method_not_allowed")
        expected = documented | ({"HEAD"} if "GET" in documented else set())
        assert set(r.headers["allow"].split(", ")) == expected, (template, r.headers["allow"])
        checked += 1
    assert checked > 30


def _fits(template: str, path: str) -> bool:
    parts, given = template.split("/"), path.split("/")
    return len(parts) == len(given) and all(
        p == g or p.startswith("{") for p, g in zip(parts, given, strict=True)
    )


async def test_a_concrete_path_wins_over_a_template(client: Any) -> None:
    """/api/rooms/{id}/media/config is GET only, although /media/{session} takes DELETE."""
    r = await client.request("PATCH", "/api/rooms/r1/media/config")
    assert_error(r, 405, "method_not_allowed")
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/clubs/search", {"GET", "HEAD"}),
        ("DELETE", "/api/rooms/r1/media/config", {"GET", "HEAD"}),
        ("PUT", "/api/users/search", {"GET", "HEAD"}),
    ],
)
async def test_a_concrete_path_wins_even_where_a_template_takes_the_method(
    client: Any, method: str, path: str, allow: set[str]
) -> None:
    """A method the concrete path lacks is 405 although a template's route takes it
    (PATCH /api/clubs/{club_id}, DELETE /api/rooms/{room_id}/media/{session})."""
    r = await client.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert set(r.headers["allow"].split(", ")) == allow


@pytest.mark.settings(
    payments_currencies=["EUR", "CHF"],
    payments_tip_min=150,
    payments_tip_max=9000,
    payments_payout_min=2500,
)
async def test_the_document_states_the_rules_the_settings_give(client: Any) -> None:
    """The currencies, a tip's bounds and a payout's least amount are this instance's
    settings in the document; no marker of where they come from is left in it."""
    doc = await document(client)
    schemas = doc["components"]["schemas"]
    tip = schemas["TipIn"]["properties"]
    assert (tip["amount"]["minimum"], tip["amount"]["maximum"]) == (150, 9000)
    assert schemas["PayoutIn"]["properties"]["amount"]["minimum"] == 2500
    currency = [o for o in tip["currency"]["anyOf"] if o.get("type") == "string"]
    assert currency[0]["enum"] == ["EUR", "CHF"]
    assert "x-townhall-setting" not in json.dumps(doc)


async def test_an_address_the_api_does_not_have_is_404_for_every_method(client: Any) -> None:
    """Unknown /api/ addresses are 404 in the error shape, whatever the method: the web
    app's files never answer for the API."""
    for method in ("GET", "POST", "DELETE", "OPTIONS"):
        r = await client.request(method, "/api/no/such/thing")
        assert_error(r, 404, "not_found")


async def test_bodies_are_read_as_strictly_as_the_document_types_them(people: Any) -> None:
    """``0`` is not a boolean and ``false`` or ``1.5`` not an integer; nothing changes."""
    alice = await people.member("alice")
    for body in ({"show_nominator": 0}, {"show_nominator": "true"}):
        assert_error(await alice.patch("/api/me", json=body), 422, "invalid_input")
    for body in ({"hourly_cap": False}, {"hourly_cap": 1.5}, {"pause_hours": "2"}):
        r = await alice.patch("/api/notifications/settings", json=body)
        assert_error(r, 422, "invalid_input")
    me = (await alice.get("/api/me")).json()
    assert me["show_nominator"] is True
    settings = (await alice.get("/api/notifications/settings")).json()
    assert settings["paused_until"] is None
    # The JSON types the document gives are read as before.
    assert (await alice.patch("/api/me", json={"show_nominator": False})).status_code == 200
    r = await alice.patch("/api/notifications/settings", json={"hourly_cap": 3})
    assert r.status_code == 200 and r.json()["hourly_cap"] == 3


async def test_times_and_choices_are_still_read_from_their_json_strings(people: Any) -> None:
    """Strictness is about JSON types: a room's kind and an event's start are strings."""
    alice = await people.member("alice")
    r = await alice.post(
        "/api/rooms", json={"title": "Strings", "kind": "social", "hand_raise": "off"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "social"


async def test_a_nul_character_in_a_staff_reason_is_invalid_input(people: Any) -> None:
    """A NUL in staff's words (which the user-facing text rules do not read) is 422, not a
    database error: PostgreSQL cannot store one. Nothing is recorded."""
    admin = await people.admin()
    await people.member("bob")
    for body in (
        {"action": "warn", "reason": "spam\x00"},
        {"action": "warn", "reason": "spam", "message": "stop\x00"},
    ):
        r = await admin.post("/api/admin/users/bob/actions", json=body)
        assert_error(r, 422, "invalid_input")
    person = (await admin.get("/api/admin/users/bob")).json()
    assert person["suspended_until"] is None and not person["banned"]
