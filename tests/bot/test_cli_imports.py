"""Import commands: `--help` gives each file's columns, rejected rows exit 0, and with
`--strict` exit 4 while the good rows still load (docs/interfaces.md §3, §10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

DEMO_CSV = Path(__file__).resolve().parents[2] / "storage" / "demo" / "customers.csv"

# (kind, file with one good and one bad row, the columns its --help must name)
FILES = [
    (
        "customers",
        "account;phones;name;settlement;street;house;apartment;meter_serial;zones;digits;"
        "last_t1;last_t2;last_t3;last_date;balance\n"
        "5550001;+79125550001;Петров П;Сыктывкар;Мира;1;2;S1;1;5;100;;;2026-10-20;0\n"
        "5550002;+79125550002;Сидоров С;Сыктывкар;Мира;1;3;S2;7;5;100;;;2026-10-20;0\n",
        ["account", "phones", "meter_serial", "zones", "digits", "last_t1", "last_date",
         "balance"],
    ),
    (
        "invoices",
        "account;period;amount;due_date\n"
        "1234567890;2026-11;1520,75;2026-12-10\n"
        "1234567890;2026-13;10;2026-12-10\n",
        ["account", "period", "amount", "due_date"],
    ),
    (
        "debts",
        "account;amount;restriction_date\n"
        "1234567890;4870,40;2027-01-15\n"
        "1234567890;много;2027-01-15\n",
        ["account", "amount", "restriction_date"],
    ),
]


@pytest.mark.parametrize(("kind", "columns"), [(k, c) for k, _, c in FILES])
def test_help_gives_the_file_format_and_exit_statuses(
    kind: str, columns: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["import", kind, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for column in columns:
        assert f"\n  {column}" in out or f", {column}" in out, column
    assert "exit status:" in out
    assert "4    --strict and rows were rejected" in out


def test_survey_help_gives_the_file_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["survey", "create", "--help"])
    out = capsys.readouterr().out
    assert "[[household]]" in out
    assert 'scale = "score"' in out


@pytest.mark.parametrize(("kind", "content"), [(k, f) for k, f, _ in FILES])
@pytest.mark.parametrize("strict", [False, True])
def test_rejected_rows_exit_0_or_4_with_strict(
    tmp_path: Path, kind: str, content: str, strict: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    status = 4 if strict else 0
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[storage]\npath = "{tmp_path / "g.db"}"\n', encoding="utf-8")
    # the registry the billing files refer to
    assert main(["import", "customers", str(DEMO_CSV), "--config", str(cfg)]) == 0
    data = tmp_path / f"{kind}.csv"
    data.write_text(content, encoding="utf-8")
    capsys.readouterr()
    flags = ["--strict"] if strict else []
    assert main(["import", kind, str(data), "--json", *flags, "--config", str(cfg)]) == status
    report = json.loads(capsys.readouterr().out)
    assert [row["line"] for row in report["rejected"]] == [3]
    # the good row loaded either way
    assert report.get("accounts", report.get("accepted")) == 1
