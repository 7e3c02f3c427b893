"""Several SMPP binds per instance (docs/interfaces.md §13) over loopback against the
simulator: MO parts and receipts on whichever bind, sends spread over the binds that are
up, a dropped bind, `[smpp] tps_total` over the sum of the binds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bot.app import Gateway
from bot.core import ChannelName, DeliveryState, Inbound, Outbound, SendErrorKind
from bot.settings import SmppSettings, load_settings
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import MemoryFragmentStore
from sms_gateway.limiter import TotalRateLimiter
from sms_gateway.simulator import SmscSimulator

from .conftest import PASSWORD, Journal, smpp_settings

PHONE = "+79121234567"
LONG_RU = "Показания счётчика: день 4521, ночь 1876. Лицевой счёт 1234567890. " * 3


def out(text: str, address: str = PHONE, **kw: object) -> Outbound:
    return Outbound(channel=ChannelName.SMS, address=address, text=text, **kw)  # type: ignore[arg-type]


async def wait_until(smsc: SmscSimulator, predicate: object, within: float = 10.0) -> None:
    """Poll `predicate()` every 20 ms, at most `within` seconds (bounded)."""
    assert callable(predicate)
    for _ in range(int(within / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def both_up(smsc: SmscSimulator, sms: SmsChannel) -> None:
    """Both binds bound, as the simulator and as the channel see it (the channel learns
    it a moment after the simulator answered the bind)."""
    await wait_until(
        smsc, lambda: smsc.bound_count() == 2 and all(s.is_up() for s in sms.sessions)
    )


def channel_for(smsc: SmscSimulator, binds: int = 2, **overrides: object) -> SmsChannel:
    return SmsChannel(
        smpp_settings(smsc.port, binds=binds, **overrides),
        MemoryFragmentStore(),
        send_timeout=5,
        reconnect_min_delay=0.05,
        auth_retry_delay=0.1,
    )


@pytest.fixture
async def two(smsc: SmscSimulator, journal: Journal) -> AsyncIterator[SmsChannel]:
    sms = channel_for(smsc)
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await both_up(smsc, sms)
        yield sms
    finally:
        await sms.stop()


@pytest.mark.parametrize(
    ("values", "field"),
    [({"binds": 0}, "binds"), ({"tps_total": -1}, "tps_total")],
)
def test_settings_refuse(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        SmppSettings.model_validate(values)


def test_settings_defaults() -> None:
    settings = SmppSettings()
    assert (settings.binds, settings.tps_total) == (1, 0)


async def test_each_bind_is_its_own_session_with_its_own_label(
    two: SmsChannel, smsc: SmscSimulator
) -> None:
    assert len(two.sessions) == 2
    assert two.is_up()
    assert smsc.bound_numbers() == [1, 2]
    windows = two.bind_windows()
    assert len(windows) == 2  # one gauge value per bind
    assert all(label.startswith(f"gateway@127.0.0.1:{smsc.port}#") for label in windows)
    assert set(two.bind_states().values()) == {"up"}


@pytest.mark.parametrize("order", [None, [2, 0, 1], [1, 2, 0]])
async def test_parts_of_one_mo_on_different_binds_are_handled_once(
    two: SmsChannel, smsc: SmscSimulator, journal: Journal, order: list[int] | None
) -> None:
    before = dict(smsc.delivers_by_bind)
    statuses = await smsc.inject_mo(PHONE, LONG_RU, order=order)
    assert statuses == [0, 0, 0]
    used = {bind for bind, count in smsc.delivers_by_bind.items() if count > before.get(bind, 0)}
    assert used == {1, 2}  # the three parts came on both binds
    assert [m.text for m in journal.inbound] == [LONG_RU]
    assert journal.inbound[0].meta["parts"] == "3"


async def test_simulator_spread_first_keeps_one_receiver(
    two: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    smsc.spread = "first"
    await smsc.inject_mo(PHONE, LONG_RU)
    assert set(smsc.delivers_by_bind) == {1}
    assert [m.text for m in journal.inbound] == [LONG_RU]


async def test_sends_are_spread_over_the_binds(two: SmsChannel, smsc: SmscSimulator) -> None:
    results = await asyncio.gather(*(two.send(out(f"Сообщение {i}")) for i in range(20)))
    assert all(result.ok for result in results)
    assert set(smsc.submits_by_bind) == {1, 2}
    assert sum(smsc.submits_by_bind.values()) == 20


async def test_receipts_on_the_other_bind_are_aggregated(
    two: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    smsc.receipts = False
    result = await two.send(out(LONG_RU))
    assert result.ok
    assert result.parts == 3
    parts = {part.message_id: part for part in smsc.submitted}
    # every part's receipt on a bind other than the one it was submitted on
    for part_id in result.message_ids:
        part = parts[part_id]
        smsc.send_receipt(part, bind=3 - part.bind)
    await journal.wait(lambda: any(r.extra.get("reported") == "3" for r in journal.reports))
    final = journal.reports[-1]
    assert final.message_id == result.message_ids[0]
    assert final.state is DeliveryState.DELIVERED
    assert final.extra["parts"] == "3"


async def test_a_receipt_read_before_its_submit_resp_is_aggregated(
    two: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    # The submit_sm_resp comes late on one bind, the receipt at once on the other: the
    # receipt waits for the submit under way instead of reporting an unknown part.
    smsc.resp_delay = 0.2
    result = await two.send(out(LONG_RU))
    assert result.ok
    assert set(smsc.receipt_binds) == set(result.message_ids)
    await journal.wait(lambda: any(r.extra.get("reported") == "3" for r in journal.reports))
    assert {r.message_id for r in journal.reports} == {result.message_ids[0]}
    assert journal.reports[-1].state is DeliveryState.DELIVERED


async def test_receipts_at_once_on_any_bind_are_all_aggregated(
    two: SmsChannel, smsc: SmscSimulator, journal: Journal
) -> None:
    # The simulator sends each receipt right after its submit_sm_resp, on the binds in
    # turn: ten long messages at once, each reported under its first part's id only.
    results = await asyncio.gather(*(
        two.send(out(LONG_RU, address=f"+7912765432{i}")) for i in range(10)
    ))
    assert all(result.parts == 3 for result in results)
    firsts = {result.message_ids[0] for result in results}

    def finished() -> set[str]:
        return {r.message_id for r in journal.reports if r.extra.get("reported") == "3"}

    await journal.wait(lambda: finished() == firsts)
    assert {r.message_id for r in journal.reports} == firsts
    assert set(smsc.receipt_binds.values()) == {1, 2}


async def test_a_dropped_bind_rebinds_while_the_other_keeps_sending(
    two: SmsChannel, smsc: SmscSimulator
) -> None:
    smsc.refuse_binds = True  # the dropped bind stays down until we allow it
    dropped = await smsc.drop_bind()
    await wait_until(smsc, lambda: sum(s.is_up() for s in two.sessions) == 1)
    assert two.is_up()
    down = next(s for s in two.sessions if not s.is_up())
    assert sorted(two.bind_states().values())[-1] == "up"
    assert list(two.bind_states().values()).count("up") == 1  # the other: its last error
    before = smsc.accepted
    results = await asyncio.gather(*(two.send(out(f"Пока бинд {i} лежит")) for i in range(6)))
    assert all(result.ok for result in results)
    assert smsc.accepted == before + 6
    assert all(part.bind != dropped for part in smsc.submitted[before:])
    smsc.refuse_binds = False
    await both_up(smsc, two)
    assert dropped not in smsc.bound_numbers()
    assert down.stats.binds == 2  # the dropped bind bound again on its own
    before = smsc.accepted
    results = await asyncio.gather(*(two.send(out(f"После {i}")) for i in range(20)))
    assert all(result.ok for result in results)
    assert len({part.bind for part in smsc.submitted[before:]}) == 2


async def test_a_part_whose_bind_drops_goes_on_the_other_bind(
    two: SmsChannel, smsc: SmscSimulator
) -> None:
    # The next submit is left unanswered and its connection cut; binds are refused from
    # then on, so only the other bind can take the part within the send timeout.
    smsc.refuse_binds = True
    smsc.drop_after_submits = 1
    result = await two.send(out("Отключение электроэнергии 5 декабря с 10:00 до 14:00"))
    assert result.ok
    assert smsc.accepted == 1
    assert smsc.bound_count() == 1
    assert smsc.submitted[0].bind in smsc.bound_numbers()


async def test_every_bind_down_is_the_channel_down_until_one_rebinds(
    smsc: SmscSimulator, journal: Journal
) -> None:
    sms = channel_for(smsc)
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await both_up(smsc, sms)
        smsc.refuse_binds = True
        await smsc.drop_connections()
        await wait_until(smsc, lambda: not sms.is_up())
        states = sms.bind_states()
        assert all(state != "up" for state in states.values())
        sms.send_timeout = 0.3
        failed = await sms.send(out("Никто не слушает"))
        assert failed.error is not None
        assert failed.error.kind is SendErrorKind.CONNECTION  # retried by the outbox
        assert "not bound" in failed.error.detail
        smsc.refuse_binds = False
        await wait_until(smsc, sms.is_up)
    finally:
        await sms.stop()


async def test_tps_total_caps_the_sum_over_the_binds(
    smsc: SmscSimulator, journal: Journal
) -> None:
    # tps 1000 on each bind, 10/s for the instance: 21 parts need 2 s of the
    # simulator's own clock; the binds alone would allow them in a blink.
    sms = channel_for(smsc, tps=1000, tps_total=10)
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await both_up(smsc, sms)
        results = await asyncio.gather(*(sms.send(out(f"Рассылка {i}")) for i in range(21)))
        assert all(result.ok for result in results)
        assert set(smsc.submits_by_bind) == {1, 2}  # both binds sent
        times = sorted(part.received_at for part in smsc.submitted)
        span = (times[-1] - times[0]).total_seconds()
        assert span >= 1.5  # 20 intervals of 0.1 s; 1.5 leaves room for a late first one
        assert isinstance(sms.limiter, TotalRateLimiter)
        assert sms.limiter.granted == 21
    finally:
        await sms.stop()


async def test_share_hook_divides_the_grant(smsc: SmscSimulator, journal: Journal) -> None:
    sms = SmsChannel(
        smpp_settings(smsc.port, binds=2, tps_total=40),
        MemoryFragmentStore(),
        share=lambda: 0.25,  # four live instances
    )
    assert isinstance(sms.limiter, TotalRateLimiter)
    assert sms.limiter.rate() == 10
    alone = SmsChannel(smpp_settings(smsc.port), MemoryFragmentStore()).limiter
    assert isinstance(alone, TotalRateLimiter)
    assert alone.rate() is None


class CountingGate:
    """A stand-in for a limiter the instances share: counts what it lets through."""

    enabled = True

    def __init__(self) -> None:
        self.passed = 0

    async def acquire(self) -> None:
        self.passed += 1


async def test_a_shared_limiter_replaces_the_instance_one(
    smsc: SmscSimulator, journal: Journal
) -> None:
    gate = CountingGate()
    sms = SmsChannel(
        smpp_settings(smsc.port, binds=2, tps_total=5), MemoryFragmentStore(), limiter=gate
    )
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        await both_up(smsc, sms)
        smsc.throttle_after_submits = 2  # part 3 is throttled once, then let through
        throttled = asyncio.create_task(sms.send(out(LONG_RU)))
        await wait_until(smsc, lambda: smsc.throttled >= 1)
        smsc.throttle_after_submits = None
        result = await throttled
        assert result.ok
        assert smsc.accepted == 3
        # every submit_sm on the wire went through the gate, the throttled one too
        assert gate.passed == 3 + smsc.throttled
    finally:
        await sms.stop()


async def test_password_never_in_bind_states(two: SmsChannel) -> None:
    assert PASSWORD not in repr(two.bind_states())


async def test_gateway_with_two_binds_answers_and_shows_each_bind(tmp_path: Path) -> None:
    # The whole gateway in-process with its development SMSC: a long MO whose parts
    # come on both binds is answered once; /metrics and /healthz name each bind.
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        '[smpp]\nport = 0\nbinds = 2\n[api]\nport = 0\ntoken = "t0ken"\n',
        encoding="utf-8",
    )
    async with Gateway(load_settings(cfg)) as gw:
        smsc = gw.simulator
        assert smsc is not None
        sms = gw.channels[ChannelName.SMS.value]
        assert isinstance(sms, SmsChannel)
        await both_up(smsc, sms)
        text = "ЛС 1234567890 день 4521 ночь 1876. " + "Передаю показания счётчика. " * 6
        replies = await smsc.inject_and_wait(PHONE, "7555", text, timeout=10, quiet=0.5)
        assert len(replies) == 1
        assert set(smsc.delivers_by_bind) == {1, 2}
        families = text_string_to_metric_families((await gw.metrics_text()).decode())
        binds = sorted(
            sample.labels["bind"]
            for family in families
            if family.name == "gateway_smpp_window_in_use"
            for sample in family.samples
        )
        assert binds == [f"gateway@127.0.0.1:{smsc.port}#1", f"gateway@127.0.0.1:{smsc.port}#2"]
        healthy, body = await gw.health()
        assert healthy
        assert list(body["smpp_binds"].values()) == ["up", "up"]


@pytest.mark.parametrize("text", ["ДА", LONG_RU])
async def test_an_mo_redelivered_on_the_other_bind_while_in_hand_is_handled_once(
    smsc: SmscSimulator, text: str
) -> None:
    # Bind A drops while the MO it carried is being journaled (its deliver_sm_resp never
    # went out); the SMSC sends it again at once on bind B. The copy is the same message
    # (same external id), not the customer writing «ДА» a second time.
    journal = Journal()
    release = asyncio.Event()
    calls: list[Inbound] = []

    async def slow_inbound(message: Inbound) -> bool:
        calls.append(message)
        if len(calls) == 1:
            await asyncio.wait_for(release.wait(), 10)
        return await journal.on_inbound(message)

    sms = channel_for(smsc)
    await sms.start(slow_inbound, journal.on_report)
    try:
        await both_up(smsc, sms)
        smsc.redeliver_at_once = True
        smsc.refuse_binds = True  # the dropped bind stays down
        delivered = asyncio.create_task(smsc.inject_mo(PHONE, text, wait=10))
        await wait_until(smsc, lambda: len(calls) == 1)
        # the bind whose deliver_sm waits for its response (the other parts' are out)
        await wait_until(smsc, lambda: len(smsc.unacked_binds()) == 1)
        await smsc.drop_bind(smsc.unacked_binds()[0])
        # The copy is answered while the first is still in hand: a single SMS is handed
        # over again (and must get the same id); a long one's last part finds the
        # message claimed and is only acknowledged.
        assert set(await asyncio.wait_for(delivered, 10)) == {0}
        assert len(calls) == (2 if text == "ДА" else 1)
        release.set()
        await wait_until(smsc, lambda: sms._inflight == {})  # noqa: SLF001 - first done
        assert [m.text for m in journal.inbound] == [text]
        assert len({call.external_id for call in calls}) == 1
    finally:
        release.set()
        await sms.stop()
