"""`gateway broadcast|outage|import|campaigns` as staff run them: a real process over a
SQLite file (docs/interfaces.md §8, §10)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage.store import Store
from tests.notifications.conftest import add_account, link_telegram

GATEWAY = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def gateway(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY, *args, "--config", str(config)],
        capture_output=True, text=True, cwd=ROOT, timeout=30, check=False,
        stdin=subprocess.DEVNULL,
    )


def setup(tmp_path: Path) -> Path:
    db = tmp_path / "gw.db"
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n[demo]\nenabled = false\n'
        "[notifications]\nconfirm_above = 3\n[telegram]\nenabled = true\n",
        encoding="utf-8",
    )

    async def seed() -> None:
        async with await Store.open(db) as store:
            for house in range(1, 6):
                await add_account(store, f"100000000{house}", [f"+7912000000{house}"],
                                  house=str(house))
            await link_telegram(store, 501, "+79120000005")

    asyncio.run(seed())
    return config


OUTAGE = ["broadcast", "outage", "--settlement", "Сыктывкар", "--street", "ул Комарова",
          "--houses", "1-5", "--reason", "авария на ЛЭП", "--start", "2030-11-26 10:00",
          "--until", "2030-11-26 18:00"]


def test_broadcast_outage_json_confirmation_restore_and_show(tmp_path: Path) -> None:
    config = setup(tmp_path)
    dry = gateway(config, *OUTAGE, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    body = json.loads(dry.stdout)
    assert list(body) == ["campaign", "outage", "accounts", "recipients", "by_channel",
                          "sms_parts", "sample"]
    assert body["campaign"] is None
    assert body["recipients"] == 5
    assert body["by_channel"] == {"sms": 4, "telegram": 1}
    assert body["sms_parts"] <= 2

    refused = gateway(config, *OUTAGE, "--json")
    assert refused.returncode == 3
    assert "confirm_above" in refused.stderr

    done = gateway(config, *OUTAGE, "--json", "--yes")
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert sent["campaign"] == 1
    assert sent["outage"] == 1

    show = gateway(config, "campaigns", "show", "1", "--json")
    assert json.loads(show.stdout) == {
        "campaign": 1, "kind": "outage", "recipients": 5, "queued": 5, "sent": 0,
        "delivered": 0, "failed": 0, "deferred": 0, "cancelled": 0, "possible_duplicates": 0,
    }
    restored = gateway(config, "outage", "restored", "1", "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["campaign"] == 2
    show = json.loads(gateway(config, "campaigns", "show", "1", "--json").stdout)
    assert show["cancelled"] == 5  # nothing had gone out: dropped, not sent late

    undelivered = gateway(config, "campaigns", "show", "2", "--undelivered")
    lines = undelivered.stdout.splitlines()
    assert lines[0] == "account,phone,channel,status,sent_at,error"
    assert len(lines) == 6

    cancel = gateway(config, "broadcast", "cancel", "2")
    assert cancel.returncode == 0
    assert cancel.stdout == "рассылка №2 остановлена, не отправлено: 5 сообщений\n"
    show = gateway(config, "campaigns", "show", "2")
    assert show.stdout.splitlines()[:3] == [
        "рассылка №2 (свет дали / отмена)", "  получатели  5", "  доставлено  0"
    ]
    assert "    отменено  5" in show.stdout
    assert gateway(config, "outage", "restored", "9").returncode == 1


def test_import_invoices_and_debts(tmp_path: Path) -> None:
    config = setup(tmp_path)
    invoices = tmp_path / "inv.csv"
    invoices.write_text(
        "account;period;amount;due_date\n1000000001;2030-11;100,5;2030-12-10\n"
        "1000000002;2030-11;abc;2030-12-10\n",
        encoding="utf-8",
    )
    result = gateway(config, "import", "invoices", str(invoices))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("campaign 1: 1 rows accepted, 1 rejected")
    assert "line 3:" in result.stdout
    debts = tmp_path / "debts.csv"
    debts.write_text("account,amount,restriction_date\n1000000005,10,2030-12-20\n",
                     encoding="utf-8")
    result = gateway(config, "import", "debts", str(debts), "--json")
    assert json.loads(result.stdout) == {"campaign": 2, "accepted": 1, "rejected": []}
    show = json.loads(gateway(config, "campaigns", "show", "2", "--json").stdout)
    assert show["kind"] == "debt"
    missing = gateway(config, "import", "debts", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2


def test_import_invoices_again_after_cancel_says_who_is_not_told_twice(
    tmp_path: Path,
) -> None:
    # The same file after «broadcast cancel» of its campaign queued every invoice
    # again, also to those already sent one (QA pass 2); re-saved with CRLF it was
    # not even recognised as the same file.
    config = setup(tmp_path)
    invoices = tmp_path / "inv.csv"
    invoices.write_text("account;period;amount;due_date\n1000000001;2030-11;100;2030-12-10\n",
                        encoding="utf-8")
    assert gateway(config, "import", "invoices", str(invoices)).returncode == 0
    crlf = tmp_path / "inv-crlf.csv"
    crlf.write_bytes(invoices.read_bytes().replace(b"\n", b"\r\n"))
    again = gateway(config, "import", "invoices", str(crlf))
    assert again.stdout.startswith("this file was imported before as campaign 1"), again.stdout
    db = sqlite3.connect(tmp_path / "gw.db")
    with db:
        db.execute("UPDATE outbox SET status = 'delivered' WHERE campaign_id = 1")
    db.close()
    assert gateway(config, "broadcast", "cancel", "1").returncode == 0
    anew = gateway(config, "import", "invoices", str(invoices))
    assert anew.returncode == 0, anew.stderr
    assert anew.stdout.splitlines()[0] == (
        "campaign 2: 1 rows accepted, 0 rejected, 0 messages queued"
        " (1 not again: sent by the cancelled campaign of this file)"
    )


def test_broadcast_outage_to_nobody_is_refused_unless_allowed(tmp_path: Path) -> None:
    # «Сыктвкар» (a typo at night) recorded an outage for 0 customers with no word of it.
    config = setup(tmp_path)
    typo = [("Сыктвкар" if word == "Сыктывкар" else word) for word in OUTAGE]
    proc = gateway(config, *typo, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "нет ни одного абонента по адресу Сыктвкар, ул Комарова, 1-5" in proc.stderr
    for extra in (["--yes", "--json"], ["--yes"]):  # --yes does not cover it
        proc = gateway(config, *typo, *extra)
        assert proc.returncode == 3, proc.stderr
        assert "--allow-empty" in proc.stderr
    assert json.loads(gateway(config, "outage", "list", "--json").stdout) == {"outages": []}
    proc = gateway(config, *typo, "--allow-empty", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outage"] == 1
    proc = gateway(config, *OUTAGE, "--dry-run")
    assert "нет ни одного" not in proc.stderr


def test_outage_list_extend_cancel_and_campaigns_list(tmp_path: Path) -> None:
    config = setup(tmp_path)
    russian = [w.replace("2030-11-26 18:00", "26.11.2030 18:00") for w in OUTAGE]
    first = gateway(config, *russian, "--houses", "все", "--yes", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["recipients"] == 5  # «все»: the whole street
    second = gateway(config, *OUTAGE, "--houses", "1-2", "--json")
    assert second.returncode == 0, second.stderr
    listed = json.loads(gateway(config, "outage", "list", "--json").stdout)["outages"]
    assert [(o["outage"], o["status"], o["houses"]) for o in listed] == [
        (2, "active", "1-2"), (1, "active", "")
    ]
    assert listed[1]["until"] == "2030-11-26 18:00"
    extended = gateway(config, "outage", "extend", "1", "--until", "27.11.2030 02:00")
    assert extended.returncode == 0, extended.stderr
    assert "продлено до 2030-11-27 02:00" in extended.stdout
    assert "0 получателей" in extended.stdout  # nothing was sent yet: nobody to re-tell
    bad = gateway(config, "outage", "extend", "1", "--until", "когда починим")
    assert (bad.returncode, "ДД.ММ.ГГГГ ЧЧ:ММ" in bad.stderr) == (2, True)
    cancelled = gateway(config, "outage", "cancel", "2")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith("отключение №2 отменено")
    again = gateway(config, "outage", "cancel", "2")
    assert again.returncode == 3
    assert "отключение №2 уже отменено" in again.stderr
    assert gateway(config, "outage", "cancel", "9").returncode == 1
    assert gateway(config, "outage", "extend", "2", "--until", "2030-11-27 10:00"
                   ).returncode == 3
    active = json.loads(gateway(config, "outage", "list", "--active", "--json").stdout)
    assert [o["outage"] for o in active["outages"]] == [1]
    table = gateway(config, "outage", "list")
    assert table.returncode == 0, table.stderr
    assert "2 отключения" in table.stdout
    assert "отменено" in table.stdout
    campaigns = json.loads(gateway(config, "campaigns", "list", "--json").stdout)
    kinds = [(c["campaign"], c["kind"]) for c in campaigns["campaigns"]]
    assert kinds == [(4, "restored"), (3, "outage"), (2, "outage"), (1, "outage")]
    newest = json.loads(gateway(config, "campaigns", "list", "--limit", "1", "--json").stdout)
    assert [c["campaign"] for c in newest["campaigns"]] == [4]
    assert gateway(config, "outage", "list", "--limit", "0").returncode == 2
    table = gateway(config, "campaigns", "list")
    assert "4 рассылки" in table.stdout


def test_broadcast_outage_already_over_warns(tmp_path: Path) -> None:
    # An outage typed with a past --until (the README's dates, a day later) was
    # recorded and its notices silently expired: «campaigns show» said cancelled.
    config = setup(tmp_path)
    past = [w.replace("2030-", "2020-") for w in OUTAGE]
    proc = gateway(config, *past, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "время --until уже прошло" in proc.stderr
    proc = gateway(config, *OUTAGE, "--dry-run")
    assert "уже прошло" not in proc.stderr
