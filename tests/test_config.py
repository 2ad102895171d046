"""Settings: every option documented, loaded from file and environment, errors naming the key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from townhall.__main__ import main
from townhall.config import ENV_PREFIX, Settings, load_settings
from townhall.errors import ConfigError

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
LIMITS = sorted(name for name in Settings.model_fields if name.startswith("limit_"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the TOWNHALL_* variables it sets itself."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def documented_rows() -> dict[str, str]:
    """Option name -> its table row in docs/configuration.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`([a-z_]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_with_its_variable(name: str) -> None:
    """docs/configuration.md has a row for each option, naming its environment variable."""
    rows = documented_rows()
    assert name in rows, f"option {name} is missing from docs/configuration.md"
    assert f"`{ENV_PREFIX}{name.upper()}`" in rows[name]


def test_documentation_lists_no_option_that_does_not_exist() -> None:
    """Every option the document describes is a real setting."""
    stale = set(documented_rows()) - set(Settings.model_fields)
    assert not stale, f"documented but not settings: {sorted(stale)}"


def test_documented_example_file_loads(tmp_path: Path) -> None:
    """The example production file in the document is a valid configuration."""
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block, "no TOML example in docs/configuration.md"
    settings = load_settings(write(tmp_path / "townhall.toml", block.group(1)))
    assert settings.environment == "production"
    assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
    assert settings.redis_url and settings.smtp_host
    assert settings.secure_cookies


def test_defaults_need_no_file() -> None:
    """With nothing configured, the embedded defaults apply."""
    settings = load_settings()
    assert settings.port == 8000
    assert settings.invite_only is True
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("/data/townhall.db")


def test_file_values_are_read(tmp_path: Path) -> None:
    """Keys of the TOML file set the options of the same name, typed."""
    path = write(
        tmp_path / "t.toml",
        'port = 9000\ninvite_only = false\nsmtp_password = "hunter2"\n'
        'limit_follows_per_user = "3/60"\ndata_dir = "/srv/th"\n',
    )
    settings = load_settings(path)
    assert settings.port == 9000
    assert settings.invite_only is False
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert settings.limit_follows_per_user == "3/60"
    assert settings.data_dir == Path("/srv/th")


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a path, $TOWNHALL_CONFIG names the file."""
    monkeypatch.setenv("TOWNHALL_CONFIG", str(write(tmp_path / "t.toml", "port = 9001\n")))
    assert load_settings().port == 9001


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOWNHALL_<NAME> wins over the same key in the file; other file keys still apply."""
    path = write(tmp_path / "t.toml", 'port = 9000\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("TOWNHALL_PORT", "9100")
    monkeypatch.setenv("TOWNHALL_INVITE_ONLY", "false")
    settings = load_settings(path)
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.invite_only is False


def test_command_line_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit value (a command-line flag) wins over the environment."""
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", "sqlite+aiosqlite:///elsewhere.db")
    settings = load_settings(None, database_url="sqlite+aiosqlite:///chosen.db")
    assert settings.database_url == "sqlite+aiosqlite:///chosen.db"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('port = "eighty"\n', "port"),
        ("port = 70000\n", "port"),
        ('environment = "staging"\n', "environment"),
        ('smtp_security = "ssl"\n', "smtp_security"),
        ("code_length = 4\n", "code_length"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    """A value of the wrong type or out of range is a ConfigError that names the key."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "t.toml", text))
    assert key in caught.value.message


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value in the environment is reported like one in the file."""
    monkeypatch.setenv("TOWNHALL_SMTP_PORT", "lots")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "smtp_port" in caught.value.message


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    """A misspelt option in the file is refused, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "t.toml", "invites_per_memebr = 5\n"))
    assert "invites_per_memebr" in caught.value.message


@pytest.mark.parametrize("value", ["10", "ten/60", "5/minute", "0/60", "5/0", "-1/60", "1/2/3"])
def test_bad_rate_limit_syntax_is_rejected(tmp_path: Path, value: str) -> None:
    """A rate limit must read 'count/seconds' with positive integers."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path / "t.toml", f'limit_follows_per_user = "{value}"\n'))
    assert "limit_follows_per_user" in caught.value.message
    assert "count/seconds" in caught.value.message or "positive" in caught.value.message


@pytest.mark.parametrize("name", LIMITS)
def test_every_rate_limit_is_checked(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Each limit_* option is validated as a rate limit, wherever it is set."""
    assert Settings.model_fields[name].default.count("/") == 1
    monkeypatch.setenv(f"{ENV_PREFIX}{name.upper()}", "1/minute")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert name in caught.value.message


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    """A path that does not exist, or a file that is not TOML, is a clear ConfigError."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path / "t.toml", "port = = 1\n"))


def test_command_line_reports_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`townhall --config FILE migrate` with a bad file exits 2 and names the key."""
    path = write(tmp_path / "t.toml", 'limit_invites_per_user = "many"\n')
    assert main(["--config", str(path), "--data-dir", str(tmp_path), "migrate"]) == 2
    err = capsys.readouterr().err
    assert "limit_invites_per_user" in err
    assert "Traceback" not in err
