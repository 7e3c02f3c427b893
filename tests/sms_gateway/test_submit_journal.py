"""The SMS channel records each part in the submit journal before the part goes on
the wire, and its message id when the SMSC answers; a resumed message sends only the
parts the journal does not know as accepted, with the same concatenation reference.
Against the development SMSC over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.core import ChannelName, Outbound, Resume, SubmitJournal
from sms_gateway import codec
from sms_gateway.channel import SmsChannel
from sms_gateway.fragments import MemoryFragmentStore
from sms_gateway.simulator import SmscSimulator

from .conftest import Journal, smpp_settings

PHONE = "+79121234567"
LONG = "Уведомление об отключении электроэнергии. " * 4  # several UCS2 parts


@dataclass
class RecordingJournal:
    """A `SubmitJournal` that notes, at each call, how many parts the SMSC had."""

    smsc: SmscSimulator
    events: list[tuple[str, int, int, str | None]] = field(default_factory=list)

    async def submitting(self, ref: str, part: int, parts: int, reference: int) -> None:
        self.events.append(("submitting", part, len(self.smsc.submitted), None))

    def submitted(self, ref: str, part: int, message_id: str | None, unanswered: int) -> None:
        self.events.append(("submitted", part, len(self.smsc.submitted), message_id))


@pytest.fixture
async def journaled(
    smsc: SmscSimulator, journal: Journal
) -> AsyncIterator[tuple[SmsChannel, RecordingJournal]]:
    record = RecordingJournal(smsc)
    port: SubmitJournal = record
    sms = SmsChannel(
        smpp_settings(smsc.port), MemoryFragmentStore(), send_timeout=10,
        reconnect_min_delay=0.05, journal=port,
    )
    await sms.start(journal.on_inbound, journal.on_report)
    try:
        yield sms, record
    finally:
        await sms.stop()


def concat_of(smsc: SmscSimulator) -> list[tuple[int, int]]:
    """(reference, part) of every part the SMSC accepted, in order."""
    found = []
    for part in smsc.submitted:
        concat, _ = codec.parse_udh(part.sm.payload())
        assert concat is not None
        found.append((concat.ref, concat.seq))
    return found


async def test_each_part_is_recorded_before_the_wire_and_answered_after(
    journaled: tuple[SmsChannel, RecordingJournal], smsc: SmscSimulator
) -> None:
    sms, record = journaled
    result = await sms.send(
        Outbound(channel=ChannelName.SMS, address=PHONE, text=LONG, ref="7")
    )
    assert result.ok
    assert result.parts >= 3
    expected = []
    for part, message_id in enumerate(result.message_ids, 1):
        # Recorded while the SMSC had only the earlier parts; answered once it had it.
        expected += [("submitting", part, part - 1, None), ("submitted", part, part, message_id)]
    assert record.events == expected


@pytest.mark.parametrize(
    ("accepted", "resent"),
    [
        ({1: "A1"}, [2, 3]),  # killed after part 1's answer: parts 2 and 3 go
        ({1: "A1", 3: "A3"}, [2]),  # part 2 was unanswered: only it goes again
        ({1: "A1", 2: "A2", 3: "A3"}, []),  # all answered: nothing goes, the ids stand
        ({}, [1, 2, 3]),  # nothing answered
    ],
)
async def test_a_resumed_message_sends_only_what_the_journal_lacks(
    journaled: tuple[SmsChannel, RecordingJournal],
    smsc: SmscSimulator,
    accepted: dict[int, str],
    resent: list[int],
) -> None:
    sms, record = journaled
    text = "Ж" * 150  # three UCS2 parts
    outbound = Outbound(
        channel=ChannelName.SMS, address=PHONE, text=text, ref="9",
        resume=Resume(reference=77, accepted=accepted),
    )
    result = await sms.send(outbound)
    assert result.ok
    assert result.parts == 3
    assert concat_of(smsc) == [(77, part) for part in resent]
    for part, message_id in accepted.items():
        assert result.message_ids[part - 1] == message_id
    assert [part for kind, part, _, _ in record.events if kind == "submitting"] == resent
