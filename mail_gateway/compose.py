"""Outgoing mail: the thread reference and the MIME message of a reply. Pure functions.

A reply keeps the customer's thread (RFC 5322 §3.6.4: `In-Reply-To` is the mail
answered, `References` its references plus its id; the subject «Re: …»). The thread
reference travels opaque through the engine and the outbox (`Inbound.to` →
`Outbound.thread`, an appeal's `reply_source`), so a reply threads after a restart and
from any instance; only this module reads it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

# Mail clients cut long References themselves; ten keep the thread (RFC 5322 §3.6.4
# allows trimming all but the first and the last few).
MAX_REFERENCES = 10
MAX_SUBJECT = 200
DEFAULT_SUBJECT = "Ответ на ваше письмо"


@dataclass(frozen=True, slots=True)
class Thread:
    """The customer's mail a reply answers."""

    message_id: str
    subject: str = ""
    references: tuple[str, ...] = ()

    def encode(self) -> str:
        """A compact JSON string (what envelopes and the outbox carry)."""
        refs = list(self.references[-MAX_REFERENCES:])
        return json.dumps(
            {"id": self.message_id, "s": self.subject[:MAX_SUBJECT], "r": refs},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> Thread | None:
        """The reference back, or None for an empty or foreign one (never raises)."""
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return cls(text) if text.startswith("<") and text.endswith(">") else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        refs = data.get("r")
        return cls(
            message_id=data["id"],
            subject=str(data.get("s") or ""),
            references=tuple(str(r) for r in refs) if isinstance(refs, list) else (),
        )


_PREFIX = re.compile(r"^\s*((re|fwd?|ответ|отв)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def reply_subject(subject: str, default: str = DEFAULT_SUBJECT) -> str:
    """«Re: » once before the original subject (never «Re: Re: Re:»)."""
    base = _PREFIX.sub("", " ".join(subject.split()))[:MAX_SUBJECT]
    return f"Re: {base}" if base else default


NOTICE_SUBJECT = 78


def notice_subject(text: str) -> str:
    """A notice's subject: its first sentence, cut on a word to fit one line."""
    first = " ".join(text.strip().split("\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0].rstrip(".")
    if len(sentence) <= NOTICE_SUBJECT:
        return sentence
    cut = sentence[: NOTICE_SUBJECT - 1].rsplit(" ", 1)[0].rstrip(",;:—- ")
    return f"{cut}…"


def new_message_id(address: str) -> str:
    """A Message-ID on our own domain (the part of `address` after @)."""
    domain = address.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def compose(
    *,
    sender: str,
    to: str,
    text: str,
    thread: Thread | None,
    message_id: str,
    now: datetime,
    subject: str = "",
    company: str = "",
) -> EmailMessage:
    """The mail to send: plain UTF-8 text, threading headers when it answers a mail,
    and `Auto-Submitted: auto-replied` (RFC 3834 §5) so that auto-responders on the
    customer's side do not answer it (no mail loops)."""
    msg = EmailMessage()
    msg["From"] = f"{company} <{sender}>" if company else sender
    msg["To"] = to
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(now)
    if thread is not None:
        msg["Subject"] = reply_subject(thread.subject)
        msg["In-Reply-To"] = thread.message_id
        refs = [r for r in thread.references if r != thread.message_id]
        msg["References"] = " ".join([*refs[-(MAX_REFERENCES - 1):], thread.message_id])
        msg["Auto-Submitted"] = "auto-replied"
    else:
        msg["Subject"] = subject or notice_subject(text) or company or DEFAULT_SUBJECT
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, charset="utf-8")
    return msg
