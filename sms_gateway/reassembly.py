"""Reassembly of concatenated MO messages: UDH (8- and 16-bit references, TS 23.040
§9.2.3.24.1 / .8), SAR TLVs (SMPP 3.4 §5.3.2.22–24) or one message_payload TLV.

Parts may come in any order, twice, or across a restart: each is committed to the
`FragmentStore` before it is acknowledged, and the message is assembled from the store
once every part is there. A message still incomplete after `reassembly_timeout` is
handled with what arrived (`expired`), rather than waiting forever for a lost part.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime

from . import codec
from .fragments import Fragment, FragmentStore
from .pdu import (
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    ShortMessage,
)


def split_concat(sm: ShortMessage) -> tuple[codec.Concat | None, bytes]:
    """(concatenation info or None, message octets without UDH) of one deliver_sm.

    message_payload wins over short_message; a UDH is honoured when esm_class has UDHI;
    SAR TLVs are used when there is no UDH concatenation element.
    """
    data = sm.payload()
    concat: codec.Concat | None = None
    if sm.esm_class & codec.ESM_UDHI:
        concat, data = codec.parse_udh(data)
    if concat is None:
        ref = sm.tlv_int(TLV_SAR_MSG_REF_NUM)
        total = sm.tlv_int(TLV_SAR_TOTAL_SEGMENTS)
        seq = sm.tlv_int(TLV_SAR_SEGMENT_SEQNUM)
        if ref is not None and total and seq and 1 <= seq <= total:
            concat = codec.Concat(ref, total, seq, wide=True)
    if concat is not None and concat.total <= 1:
        concat = None
    return concat, data


def fragment_key(source: str, destination: str, concat: codec.Concat) -> str:
    """One message's key: sender, recipient, reference (with its width), total."""
    width = 16 if concat.wide else 8
    return f"{source}|{destination}|{width}:{concat.ref}|{concat.total}"


def part_digest(fragment: Fragment) -> str:
    """Identity of one received part (to spot a redelivered part of a handled message)."""
    raw = f"{fragment.key}|{fragment.seq}|".encode() + fragment.data
    return "part:" + hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Assembled:
    """A reassembled (or, after the timeout, partial) message."""

    key: str
    text: str
    source: str
    destination: str
    received_at: datetime  # of the first part
    digest: str  # source + reference + parts: stable for a redelivery
    parts_received: int
    total: int
    part_digests: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.parts_received == self.total


def assemble(parts: list[Fragment]) -> Assembled:
    """Join parts (by sequence number) and decode them with their data_coding."""
    parts = sorted(parts, key=lambda fragment: fragment.seq)
    first = parts[0]
    data = b"".join(fragment.data for fragment in parts)
    hasher = hashlib.sha256(f"mp|{first.key}".encode())
    for fragment in parts:
        hasher.update(f"|{fragment.seq}:".encode() + fragment.data)
    return Assembled(
        key=first.key,
        text=codec.decode_text(first.data_coding, data),
        source=first.source,
        destination=first.destination,
        received_at=min(fragment.received_at for fragment in parts),
        digest=hasher.hexdigest()[:32],
        parts_received=len(parts),
        total=first.total,
        part_digests=tuple(part_digest(fragment) for fragment in parts),
    )


class Reassembler:
    """Collects parts in a `FragmentStore`; hands out each complete message once.

    Two parts of one message may be handled concurrently (each deliver_sm is its own
    task), so adding a part and checking completeness happen under a per-message lock,
    and the complete message is *claimed* by one caller until `finish` or `release`.
    """

    def __init__(self, store: FragmentStore) -> None:
        self.store = store
        self._locks: dict[str, asyncio.Lock] = {}
        self._claimed: set[str] = set()

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def seen(self, fragment: Fragment) -> bool:
        """True when this exact part belonged to a message already handled."""
        return await self.store.seen_count(part_digest(fragment)) > 0

    async def add(self, fragment: Fragment) -> Assembled | None:
        """Store the part (durably) and return the message when this completes it and
        nobody else claimed it. A duplicate part still triggers the check: after a
        failed hand-over the SMSC redelivers the last part, and that must complete it."""
        async with self._lock(fragment.key):
            await self.store.add(fragment)
            parts = await self.store.parts(fragment.key)
            if len({part.seq for part in parts}) < fragment.total:
                return None
            if fragment.key in self._claimed:
                return None
            self._claimed.add(fragment.key)
        return assemble(parts)

    def release(self, key: str) -> None:
        """Give up a claim (the hand-over failed); the parts stay stored."""
        self._claimed.discard(key)
        self._locks.pop(key, None)

    async def finish(self, message: Assembled, at: datetime) -> None:
        """The message was handled: remember its parts, then delete them."""
        await self.store.note_seen(message.part_digests, at)
        await self.store.delete(message.key)
        self.release(message.key)

    async def expired(self, older_than: datetime) -> list[Assembled]:
        """Messages (claimed now) whose first part arrived before `older_than`, from
        whatever parts arrived."""
        out: list[Assembled] = []
        for key in await self.store.expired(older_than):
            async with self._lock(key):
                if key in self._claimed:
                    continue
                parts = await self.store.parts(key)
                if not parts:
                    continue
                self._claimed.add(key)
            out.append(assemble(parts))
        return out
