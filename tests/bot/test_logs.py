"""Log lines (bot/logs.py): text or JSON, zone-aware timestamps, `extra` fields carried
into JSON, phones masked, secrets never written."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.core import mask_name, mask_phone
from bot.logs import setup_logging
from bot.settings import Settings, load_settings

SECRET = "t0ken-never-logged"
PHONE = "+79121234567"


def _settings(tmp_path: Path, log_format: str) -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[service]\nlog_format = "{log_format}"\ninstance_id = "node-a:8080"\n'
        f'[api]\ntoken = "{SECRET}"\n',
        encoding="utf-8",
    )
    return load_settings(cfg)


def _log_some(log: logging.Logger) -> None:
    log.info("reading from %s", mask_phone(PHONE),
             extra={"phone": mask_phone(PHONE), "holder": mask_name("Иванов Иван"),
                    "outbox_id": 17, "echo": f"Bearer {SECRET}"})
    try:
        raise RuntimeError(f"peer refused token {SECRET}")
    except RuntimeError:
        log.exception("send failed")


def test_json_lines_carry_extra_fields_masked_and_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(_settings(tmp_path, "json"))
    _log_some(logging.getLogger("gateway.test"))
    err = capsys.readouterr().err
    assert SECRET not in err
    assert PHONE not in err
    lines = [json.loads(line) for line in err.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["message"] == "reading from +7912***4567"
    assert first["level"] == "INFO"
    assert first["logger"] == "gateway.test"
    assert first["instance"] == "node-a:8080"
    assert first["phone"] == "+7912***4567"
    assert first["holder"] == "И*** И***"
    assert first["outbox_id"] == 17
    assert first["echo"] == "Bearer ***"
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["level"] == "ERROR"
    assert "RuntimeError: peer refused token ***" in second["exc_info"]


def test_text_lines_have_the_zone_and_no_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(_settings(tmp_path, "text"))
    _log_some(logging.getLogger("gateway.test"))
    err = capsys.readouterr().err
    assert SECRET not in err
    assert PHONE not in err
    first = err.splitlines()[0]
    # 2026-11-20T10:15:00.123+03:00 INFO    gateway.test: reading from +7912***4567
    stamp = re.match(r"^(\S+) INFO +gateway\.test: reading from \+7912\*\*\*4567$", first)
    assert stamp is not None, first
    assert datetime.fromisoformat(stamp[1]).tzinfo is not None
    assert "RuntimeError: peer refused token ***" in err


def test_an_unknown_log_format_is_a_settings_error(tmp_path: Path) -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="service.log_format"):
        _settings(tmp_path, "xml")
