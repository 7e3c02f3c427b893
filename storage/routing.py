"""Where a notice to a person goes (docs/interfaces.md §14, docs/architecture.md Notifications):
one rule, in one place, as a Python function (billing notices, built row by row) and the
same rule as SQL (audience campaigns, built by one `INSERT … SELECT`).

The rule: the channel the person chose («уведомления по почте»), if it runs; else the
messenger they are linked on (Telegram); else SMS. Notices the law requires by SMS (debt,
restriction) go by SMS always, and also to the chosen channel. A channel that fails for
good falls back to SMS in the sender.

A new channel (MAX) is in `CHOOSABLE` and `MESSENGERS` already: it takes part once it
runs (`running`) and its contacts are linked to phones.
"""

from __future__ import annotations

from dataclasses import dataclass

SMS = "sms"
# Channels a person may choose besides SMS (the `notice_channels.channel` values).
CHOOSABLE = ("telegram", "max", "email")
# Channels a person links to their phone and writes from: without a choice, notices go
# to the one they wrote from last.
MESSENGERS = ("telegram", "max")

Target = tuple[str, str]  # (channel, address)


@dataclass(frozen=True, slots=True)
class Person:
    """What routing knows of one recipient."""

    phone: str
    chosen: Target | None = None  # from notice_channels
    # A linked, unblocked messenger contact; the caller gives it only while its channel
    # runs (and not for notices the law requires by SMS).
    messenger: Target | None = None


def route(person: Person, running: frozenset[str], *, required: bool = False) -> list[Target]:
    """Targets for one notice to one person, first the main one. `running`: the
    non-SMS channels that run now; `required`: a notice the law requires by SMS."""
    sms = (SMS, person.phone)
    chosen = person.chosen
    if chosen is not None and chosen[0] != SMS and chosen[0] not in running:
        chosen = None  # chose a channel that is off now: as if no choice
    if required:
        return [sms] if chosen is None or chosen[0] == SMS else [sms, chosen]
    if chosen is not None:
        return [sms] if chosen[0] == SMS else [chosen]
    if person.messenger is not None:  # given only while its channel runs
        return [person.messenger]
    return [sms]


def messengers(running: frozenset[str], *, telegram: bool) -> tuple[str, ...]:
    """The messenger channels notices may go to: Telegram when the routing allows it
    (`telegram`), others while they run."""
    return tuple(m for m in MESSENGERS if (telegram if m == "telegram" else m in running))


def route_sql(running: frozenset[str]) -> tuple[str, str]:
    """`route` (not `required`) as SQL over a row with `phone`, the chosen `nc_channel`
    and `nc_address` (NULL: no choice), and the person's messenger contact `m_channel`,
    `m_address` (NULL: none). Returns the (channel, address) expressions."""
    names = sorted(c for c in running if c in CHOOSABLE)  # a fixed set: safe to inline
    chosen = f"nc_channel IN ({', '.join(repr(n) for n in names)})" if names else "0 = 1"
    channel = (
        f"CASE WHEN {chosen} THEN nc_channel WHEN nc_channel = '{SMS}' THEN '{SMS}'"
        f" WHEN m_channel IS NOT NULL THEN m_channel ELSE '{SMS}' END"
    )
    address = (
        f"CASE WHEN {chosen} THEN nc_address WHEN nc_channel = '{SMS}' THEN phone"
        f" ELSE coalesce(m_address, phone) END"
    )
    return channel, address
