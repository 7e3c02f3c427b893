"""Phone numbers from the billing registry → E.164, fast.

The registry carries about a million phone numbers; `phonenumbers.parse` costs tens of
microseconds each, which dominates an import. Almost all of them are Russian numbers in
one of three shapes (`+7 912 123-45-67`, `8 (912) 123-45-67`, `9121234567`), whose E.164
form is plain digit shuffling. Those take the fast path here; anything else goes through
phonenumbers (possible number, the region's national prefix). This is the one phone
normaliser of the project: `bot.core.normalize_phone` delegates here (storage may not
import `bot`, so the dependency runs that way).
"""

from __future__ import annotations

import re

import phonenumbers

# Characters people put inside a phone number. Anything else (letters, «доб.», «тел:»)
# sends the text to phonenumbers, which knows extensions and vanity numbers.
_PUNCT = re.compile(r"[\s\-().\u00a0]+")


def to_e164(raw: str, region: str = "RU") -> str | None:
    """A phone number in any common notation → E.164 (`+79121234567`), or None.

    Fast for the common Russian forms; everything else goes through phonenumbers.
    """
    text = raw.strip()
    if not text:
        return None
    if region == "RU":
        bare = _PUNCT.sub("", text)
        plus = bare.startswith("+")
        digits = bare[1:] if plus else bare
        if digits.isdigit() and digits.isascii():
            count = len(digits)
            # «8 10 …» is the Russian international prefix, not a national number.
            if count == 11 and (
                digits[0] == "7" or (digits[0] == "8" and not plus and digits[1:3] != "10")
            ):
                return "+7" + digits[1:]
            if count == 10 and digits[0] == "9" and not plus:
                return "+7" + digits
    return _slow(text, region)


def _slow(text: str, region: str) -> str | None:
    # SMSCs send MSISDNs without «+»
    # («79121234567»), which phonenumbers would read as a national number.
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and len(digits) == 11 and digits[0] == "7":
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
