"""Text that people type: one way to tidy it and one rule for the characters it may hold.

Every field a person fills in (room titles, display names, bios, club names, descriptions
and rules, event names and descriptions) goes through :func:`clean`, so the same title is
accepted or refused the same way wherever it is typed.
"""

from __future__ import annotations

import re
import unicodedata

from townhall.errors import InvalidInput

ALLOWED_FORMAT = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: format characters that Persian, Indic scripts and emoji
sequences need. Every other format character (bidirectional overrides, embeddings, isolates
and marks, zero-width spaces, tags...) lets text display as something it is not."""
LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
SPACES = re.compile("[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
"""The space separators (Unicode category Zs). Tabs and other controls are refused, not
folded, so a name cannot hide a terminal escape or a tab between its words."""
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
"""Control characters, format characters, and half surrogate pairs (which PostgreSQL cannot
store)."""


def fold(raw: str) -> str:
    """NFC-normalised, line breaks as ``\\n``, every run of spaces one space, no space at
    either end of a line and no blank line at either end."""
    text = LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", raw))
    lines = (SPACES.sub(" ", line).strip(" ") for line in text.split("\n"))
    return "\n".join(lines).strip("\n")


def refused(ch: str) -> bool:
    """Whether ``ch`` may not appear in text from a person."""
    return unicodedata.category(ch) in REFUSED_CATEGORIES and ch not in ALLOWED_FORMAT


def clean(
    raw: str,
    *,
    field: str,
    what: str,
    max_chars: int,
    min_chars: int = 0,
    multiline: bool = False,
    codes: str | None = None,
) -> str:
    """``raw`` folded (see :func:`fold`), or :class:`InvalidInput`. Only ``multiline``
    text may hold line breaks.

    ``field`` is the request field named in the error, ``what`` the words for it in the
    message ("room title"), and ``codes`` the prefix of the length errors'
    codes (``{codes}_too_long``, ``{codes}_too_short``; ``field`` by default). Characters
    that :func:`refused` answers ``control_characters`` whatever the field.
    """
    text = fold(raw)
    if any(refused(ch) for ch in text if not (multiline and ch == "\n")):
        raise InvalidInput(
            "control_characters",
            f"The {what} has control or formatting characters.",
            field=field,
        )
    prefix = codes or field
    if len(text) > max_chars:
        raise InvalidInput(
            f"{prefix}_too_long", f"The {what} has at most {max_chars} characters.", field=field
        )
    if len(text) < min_chars:
        raise InvalidInput(
            f"{prefix}_too_short", f"The {what} has at least {min_chars} characters.", field=field
        )
    return text
