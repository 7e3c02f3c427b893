"""How many SMS parts a text takes: a pure function for campaign previews and for the
rate limiter (an SMSC counts one TPS unit per part, docs/architecture.md «Limits»).

The SMS channel owns the real encoder (`sms_gateway.codec`); `notifications` may not
import a channel, so this is the same rule written small: GSM 7-bit when every character
is in the GSM 03.38 default alphabet or its extension table (which costs two septets),
else UCS2; 160 septets / 70 UTF-16 units in a single SMS, 153 / 67 per part of a
concatenated one (the UDH takes the rest). Parts are cut on characters, never inside an
escape pair or a surrogate pair. `tests/notifications/test_smsparts.py` checks that both
agree on every text.
"""

from __future__ import annotations

from functools import lru_cache

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# 3GPP TS 23.038 §6.2.1: the default alphabet (without the escape 0x1B) and the
# characters of the extension table, which take an escape septet plus their own.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\x0c^{}\\[~]|€")


def _count(widths: list[int], single: int, part: int) -> int:
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > part:
            parts, used = parts + 1, 0
        used += width
    return parts


@lru_cache(maxsize=256)  # the sender asks once per row; a campaign has one text
def sms_parts(text: str) -> int:
    """Parts of `text` as SMS (an empty text still costs one)."""
    if not text:
        return 1
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        return _count([2 if ch in _GSM_EXTENSION else 1 for ch in text], GSM_SINGLE, GSM_PART)
    return _count([2 if ord(ch) > 0xFFFF else 1 for ch in text], UCS2_SINGLE, UCS2_PART)


def sms_encoding(text: str) -> str:
    """`gsm7` or `ucs2`: what a preview shows next to the part count."""
    ok = all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text)
    return "gsm7" if ok else "ucs2"
