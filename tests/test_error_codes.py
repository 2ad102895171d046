"""docs/errors.md lists every error code the code base can answer with, and its HTTP status."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from townhall import errors
from townhall.api.errors import HTTP_CODES, STATUS

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "townhall"
DOC = ROOT / "docs" / "errors.md"


BASES = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.TownhallError)
}


def status(cls: type[errors.TownhallError]) -> int:
    return next((code for base, code in STATUS if issubclass(cls, base)), 500)


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        where = str(path.relative_to(ROOT))
        yield where, ast.parse(path.read_text(), where)


def error_classes() -> dict[str, tuple[type[errors.TownhallError], str | None]]:
    """Class name -> (the class of townhall.errors it descends from, its own default code),
    for the tree in townhall.errors and every subclass of it defined anywhere in src/."""
    found: dict[str, tuple[type[errors.TownhallError], str | None]] = {
        name: (cls, cls.code) for name, cls in BASES.items()
    }
    defined = [
        node for _, tree in modules() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
    ]
    grew = True
    while grew:
        grew = False
        for node in defined:
            if node.name in found:
                continue
            for base in node.bases:
                base_name = getattr(base, "id", None) or getattr(base, "attr", None)
                if base_name in found:
                    root, code = found[base_name]
                    for stmt in node.body:
                        if (
                            isinstance(stmt, ast.Assign)
                            and any(getattr(t, "id", None) == "code" for t in stmt.targets)
                            and isinstance(stmt.value, ast.Constant)
                        ):
                            code = str(stmt.value.value)
                    found[node.name] = (root, code)
                    grew = True
                    break
    return found


def raised_codes() -> Iterator[tuple[str, int | None, str]]:
    """(code as a regex, HTTP status if known, where) for every code in src/."""
    classes = error_classes()
    for name, (root, code) in classes.items():
        # ConfigError never reaches users; a bare TownhallError is answered as internal_error.
        if code and root not in (errors.ConfigError, errors.TownhallError):
            yield re.escape(code), status(root), name
    for http_status, code in HTTP_CODES.items():
        yield re.escape(code), http_status, "townhall.api.errors.HTTP_CODES"
    for where, tree in modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            code = _literal_code(node)
            if code is None:
                continue
            if name in classes and classes[name][0] is not errors.ConfigError:
                yield code, status(classes[name][0]), f"{where}:{node.lineno}"
            elif name == "error_body":
                yield code, None, f"{where}:{node.lineno}"


def _literal_code(call: ast.Call) -> str | None:
    """The code passed first (or as ``code=``) as a regular expression: a string literal
    stands for itself; an f-string such as ``f"{field}_too_long"`` for every code it can form."""
    candidates = list(call.args[:1]) + [k.value for k in call.keywords if k.arg == "code"]
    for arg in candidates:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if re.fullmatch(r"[a-z][a-z0-9_]*", arg.value):
                return re.escape(arg.value)
        if isinstance(arg, ast.JoinedStr):
            parts = [
                re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[a-z0-9_]+"
                for v in arg.values
            ]
            pattern = "".join(parts)
            if re.fullmatch(r"[a-z0-9_\\\[\]+-]+", pattern) and pattern != "[a-z0-9_]+":
                return pattern
    return None


def documented() -> dict[str, str]:
    """Code -> its table row in docs/errors.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`([a-z][a-z0-9_]*)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_raised_code_is_documented_with_its_status() -> None:
    """A code raised anywhere in src/ has a row in docs/errors.md giving its HTTP status."""
    rows = documented()
    missing: dict[str, str] = {}
    wrong_status: list[str] = []
    for pattern, status, where in raised_codes():
        matching = [code for code in rows if re.fullmatch(pattern, code)]
        if not matching:
            missing.setdefault(pattern.replace("\\", ""), where)
        for code in matching:
            if status is not None and not re.search(rf"\b{status}\b", rows[code].split("|")[2]):
                wrong_status.append(f"{code} is {status} at {where}")
    assert not missing, "codes missing from docs/errors.md: " + ", ".join(
        f"{code} ({where})" for code, where in sorted(missing.items())
    )
    assert not wrong_status, "docs/errors.md gives another status: " + "; ".join(wrong_status)


def test_documentation_lists_no_code_that_is_never_raised() -> None:
    """Every code in docs/errors.md still exists in the code base."""
    patterns = {pattern for pattern, _, _ in raised_codes()}
    stale = [code for code in documented() if not any(re.fullmatch(p, code) for p in patterns)]
    assert not stale, f"documented but never raised: {sorted(stale)}"


@pytest.mark.parametrize(
    "code", ["username_taken", "invalid_username", "rate_limited", "not_found"]
)
def test_collector_finds_known_codes(code: str) -> None:
    """The scan sees codes raised on one line, across lines, and from the HTTP mapping."""
    assert any(re.fullmatch(pattern, code) for pattern, _, _ in raised_codes())
