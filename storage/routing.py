"""Where a notice to a person goes (docs/interfaces.md §14, design.md Notifications):
one rule, in one place, as a Python function (billing notices, built row by row) and the
same rule as SQL (audience campaigns, built by one `INSERT … SELECT`).

The rule: the channel the person chose («уведомления по почте»), if it runs; else the
messenger they are linked on (Telegram); else SMS. Notices the law requires by SMS (debt,
restriction) go by SMS always, and also to the chosen channel. A channel that fails for
good falls back to SMS in the sender.

A new channel (MAX) extends `CHOOSABLE` and, once it links people, `_messenger` below.
"""

from __future__ import annotations

from dataclasses import dataclass

SMS = "sms"
# Channels a person may choose besides SMS (the `notice_channels.channel` values).
CHOOSABLE = ("telegram", "max", "email")

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


def route_sql(running: frozenset[str], messenger: str) -> tuple[str, str]:
    """`route` (not `required`) as SQL over a row with `phone`, the chosen `nc_channel`
    and `nc_address` (NULL: no choice), and `messenger`, an SQL expression for the
    address of the person's linked messenger contact (NULL: none), on the channel
    `telegram`. Returns the (channel, address) expressions."""
    names = sorted(c for c in running if c in CHOOSABLE)  # a fixed set: safe to inline
    chosen = f"nc_channel IN ({', '.join(repr(n) for n in names)})" if names else "0 = 1"
    channel = (
        f"CASE WHEN {chosen} THEN nc_channel WHEN nc_channel = '{SMS}' THEN '{SMS}'"
        f" WHEN {messenger} IS NOT NULL THEN 'telegram' ELSE '{SMS}' END"
    )
    address = (
        f"CASE WHEN {chosen} THEN nc_address WHEN nc_channel = '{SMS}' THEN phone"
        f" ELSE coalesce({messenger}, phone) END"
    )
    return channel, address
