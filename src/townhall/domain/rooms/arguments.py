"""The arguments of room commands: each command declares its own where it is registered
(``commands.COMMANDS``); every transport has them checked here, the same way, and the
documentation and the OpenAPI schema are derived from the same declarations.

A stray, missing or malformed argument is refused with ``invalid_arguments``, whose message
says what the command takes and whose ``fields`` lists each problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from townhall.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument: a string bounded in length, or one of ``choices``."""

    description: str
    """What it is, for people; ``describe`` adds its bounds."""
    max_length: int = 0
    min_length: int = 0
    choices: tuple[str, ...] = ()
    drop_prefix: str = ""
    """Taken off the value when given (the ``@`` before a username)."""

    def check(self, value: object) -> tuple[Any, str | None]:
        """The value to pass on, or the problem with it."""
        if not isinstance(value, str):
            return None, "must be a string"
        if self.drop_prefix:
            value = value.removeprefix(self.drop_prefix)
        if self.choices and value not in self.choices:
            return None, "must be one of " + ", ".join(f"'{c}'" for c in self.choices)
        if len(value) < self.min_length:
            return None, f"must have at least {self.min_length} character(s)"
        if self.max_length and len(value) > self.max_length:
            return None, f"must have at most {self.max_length} characters"
        return value, None

    def describe(self) -> str:
        """Its row in docs/rooms.md."""
        if self.choices:
            bounds = "one of " + ", ".join(f"`{c}`" for c in self.choices)
        elif self.min_length:
            bounds = f"{self.min_length} to {self.max_length} characters"
        else:
            bounds = f"at most {self.max_length} characters"
        return f"{self.description}: {bounds}"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "description": self.describe()}
        if self.choices:
            schema["enum"] = [str(c) for c in self.choices]
        if self.min_length:
            schema["minLength"] = self.min_length + len(self.drop_prefix)
        if self.max_length:
            schema["maxLength"] = self.max_length + len(self.drop_prefix)
        return schema


def takes(action: str, spec: Mapping[str, Argument]) -> str:
    """The message of a refusal: what ``action`` takes."""
    if not spec:
        return f"The command {action} takes no arguments."
    names = ", ".join(spec)
    return f"The command {action} takes exactly: {names}."


def check(action: str, spec: Mapping[str, Argument], given: Mapping[str, object]) -> dict[str, Any]:
    """The keyword arguments for ``action`` from what a client sent, or ``invalid_arguments``."""
    problems: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name, argument in spec.items():
        if name not in given:
            problems.append({"field": name, "problem": "is required"})
            continue
        value, problem = argument.check(given[name])
        if problem is not None:
            problems.append({"field": name, "problem": problem})
        else:
            out[name] = value
    for name in given:
        if name not in spec:
            problems.append({"field": name, "problem": f"is not an argument of {action}"})
    if problems:
        raise InvalidInput("invalid_arguments", takes(action, spec), fields=problems)
    return out


def body_schema(name: str, spec: Mapping[str, Argument]) -> dict[str, Any]:
    """The JSON schema of one command with its arguments: ``{"command": name, ...}``."""
    return {
        "title": name,
        "type": "object",
        "properties": {
            "command": {"const": name},
            **{arg: argument.json_schema() for arg, argument in spec.items()},
        },
        "required": ["command", *spec],
        "additionalProperties": False,
    }
