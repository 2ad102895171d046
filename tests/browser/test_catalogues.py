"""The web app's translation catalogues (src/townhall/web/i18n/*.json) are complete: every
language has every string, and every key the app uses exists. No browser needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "townhall" / "web"
LANGUAGES = ["en", "ru", "ro", "it", "ko", "ar"]
# The plural categories each language's rules (Intl.PluralRules, CLDR) choose from.
PLURALS = {
    "en": {"one", "other"},
    "ru": {"one", "few", "many", "other"},
    "ro": {"one", "few", "other"},
    "it": {"one", "many", "other"},
    "ko": {"other"},
    "ar": {"zero", "one", "two", "few", "many", "other"},
}
ALL_CATEGORIES = {"zero", "one", "two", "few", "many", "other"}

T_CALL = re.compile(r"(?<![\w$.])t\(\s*\"([^\"]+)\"")
TN_CALL = re.compile(r"(?<![\w$.])tn\(\s*\"([^\"]+)\"")
T_FAMILY = re.compile(r"(?<![\w$.])t\(\s*`([a-z_.]+)\$\{")
ATTRIBUTE = re.compile(r"data-i18n(?:-label|-title)?=\"([^\"]+)\"")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict[str, str]:
    data = json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert all(isinstance(v, str) and v.strip() for v in data.values()), lang
    return data


def plural_bases(keys: set[str]) -> set[str]:
    return {k.rsplit(".", 1)[0] for k in keys if k.rsplit(".", 1)[-1] in ALL_CATEGORIES}


def sources() -> str:
    files = [*WEB.glob("*.js"), *WEB.glob("views/*.js"), WEB / "index.html"]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


@pytest.mark.parametrize("lang", LANGUAGES[1:])
def test_every_language_has_every_string(lang: str) -> None:
    en, other = catalogue("en"), catalogue(lang)
    bases = plural_bases(set(en))
    plain_en = {k for k in en if k.rsplit(".", 1)[0] not in bases}
    plain_other = {k for k in other if k.rsplit(".", 1)[0] not in bases}
    assert sorted(plain_en - plain_other) == [], f"missing in {lang}"
    assert sorted(plain_other - plain_en) == [], f"unknown keys in {lang}"
    for base in sorted(bases):
        have = {k.rsplit(".", 1)[1] for k in other if k.rsplit(".", 1)[0] == base}
        assert PLURALS[lang] <= have, f"{lang} lacks plural forms of {base}"
        assert have <= ALL_CATEGORIES, base


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(lang: str) -> None:
    en, other = catalogue("en"), catalogue(lang)
    bases = plural_bases(set(en))
    for key, text in other.items():
        base = key.rsplit(".", 1)[0]
        source = en[f"{base}.other"] if base in bases else en[key]
        expected, found = set(PLACEHOLDER.findall(source)), set(PLACEHOLDER.findall(text))
        if base in bases:
            # A form for exactly one (or two, or zero) may spell the number out.
            assert found <= expected | {"n"}, (lang, key)
        else:
            assert found == expected, (lang, key)


def test_every_key_the_app_uses_is_in_english() -> None:
    en = catalogue("en")
    code = sources()
    used = set(T_CALL.findall(code)) | set(ATTRIBUTE.findall(code))
    assert len(used) > 100, "the key scanner found too little; has the t() style changed?"
    assert sorted(used - set(en)) == []
    counted = set(TN_CALL.findall(code))
    assert counted, "no tn() calls found"
    assert sorted(k for k in counted if f"{k}.other" not in en) == []
    for prefix in set(T_FAMILY.findall(code)):
        assert any(k.startswith(prefix) for k in en), f"no keys for t(`{prefix}...`)"


SERVER_T = re.compile(r"words\.tn?\(\s*[\"']([^\"']+)[\"']|[\"'](share\.[a-z_]+)[\"']")


def test_every_key_the_share_pages_use_is_in_english() -> None:
    """The share pages (/r, /e, /c) speak from the same catalogues, on the server."""
    routes = WEB.parent / "api"
    code = "\n".join(
        f.read_text(encoding="utf-8")
        for f in [routes / "share.py", *(routes / "routes").glob("*.py")]
    )
    used = {key for pair in SERVER_T.findall(code) for key in pair if key}
    assert len(used) > 10, "the key scanner found too little"
    en = catalogue("en")
    assert sorted(k for k in used if k not in en and f"{k}.other" not in en) == []


def test_every_language_can_be_chosen() -> None:
    names = catalogue("en")
    assert {f"language.{code}" for code in LANGUAGES} <= set(names)
    app = (WEB / "i18n.js").read_text(encoding="utf-8")
    listed = re.search(r"export const LANGUAGES = (\[[^\]]*\]);", app)
    assert listed and json.loads(listed.group(1)) == LANGUAGES
