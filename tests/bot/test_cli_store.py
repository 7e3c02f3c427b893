"""Settings and store hygiene of the CLI (bot/cli_store.py, bot/settings.py): reading
commands never create a store, writing ones create only what the operator meant, a
misspelt GATEWAY__ variable or a busy port stops start-up naming the key."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import migrations

DEMO_CSV = Path(__file__).resolve().parents[2] / "storage" / "demo" / "customers.csv"

READING = [
    ["appeals", "list"],
    ["appeals", "show", "1"],
    ["appeals", "due"],
    ["export", "readings"],
    ["campaigns", "show", "1"],
    ["report", "appeals", "--quarter", "2026Q4"],
    ["survey", "list"],
]


def _config(tmp_path: Path, db: Path | str, extra: str = "") -> Path:
    cfg = tmp_path / "prod.toml"
    cfg.write_text(f'[storage]\npath = "{db}"\n{extra}', encoding="utf-8")
    return cfg


@pytest.mark.parametrize("words", READING, ids=" ".join)
def test_a_reading_command_never_creates_a_store(
    tmp_path: Path, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "var" / "gateway.db"
    cfg = _config(tmp_path, db)
    assert main([*words, "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"the database {db} does not exist" in err
    assert f"settings file {cfg}" in err
    assert not db.parent.exists()


@pytest.mark.parametrize("words", READING[:2], ids=" ".join)
def test_a_reading_command_names_the_environment_variable(
    tmp_path: Path, words: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "nonexistent" / "dir" / "x.db"
    monkeypatch.setenv("GATEWAY__STORAGE__PATH", str(db))
    assert main([*words, "--config", str(_config(tmp_path, "ignored.db"))]) == 2
    assert "(from GATEWAY__STORAGE__PATH)" in capsys.readouterr().err
    assert not (tmp_path / "nonexistent").exists()


def test_a_writing_command_refuses_a_missing_absolute_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "nonexistent" / "dir" / "x.db"
    monkeypatch.setenv("GATEWAY__STORAGE__PATH", str(db))
    assert main(["import", "customers", str(DEMO_CSV)]) == 2
    err = capsys.readouterr().err
    assert f"the directory {db.parent} does not exist (from GATEWAY__STORAGE__PATH)" in err
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize(
    ("path", "created"),
    [
        ("var/gateway.db", True),  # relative, below the working directory: var/ is made
        ("../outside/gateway.db", False),  # climbs out: refused
    ],
)
def test_a_writing_command_creates_only_relative_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, created: bool
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code = main(["import", "customers", str(DEMO_CSV), "--config",
                 str(_config(tmp_path, path))])
    assert code == (0 if created else 2)
    assert (work / path).exists() is created
    assert (tmp_path / "outside").exists() is False


def test_then_reading_works_and_verbose_names_settings_and_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.db"
    cfg = _config(tmp_path, db)
    assert main(["import", "customers", str(DEMO_CSV), "--config", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["appeals", "list", "--verbose", "--config", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert f"gateway: settings {cfg}; store SQLite {db}" in err
    assert f"from settings file {cfg}" in err


def test_an_older_store_is_refused_by_readers_and_upgraded_by_writers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "old.db"
    version, _, sql = migrations()[0]
    with sqlite3.connect(db) as conn:
        conn.executescript(f"{sql}\nPRAGMA user_version = {version};")
    conn.close()
    cfg = _config(tmp_path, db)
    assert main(["export", "readings", "--config", str(cfg)]) == 2
    assert f"has schema version {version}, this gateway needs {len(migrations())}" in (
        capsys.readouterr().err
    )
    assert main(["import", "customers", str(DEMO_CSV), "--config", str(cfg)]) == 0
    assert main(["export", "readings", "--config", str(cfg)]) == 0


@pytest.mark.parametrize(
    "name",
    [
        "GATEWAY__SMMP__PORT",  # misspelt section
        "GATEWAY__PORT",  # no section
        "GATEWAY__SMPP__",  # no key
        "GATEWAY__SMPP__PROT",  # misspelt key
        "gateway__smpp__prot",  # the prefix is not case-sensitive either
    ],
)
def test_a_misspelt_environment_variable_stops_every_command(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, "2776")
    assert main(["appeals", "list", "--config", str(_config(tmp_path, tmp_path / "g.db"))]) == 2
    err = capsys.readouterr().err
    assert name.upper() in err.upper()
    assert "Traceback" not in err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("section", "other"),
    [("api", "[smpp]\nport = 0\n"), ("smpp", "[api]\nport = 0\n")],
)
def test_a_busy_port_names_its_settings_key(
    tmp_path: Path, busy_port: int, section: str, other: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = _config(tmp_path, tmp_path / "g.db", f"{other}[{section}]\nport = {busy_port}\n")
    assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{section}.port: cannot listen on 127.0.0.1:{busy_port}" in err
    assert f"GATEWAY__{section.upper()}__PORT" in err


def test_telegram_without_a_token_stops_run_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "g.db"
    cfg = _config(tmp_path, db, "[telegram]\nenabled = true\n")
    assert main(["run", "--config", str(cfg)]) == 2
    assert "telegram.token: required when [telegram] enabled = true" in capsys.readouterr().err
    assert not db.exists()
