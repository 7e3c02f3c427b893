"""The CLI on a PostgreSQL store (docs/interfaces.md §13): `[storage] url` chooses it,
a writing command creates the schema, a reading command refuses an empty database and
never creates one, and the password never shows in what the commands print."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.cli import main
from storage.db import latest_version
from storage.models import NewReading
from storage.open import StoreTarget
from storage.pg import PgDatabase
from storage.store import Store

DEMO_CSV = Path(__file__).resolve().parents[2] / "storage" / "demo" / "customers.csv"


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def _config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "prod.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "local.db"}"\n{extra}[demo]\nenabled = false\n',
        encoding="utf-8",
    )
    return cfg


async def _schema_version(url: str) -> int:
    async with PgDatabase(url, migrate=False) as db:
        return await db.schema_version()


async def _add_reading(url: str) -> None:
    async with await Store.open(StoreTarget("postgresql", url=url)) as store:
        await store.readings.save([NewReading(
            account="1234567890", meter_serial="011234567", zone="T1",
            value=Decimal("4530"), period="2026-11", channel="sms", sender="+79121234567",
            received_at=datetime(2026, 11, 26, 7, 15, tzinfo=UTC), status="accepted",
        )])


@pytest.mark.parametrize(
    "words",
    [["export", "readings"], ["appeals", "list"], ["survey", "list"], ["staff", "list"]],
    ids=" ".join,
)
def test_a_reading_command_refuses_an_empty_database_and_creates_nothing(
    pg_url: str, tmp_path: Path, words: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GATEWAY__STORAGE__URL", _with_password(pg_url, "s3cret-pw"))
    assert main([*words, "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "storage.url:" in err
    assert "is empty (no schema)" in err
    assert "(from GATEWAY__STORAGE__URL)" in err
    assert urlsplit(pg_url).path.lstrip("/") in err  # names the database
    assert "s3cret-pw" not in err
    assert asyncio.run(_schema_version(pg_url)) == 0
    assert not (tmp_path / "local.db").exists()


def test_import_then_export_on_postgresql(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GATEWAY__STORAGE__URL", _with_password(pg_url, "s3cret-pw"))
    cfg = _config(tmp_path)
    assert main(["import", "customers", str(DEMO_CSV), "--json", "--config", str(cfg),
                 "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert "store PostgreSQL postgresql://postgres:***@" in err
    assert "s3cret-pw" not in out + err
    report = json.loads(out)
    assert report["accounts"] >= 25
    assert asyncio.run(_schema_version(pg_url)) == latest_version()
    asyncio.run(_add_reading(pg_url))
    assert main(["export", "readings", "--config", str(cfg)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["account"], x["value"]) for x in lines] == [("1234567890", "4530")]
    assert not (tmp_path / "local.db").exists()  # the SQLite file was never made


def test_a_password_in_the_settings_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "prod.toml"
    cfg.write_text(
        '[storage]\nurl = "postgresql://gw:s3cret-pw@127.0.0.1:5432/gw"\n', encoding="utf-8"
    )
    assert main(["export", "readings", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "storage.url must not hold the password" in err
    assert "s3cret-pw" not in err
