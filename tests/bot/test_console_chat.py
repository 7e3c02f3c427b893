"""`gateway chat` end to end: a subprocess, a real SQLite file, the demo registry,
stdin piped in; replies come back through the outbox and the console channel."""

from __future__ import annotations

import json
import subprocess
import sys
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


def test_chat_answers_every_line_through_the_engine(tmp_path: Path) -> None:
    proc = _chat(tmp_path, ["помощь", "👍", "x" * 5000], "--phone", "8 912 123-45-67")
    assert proc.returncode == 0, proc.stderr
    answers = [line for line in proc.stdout.splitlines() if line.startswith("<< ")]
    assert len(answers) >= 3, proc.stdout
    assert "Traceback" not in proc.stderr


def test_console_readings_are_exported_only_with_include_console(tmp_path: Path) -> None:
    proc = _chat(tmp_path, ["ЛС 1234567890 день 4521 ночь 1876"], "--phone", "+79121234567")
    assert proc.returncode == 0, proc.stderr
    cfg = str(tmp_path / "settings.toml")
    plain = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "readings", "--config", cfg],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == ""
    full = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "readings", "--include-console",
         "--config", cfg],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
    )
    rows = [json.loads(line) for line in full.stdout.splitlines()]
    # the demo registry's last readings for this account are 4390 / 1815: accepted
    assert {(r["zone"], r["value"], r["channel"]) for r in rows} == {
        ("T1", "4521", "console"), ("T2", "1876", "console")
    }, full.stdout
