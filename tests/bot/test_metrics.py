"""`GET /metrics` (docs/interfaces.md §13) on the whole gateway in-process: an MO through
the development SMSC over a real socket is counted in, parsed, answered, and its
receipt's lag observed; state gauges are read from the store at scrape time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Gateway
from bot.core import SendErrorKind, SendResult
from bot.metrics import Metrics, Snapshot, outcome_of
from bot.settings import load_settings
from storage.outbox import PRIORITY_BULK, NewMessage

TOKEN = "metrics-t0ken"
INSTANCE = "test-node:1"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[service]\ninstance_id = "{INSTANCE}"\n'
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        f'[smpp]\nport = 0\n[api]\nport = 0\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    async with Gateway(load_settings(cfg)) as gw:
        yield gw


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _get(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset({"instance": INSTANCE, **labels}.items())))


async def _scrape(gw: Gateway, token: str | None = TOKEN) -> tuple[int, str, str]:
    assert gw.api is not None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{gw.api.port}/metrics", headers=headers
    ) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def _scrape_until(gw: Gateway, name: str, **labels: str) -> Samples:
    """Scrape until `name{labels}` has a value ≥ 1 (the sender and the receipt run in
    their own tasks); bounded: 200 tries."""
    for _ in range(200):
        _, _, text = await _scrape(gw)
        samples = _samples(text)
        if (_get(samples, name, **labels) or 0) >= 1:
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}{labels} never reached 1")


async def test_metrics_need_the_bearer_token(gateway: Gateway) -> None:
    assert (await _scrape(gateway, token=None))[0] == 401
    assert (await _scrape(gateway, token="wrong"))[0] == 401
    status, content_type, text = await _scrape(gateway)
    assert status == 200
    assert content_type.startswith("text/plain")
    # every §13 family is there before the first event (the inbox one comes with the
    # inbox store), each labelled with the instance
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names >= {
        "gateway_inbound", "gateway_outbound", "gateway_outbox_depth",
        "gateway_send_seconds", "gateway_smpp_window_in_use",
        "gateway_receipt_lag_seconds", "gateway_parse", "gateway_appeals_overdue",
    }
    samples = _samples(text)
    assert all(dict(labels)["instance"] == INSTANCE for _, labels in samples)
    for priority in ("reply", "urgent", "bulk"):
        assert _get(samples, "gateway_outbox_depth", priority=priority) == 0
    binds = [dict(labels)["bind"] for name, labels in samples
             if name == "gateway_smpp_window_in_use"]
    assert len(binds) == 1
    assert binds[0].startswith("gateway@127.0.0.1:")


async def test_an_sms_is_counted_in_parsed_sent_and_receipted(gateway: Gateway) -> None:
    assert gateway.simulator is not None
    replies = await gateway.simulator.inject_and_wait(
        "+79121234567", "7555", "ЛС 1234567890 день 4521 ночь 1876", timeout=10
    )
    assert replies
    samples = await _scrape_until(gateway, "gateway_receipt_lag_seconds_count")
    assert _get(samples, "gateway_inbound_total", channel="sms") == 1
    assert _get(samples, "gateway_parse_total", intent="readings") == 1
    assert _get(samples, "gateway_outbound_total", channel="sms", outcome="sent") == 1
    assert _get(samples, "gateway_send_seconds_count", channel="sms") == 1
    assert _get(samples, "gateway_receipt_lag_seconds_count") == 1


async def test_state_gauges_are_read_from_the_store_at_scrape_time(gateway: Gateway) -> None:
    store = gateway.store
    assert store is not None
    now = datetime.now(UTC)
    # a bulk notice held back until tomorrow, and an appeal a day overdue
    await store.outbox.enqueue(NewMessage(
        channel="sms", address="+79120000001", payload="{}", priority=PRIORITY_BULK,
        not_before=now + timedelta(days=1), status="deferred",
    ))
    contact = await store.contacts.resolve("sms", "+79121234567", phone="+79121234567")
    await store.appeals.create(
        contact_id=contact.id, channel="sms", address="+79121234567", reply_source=None,
        account=None, category="meter", text="счётчик сгорел",
        created_at=now - timedelta(days=5), due_at=now - timedelta(days=1),
    )
    samples = _samples((await _scrape(gateway))[2])
    assert _get(samples, "gateway_outbox_depth", priority="bulk") == 1
    assert _get(samples, "gateway_appeals_overdue") == 1
    # docs/interfaces.md §13: the one instance of a SQLite store leads, alone
    assert _get(samples, "gateway_leader") == 1
    assert _get(samples, "gateway_instances_live") == 1


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (SendResult(message_ids=("1",)), "sent"),
        (SendResult.failed(SendErrorKind.THROTTLED), "throttled"),
        (SendResult.failed(SendErrorKind.CONNECTION), "retried"),
        (SendResult.failed(SendErrorKind.TEMPORARY), "retried"),
        (SendResult.failed(SendErrorKind.BLOCKED), "failed"),
        (SendResult.failed(SendErrorKind.INVALID_ADDRESS), "failed"),
        (SendResult.failed(SendErrorKind.REJECTED), "failed"),
    ],
)
def test_outcome_of_a_send(result: SendResult, outcome: str) -> None:
    assert outcome_of(result) == outcome


def test_each_gateway_has_its_own_registry() -> None:
    # tests start many gateways in one process: counts must never leak between them
    first, second = Metrics("a:1"), Metrics("b:1")
    first.inbound("sms")
    first.parsed("readings")
    empty = Snapshot(outbox_depth={}, appeals_overdue=0)
    assert b'gateway_inbound_total{channel="sms",instance="a:1"} 1.0' in first.render(empty)
    second_text = second.render(empty).decode()
    assert "gateway_inbound_total{" not in second_text
    assert "a:1" not in second_text


def test_leadership_gauges_follow_the_snapshot() -> None:
    metrics = Metrics("a:1")
    assert b"gateway_leader" not in metrics.render(Snapshot({}, 0))
    text = metrics.render(Snapshot({}, 0, leader=False, live_instances=3))
    assert b'gateway_leader{instance="a:1"} 0.0' in text
    assert b'gateway_instances_live{instance="a:1"} 3.0' in text
    assert b'gateway_leader{instance="a:1"} 1.0' in metrics.render(Snapshot({}, 0, leader=True))


def test_inbox_open_appears_once_the_inbox_store_answers() -> None:
    metrics = Metrics("a:1")
    assert b"gateway_inbox_open" not in metrics.render(Snapshot({}, 0))
    text = metrics.render(Snapshot({}, 0, inbox_open=3))
    assert b'gateway_inbox_open{instance="a:1"} 3.0' in text


def test_instance_defaults_to_host_and_api_port(tmp_path: Path) -> None:
    import socket

    cfg = tmp_path / "s.toml"
    cfg.write_text("[api]\nport = 8089\n", encoding="utf-8")
    assert load_settings(cfg).instance == f"{socket.gethostname()}:8089"
    cfg.write_text('[service]\ninstance_id = "node-a"\n', encoding="utf-8")
    assert load_settings(cfg).instance == "node-a"


async def test_a_store_that_cannot_be_read_gives_503_not_500(gateway: Gateway) -> None:
    assert gateway.store is not None
    await gateway.store.db.close()
    status, _, text = await _scrape(gateway)
    assert status == 503
    assert "store" in text


async def test_a_send_the_smsc_refuses_is_counted_failed(gateway: Gateway) -> None:
    assert gateway.simulator is not None
    gateway.simulator.submit_status = 0x0B  # ESME_RINVDSTADR: permanent, not retried
    await gateway.simulator.inject_mo("+79121234567", "баланс")
    samples = await _scrape_until(
        gateway, "gateway_outbound_total", channel="sms", outcome="failed"
    )
    assert _get(samples, "gateway_outbound_total", channel="sms", outcome="sent") is None
    assert _get(samples, "gateway_send_seconds_count", channel="sms") == 1


async def test_healthz_names_the_instance(gateway: Gateway) -> None:
    assert gateway.api is not None
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{gateway.api.port}/healthz"
    ) as resp:
        assert (await resp.json())["instance"] == INSTANCE
