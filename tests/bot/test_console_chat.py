"""`gateway chat` end to end: a subprocess, a real SQLite file, the demo registry,
stdin piped in; replies come back through the outbox and the console channel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "settings.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n[smpp]\nenabled = false\n'
        "[api]\nenabled = false\n",
        encoding="utf-8",
    )
    return cfg


def _chat(tmp_path: Path, lines: list[str], *who: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", *who, "--config", str(_config(tmp_path))],
        input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=tmp_path,
        timeout=60, check=False,
    )


def _cli(tmp_path: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """`gateway WORDS… --config` on the test's settings (written by `_chat` first)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *words, "--config", str(tmp_path / "settings.toml")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )


def test_chat_answers_every_line_through_the_engine(tmp_path: Path) -> None:
    proc = _chat(tmp_path, ["помощь", "👍", "x" * 5000], "--phone", "8 912 123-45-67")
    assert proc.returncode == 0, proc.stderr
    answers = [line for line in proc.stdout.splitlines() if line.startswith("<< ")]
    # «помощь» and «👍» are the bot's to answer; the 5 000 characters go to a person,
    # and the customer hears by when (docs/interfaces.md §12).
    assert len(answers) == 3, proc.stdout
    assert "передано специалисту" in answers[2], proc.stdout
    assert "Traceback" not in proc.stderr


def test_console_readings_are_exported_only_with_include_console(tmp_path: Path) -> None:
    proc = _chat(tmp_path, ["ЛС 1234567890 день 4521 ночь 1876"], "--phone", "+79121234567")
    assert proc.returncode == 0, proc.stderr
    plain = _cli(tmp_path, "export", "readings")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == ""
    full = _cli(tmp_path, "export", "readings", "--include-console")
    rows = [json.loads(line) for line in full.stdout.splitlines()]
    # the demo registry's last readings for this account are 4390 / 1815: accepted
    assert {(r["zone"], r["value"], r["channel"]) for r in rows} == {
        ("T1", "4521", "console"), ("T2", "1876", "console")
    }, full.stdout


def test_readings_from_a_number_not_on_the_account_are_listed_for_staff(
    tmp_path: Path,
) -> None:
    proc = _chat(tmp_path, ["ЛС 1234567890 день 1 ночь 1"], "--phone", "+79990000000")
    assert proc.returncode == 0, proc.stderr
    assert "проверит сотрудник" in proc.stdout, proc.stdout
    listed = _cli(tmp_path, "export", "unlinked", "--outcome", "held")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["account"], r["outcome"], r["reason"], r["text"]) for r in rows] == [
        ("1234567890", "held", "value: lower", "ЛС 1234567890 день 1 ночь 1")
    ], listed.stdout


def test_appeal_answer_reaches_only_its_own_console_contact(tmp_path: Path) -> None:
    # The answer to +79121234567's appeal was printed in `gateway chat --telegram …`:
    # the console sender sent every queued console message to whoever was chatting.
    proc = _chat(tmp_path, ["нет света на Комарова 5 с утра"], "--phone", "+79121234567")
    assert "№1" in proc.stdout, proc.stdout
    answer = _cli(tmp_path, "appeals", "answer", "1", "Бригада выехала")
    assert answer.returncode == 0, answer.stderr
    for who in (["--telegram", "111222333"], ["--phone", "+79042001122"]):
        other = _chat(tmp_path, ["помощь"], *who)
        assert "Бригада выехала" not in other.stdout, (who, other.stdout)
    time.sleep(1.2)  # the other chats put it back for 1 s
    own = _chat(tmp_path, ["помощь"], "--phone", "89121234567")
    assert "Бригада выехала" in own.stdout, own.stdout
