"""Settings: file, --config / GATEWAY_CONFIG, GATEWAY__SECTION__KEY, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.cli import RedactSecrets, _print_banner
from bot.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_shipped_settings_file_equals_the_defaults() -> None:
    from_file = load_settings(REPO / "settings.toml")
    defaults = load_settings(None, use_default_file=False)
    assert from_file.model_dump() == defaults.model_dump()


def test_missing_keys_take_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[smpp]\nport = 2776\n', encoding="utf-8")
    settings = load_settings(cfg)
    assert settings.smpp.port == 2776
    assert settings.smpp.host == "127.0.0.1"
    assert settings.readings.window_last_day == 25


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[smpp]\npassword = "from-file"\nport = 2776\n', encoding="utf-8")
    monkeypatch.setenv("GATEWAY__SMPP__PASSWORD", "from-env")
    monkeypatch.setenv("GATEWAY__READINGS__CONSUMPTION_CAP_KWH", "7000")
    settings = load_settings(cfg)
    assert settings.smpp.password.get_secret_value() == "from-env"
    assert settings.smpp.port == 2776
    assert settings.readings.consumption_cap_kwh == 7000
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        # The message named the file only, though the file's value was fine.
        ("GATEWAY__SMPP__PORT", "abc", "smpp.port: Input should be a valid integer, unable "
         "to parse string as an integer (from GATEWAY__SMPP__PORT)"),
        ("GATEWAY__SMPP__PORTT", "1", "smpp.portt: unknown key (from GATEWAY__SMPP__PORTT)"),
    ],
)
def test_environment_error_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text("[smpp]\nport = 2776\n", encoding="utf-8")
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as info:
        load_settings(cfg)
    assert named in str(info.value)


def test_config_flag_wins_over_environment_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[api]\nport = 1111\n", encoding="utf-8")
    b.write_text("[api]\nport = 2222\n", encoding="utf-8")
    monkeypatch.setenv("GATEWAY_CONFIG", str(a))
    assert load_settings(None).api.port == 1111
    assert load_settings(b).api.port == 2222


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("[smpp]\nport = 99999\n", "smpp.port"),
        ("[smpp]\nport = \"many\"\n", "smpp.port"),
        ("[service]\ntimezone = \"Mars/Olympus\"\n", "service.timezone"),
        ("[notifications]\nquiet_hours = \"late\"\n", "notifications.quiet_hours"),
        ("[notifications]\nquiet_hours = \"21:75-09:00\"\n", "notifications.quiet_hours"),
        ("[staff]\nworking_hours = \"9-18\"\n", "staff.working_hours"),
        ("[staff]\nworking_hours = \"18:00-09:00\"\n", "must end after it starts"),
        ("[staff]\nanswer_within_hours = 0\n", "staff.answer_within_hours"),
        ("[staff]\nworkday = 1\n", "staff.workday"),
        ("[readings]\naccount_digits = [12, 8]\n", "readings.account_digits"),
        ("[smpp]\nprot = 1\n", "smpp.prot"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[smpp\nport = 1\n", "not valid TOML"),
        # These were accepted and failed later (or never worked):
        # no day was ever inside a window from the 26th to the 25th
        ("[readings]\nwindow_first_day = 26\n", "window_first_day (26) is after"),
        # no phone without +7 could be read
        ("[service]\nphone_region = \"XX\"\n", "service.phone_region"),
        # every SMS notice fits two parts only with a signature of at most 12 characters
        ("[service]\nsms_signature = \"АО Энергосбыт Коми\"\n", "service.sms_signature"),
        # silently logged at INFO
        ("[service]\nlog_level = \"LOUD\"\n", "service.log_level"),
        # SQLite's «unable to open database file» traceback
        ("[storage]\npath = \"\"\n", "storage.path"),
        ("[storage]\npath = \".\"\n", "storage.path"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, content: str, named: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(cfg)
    assert named in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[api]\nport = -5\n", encoding="utf-8")
    # --config after the last word of the command (docs/interfaces.md §2)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "parse", "--config", str(cfg)],
        input="", capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "api.port" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_refuses_public_api_without_token(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[api]\nhost = "0.0.0.0"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(cfg)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "api.token" in proc.stderr


def test_log_filter_redacts_secrets() -> None:
    import logging

    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "bind with %s", ("s3cr3t-pw",), None
    )
    assert RedactSecrets(["s3cr3t-pw"]).filter(record)
    assert "s3cr3t-pw" not in record.getMessage()
    assert "***" in record.getMessage()


@pytest.mark.parametrize("command", [["export", "readings"], ["appeals", "list"]])
def test_cli_unopenable_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    # A storage.path under a regular file ended in SQLite's traceback (and a second one
    # from aiosqlite's worker thread) instead of a message naming the key.
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    cfg = tmp_path / "s.toml"
    cfg.write_text('[storage]\npath = "afile/gateway.db"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", *command, "--config", str(cfg)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert "storage.path" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_reader_closing_the_pipe_is_no_traceback(tmp_path: Path) -> None:
    # `gateway export readings | head` ended in a BrokenPipeError traceback (and one
    # more from the export cursor closed after the database).
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the reader is gone before the first line
    with os.fdopen(write_fd, "w") as closed:
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "parse"],
            input="день 4521\n" * 20_000, stdout=closed, stderr=subprocess.PIPE, text=True,
            cwd=tmp_path, timeout=120, check=False,
        )
    assert proc.returncode == 141
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("toml", "suggests_sms_send"),
    [
        ("", True),
        # With a real SMSC the banner suggested `gateway sms send`, which needs the
        # simulator's /api/dev/sms and answered 404.
        ("[smpp]\nsimulator = false\n", False),
        ("[api]\nenabled = false\n", False),
    ],
)
def test_banner_suggests_only_what_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, suggests_sms_send: bool
) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(toml, encoding="utf-8")
    settings = load_settings(cfg)
    api = SimpleNamespace(port=8080) if settings.api.enabled else None
    _print_banner(SimpleNamespace(settings=settings, api=api))
    out = capsys.readouterr().out
    assert ("gateway sms send" in out) is suggests_sms_send
    assert "gateway chat --phone" in out
