"""tests/conftest.py clears the shell's GATEWAY__* variables and GATEWAY_CONFIG for every
test: with the README's `export GATEWAY__SMPP__PORT=…` in the shell, `make test` failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def _service_variable(name: str) -> bool:
    """What the service reads: GATEWAY__* overrides and GATEWAY_CONFIG. The suite's own
    knobs (GATEWAY_TEST_PG_URL, GATEWAY_TEST_STORE, tests/stores.py) are not settings."""
    upper = name.upper()
    return upper.startswith("GATEWAY") and not upper.startswith("GATEWAY_TEST_")


def test_no_gateway_variable_reaches_a_test() -> None:
    assert [name for name in os.environ if _service_variable(name)] == []
    settings = load_settings(ROOT / "settings.toml")
    assert settings.smpp.port == 2775
    assert settings.api.port == 8080


def test_variables_exported_in_the_shell_are_cleared(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GATEWAY__SMPP__PORT": "2776",
        "GATEWAY__API__PORT": "8081",
        "GATEWAY__SMMP__PORT": "1",  # a typo that would stop every load_settings
        "GATEWAY_CONFIG": str(tmp_path / "missing.toml"),
        "GATEWAY_TEST_PG_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    }
    probe = f"{Path(__file__).relative_to(ROOT)}::test_no_gateway_variable_reaches_a_test"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=50, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
