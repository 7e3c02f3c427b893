"""An inbound e-mail as the gateway reads it. Pure functions, no I/O.

`read_mail` turns the bytes the company mail server relayed into a `Mail` (who wrote,
what they wrote with quotes and signatures cut off, the thread it belongs to, whether it
is an automatic message that must not be answered, whether our relay vouches for the
sender) or an `Unreadable` with the reason. It never raises: a malformed message is a
value, and the channel still answers the relay (the mail is journaled, staff see it).
"""

from __future__ import annotations

import codecs
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses
from html.parser import HTMLParser

# Mail clients write koi8-r, windows-1251 and utf-8 in Russia; anything unknown is read
# as utf-8 first and windows-1251 second (an old Outlook that names no charset).
_FALLBACK_CHARSETS = ("utf-8", "cp1251")
# A body longer than this is cut before quote stripping (the engine treats over-long
# texts as a question for people; nobody writes readings in a megabyte).
MAX_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class Mail:
    """A readable inbound mail."""

    sender: str  # the From address, lower case
    message_id: str  # "<...>"; a digest of the bytes when the mail has none
    subject: str
    references: tuple[str, ...]  # the thread before this mail (References, In-Reply-To)
    text: str  # what the customer wrote: quoted replies and signatures removed
    attachments: tuple[str, ...]  # file names (acknowledged, not parsed)
    auto: str | None  # why the mail is automatic (never answered), None for a person's
    authenticated: bool  # our relay says dmarc=pass for the From domain


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A mail that could not be read; `sender` and `message_id` when they could."""

    reason: str
    sender: str | None
    message_id: str
    auto: str | None = None  # as in `Mail`: an automatic mail is never answered


def read_mail(
    raw: bytes, *, mail_from: str, our_address: str, authserv_id: str
) -> Mail | Unreadable:
    """Read one relayed message. `mail_from` is the SMTP envelope sender (empty for a
    bounce); `authserv_id` names the relay whose Authentication-Results count."""
    digest = "<" + hashlib.sha256(raw).hexdigest()[:32] + "@no-message-id>"
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is the last resort
        auto = "bounce (empty return path)" if not mail_from.strip("<> ") else None
        return Unreadable(f"not a MIME message: {type(exc).__name__}", None, digest, auto)
    message_id = _message_id(msg) or digest
    auto = auto_reason(msg, mail_from, our_address)
    sender = from_address(msg)
    if sender is None:
        return Unreadable("no readable From address", None, message_id, auto)
    try:
        text, attachments = body_text(msg)
    except Exception as exc:  # a broken part: say so, do not guess
        reason = f"broken MIME body: {type(exc).__name__}"
        return Unreadable(reason, sender, message_id, auto)
    subject = _header(msg, "Subject")
    text = strip_quoted(text[:MAX_TEXT])
    if not text.strip() and subject and not _is_reply_subject(subject):
        # «Показания 1234567890 4521» in the subject and nothing in the body.
        text = subject.strip()
    return Mail(
        sender=sender,
        message_id=message_id,
        subject=subject,
        references=_references(msg),
        text=text,
        attachments=attachments,
        auto=auto,
        authenticated=dmarc_pass(msg, authserv_id, sender),
    )


# -- headers ---------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _headers(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name, [])]
    except Exception:
        return []


_MSGID = re.compile(r"<[^<>\s]+>")


def _message_id(msg: Message) -> str | None:
    found = _MSGID.findall(_header(msg, "Message-ID"))
    return found[0] if found else None


def _references(msg: Message) -> tuple[str, ...]:
    refs = _MSGID.findall(_header(msg, "References"))
    for ref in _MSGID.findall(_header(msg, "In-Reply-To")):
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def from_address(msg: Message) -> str | None:
    """The one From address, lower case; None when there is none or several."""
    raw = _headers(msg, "From")
    try:
        pairs = [addr for _, addr in getaddresses(raw) if addr]
    except Exception:
        return None
    if len(pairs) != 1:
        return None
    address = pairs[0].strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in address):
        return None
    return address


def _is_reply_subject(subject: str) -> bool:
    return bool(re.match(r"^\s*(re|fwd?|ответ|отв)\s*(\[\d+\])?\s*:", subject, re.IGNORECASE))


# -- loops and floods ------------------------------------------------------------------

_BULK = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = {"mailer-daemon", "postmaster"}


def auto_reason(msg: Message, mail_from: str, our_address: str) -> str | None:
    """Why a mail is automatic and must not be answered (RFC 3834 §2, RFC 5230 §4.5),
    or None. Answering these starts mail loops with auto-responders and bounces."""
    envelope = mail_from.strip().strip("<>").lower()
    if not envelope:
        return "bounce (empty return path)"
    sender = from_address(msg) or ""
    if envelope.partition("@")[0] in _DAEMONS or sender.partition("@")[0] in _DAEMONS:
        return "bounce (mailer daemon)"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report"
    submitted = _header(msg, "Auto-Submitted").lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response"):
        if _header(msg, name):
            return name
    if _header(msg, "Precedence").lower() in _BULK:
        return f"Precedence: {_header(msg, 'Precedence').lower()}"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list"
    ours = our_address.strip().lower()
    if ours and ours in (sender, envelope):
        return "from our own address"
    return None


# -- sender authentication -------------------------------------------------------------

_COMMENT = re.compile(r"\([^()]*\)")


def dmarc_pass(msg: Message, authserv_id: str, sender: str) -> bool:
    """True when the Authentication-Results header of our relay (its authserv-id is
    `authserv_id`, RFC 8601 §2.2) says dmarc=pass for the From domain. Headers of other
    authserv-ids count for nothing: anyone can write one. The relay removes headers
    claiming its own id from outside (RFC 8601 §5), so the topmost one of ours is read."""
    wanted = authserv_id.strip().lower()
    if not wanted:
        return False
    for header in _headers(msg, "Authentication-Results"):
        text = " ".join(_COMMENT.sub(" ", header).split())
        serv = text.split(";", 1)[0].strip().split(" ")[0].lower()
        if serv != wanted:
            continue
        result = re.search(r"\bdmarc\s*=\s*([a-z]+)", text, re.IGNORECASE)
        if result is None or result[1].lower() != "pass":
            return False
        domain = re.search(r"\bheader\.from\s*=\s*([^\s;]+)", text, re.IGNORECASE)
        return domain is None or domain[1].lower() == sender.rpartition("@")[2]
    return False


# -- body ------------------------------------------------------------------------------


def body_text(msg: Message) -> tuple[str, tuple[str, ...]]:
    """The text a person wrote (text/plain preferred, else text/html converted) and
    the names of attachments. Raises only on a part the email package cannot walk."""
    plain: str | None = None
    html: str | None = None
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            if ctype != "message/delivery-status":
                attachments.append(filename or ctype)
            continue
        text = decode_part(part)
        if ctype == "text/plain" and plain is None:
            plain = text
        elif ctype == "text/html" and html is None:
            html = text
    if plain is not None and plain.strip():
        return _normalise(plain), tuple(attachments)
    if html is not None:
        return _normalise(html_to_text(html)), tuple(attachments)
    return "", tuple(attachments)


def decode_part(part: Message) -> str:
    """A text part's bytes (quoted-printable or base64 undone) in its charset."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charsets = [part.get_content_charset() or "", *_FALLBACK_CHARSETS]
    for name in charsets:
        try:
            codecs.lookup(name)
            return payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


class _TextOfHtml(HTMLParser):
    """Visible text of an HTML body. Scripts, styles and the head are dropped, quoted
    blocks (blockquote, Gmail/Yandex quote divs) too; nothing is executed or fetched."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
    _BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
        "ol", "pre", "hr", "section", "article",
    })
    _VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if self.skipping:
            if tag not in self._VOID:
                self.skipping.append(tag)
            return
        if tag in self._SKIP or tag == "blockquote" or "quote" in classes:
            if tag not in self._VOID:
                self.skipping.append(tag)
            return
        if tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(" ".join(data.split(" ")))


def html_to_text(html: str) -> str:
    """HTML → plain text, safely (see `_TextOfHtml`)."""
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; a last resort all the same
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.out)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{2,}", "\n", "\n".join(lines)).strip()


# -- quoted replies and signatures -----------------------------------------------------

# A line from which everything below is the quoted earlier mail or a signature.
_CUT = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^-{2,}\s*(original message|исходное сообщение|пересылаемое сообщение|"
        r"forwarded message|перенаправленное сообщение)\s*-{2,}",
        r"^-{2,}\s*$",  # «-- » (RFC 3676 §4.3) and a bare «--»
        r"^_{5,}\s*$",  # Outlook's rule above the quoted header block
        r"^(отправлено|sent)\s+(с|из|from|via)\b",  # «Отправлено с iPhone», «Sent from my…»
        r"^(от|from|от кого)\s*:\s*\S",  # Outlook's header block of the quoted mail
        r"^с\s+уважением\b",  # «С уважением, Иван Иванович» and what follows
        r"^(best regards|kind regards|regards)\b",
    )
]
# «пн, 1 дек. 2026 г. в 10:00, Иван <ivan@mail.ru>: пишет:», «On Mon, … wrote:»
_WROTE = re.compile(r"(пишет|написал\(?а?\)?|wrote)\s*:\s*$", re.IGNORECASE)
# Gmail/Yandex/Mail.ru without the verb: «03.12.2026, 10:00, "ЭнергоСбыт" <info@r.ru>:»
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
# The first line of such a header when a client wrapped it onto two lines.
_WROTE_START = re.compile(
    r"^(on\s|\d{1,2}[./ ]|(пн|вт|ср|чт|пт|сб|вс|mon|tue|wed|thu|fri|sat|sun)\w*,)",
    re.IGNORECASE,
)


def _reply_header(line: str) -> bool:
    if _WROTE.search(line):
        return True
    return line.endswith(":") and "@" in line and bool(_TIME.search(line))


def strip_quoted(text: str) -> str:
    """Cut the quoted earlier mail, reply headers and the signature off a reply."""
    kept: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if any(p.match(stripped) for p in _CUT):
            break
        if _reply_header(stripped) or (
            stripped.endswith(":") and "@" in stripped and kept and _wrapped_start(kept[-1])
        ):
            if kept and _wrapped_start(kept[-1]) and not _WROTE_START.match(stripped):
                kept.pop()
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _wrapped_start(line: str) -> bool:
    """A line that opens a reply header wrapped onto the next line."""
    stripped = line.strip()
    return bool(_WROTE_START.match(stripped)) and bool(_TIME.search(stripped))


__all__ = [
    "Mail",
    "Unreadable",
    "auto_reason",
    "body_text",
    "dmarc_pass",
    "html_to_text",
    "read_mail",
    "strip_quoted",
]
