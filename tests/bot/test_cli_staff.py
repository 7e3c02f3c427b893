"""`gateway staff add|list|disable` in-process: the password from stdin or refused
without a terminal, argon2 hashes only, clear errors with exit status 2."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bot.cli import main
from storage.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path / "g.db"}"\n', encoding="utf-8")
    return cfg


def _run(
    monkeypatch: pytest.MonkeyPatch, config: Path, *argv: str, stdin: str = ""
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main([*argv, "--config", str(config)])


def _hash_of(tmp_path: Path, login: str) -> str:
    async def read() -> str:
        async with await Store.open(tmp_path / "g.db") as store:
            account = await store.staff.get(login)
            assert account is not None
            return account.password_hash

    return asyncio.run(read())


def test_add_list_disable(
    monkeypatch: pytest.MonkeyPatch, config: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = "long enough secret"
    assert _run(monkeypatch, config, "staff", "add", "Olga", "--role", "operator",
                "--password-stdin", stdin=password + "\n") == 0
    assert "created olga (operator)" in capsys.readouterr().out
    stored = _hash_of(tmp_path, "olga")
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert PasswordHasher().verify(stored, password)

    assert _run(monkeypatch, config, "staff", "list") == 0
    out = capsys.readouterr().out
    assert out.startswith("olga\toperator\tactive")
    assert password not in out

    assert _run(monkeypatch, config, "staff", "disable", "olga") == 0
    assert "disabled olga" in capsys.readouterr().out
    assert _run(monkeypatch, config, "staff", "disable", "olga") == 0
    assert "disabled already" in capsys.readouterr().out
    assert _run(monkeypatch, config, "staff", "list") == 0
    assert "\tdisabled " in capsys.readouterr().out
    assert _run(monkeypatch, config, "staff", "disable", "nobody") == 1
    assert "no account 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        # no terminal to ask on, and no --password-stdin: refuse, never hang
        (["olga", "--role", "operator"], "", "no terminal"),
        (["olga", "--role", "operator", "--password-stdin"], "short\n", "at least 8"),
        (["o", "--role", "operator", "--password-stdin"], "long enough secret\n", "login:"),
        (["ol ga", "--role", "operator", "--password-stdin"], "long enough secret\n",
         "login:"),
    ],
)
def test_add_refuses_with_exit_2(  # noqa: PLR0917 (fixtures and the table's columns)
    monkeypatch: pytest.MonkeyPatch, config: Path, capsys: pytest.CaptureFixture[str],
    argv: list[str], stdin: str, message: str,
) -> None:
    assert _run(monkeypatch, config, "staff", "add", *argv, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_a_taken_login_is_refused(
    monkeypatch: pytest.MonkeyPatch, config: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    args = ("staff", "add", "olga", "--role", "operator", "--password-stdin")
    assert _run(monkeypatch, config, *args, stdin="long enough secret\n") == 0
    assert _run(monkeypatch, config, *args, stdin="another secret!!\n") == 2
    assert "exists already" in capsys.readouterr().err


def test_an_unknown_role_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, config: Path,
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _run(monkeypatch, config, "staff", "add", "olga", "--role", "admin")
    assert exit_.value.code == 2


def test_list_never_creates_a_store(
    monkeypatch: pytest.MonkeyPatch, config: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(monkeypatch, config, "staff", "list") == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "g.db").exists()
