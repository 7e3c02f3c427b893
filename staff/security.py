"""Sessions and CSRF tokens of the staff workspace.

Sessions are encrypted cookies (aiohttp-session's `EncryptedCookieStorage`, Fernet:
AES-128-CBC + HMAC-SHA256), keyed from `[staff] session_secret`, rather than rows in the
store: every instance of one gateway shares the secret and so reads every cookie, with no
session table to share, clean up or port to PostgreSQL. What a cookie cannot do, forget a
session before it expires, is covered by checking the account on every request: a
disabled account is out at its next click. A cookie lives `SESSION_HOURS` (a shift).

Without a secret each process makes its own key and warns: one instance still works,
and its sessions end when it restarts.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from aiohttp import web
from aiohttp_session import Session, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

COOKIE = "sbyt_staff"
SESSION_HOURS = 12
CSRF_FIELD = "csrf"


def session_key(secret: str) -> bytes:
    """32 bytes for Fernet from the configured secret (any length or alphabet)."""
    if not secret:
        log.warning(
            "staff workspace: [staff] session_secret is empty; using a key of this process "
            "(sessions end at restart; several instances need GATEWAY__STAFF__SESSION_SECRET)"
        )
        return secrets.token_bytes(32)
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None,
        info=b"sbyt-gateway staff session cookie",
    ).derive(secret.encode())


def cookie_storage(secret: str, *, secure: bool) -> EncryptedCookieStorage:
    """HttpOnly (no script reads it) and SameSite=Lax (no cross-site POST carries it; a
    link from a mail still opens the workspace logged in). `secure`: only over HTTPS,
    which a workspace reachable beyond loopback must be served over (behind a proxy)."""
    return EncryptedCookieStorage(
        session_key(secret),
        cookie_name=COOKIE,
        max_age=SESSION_HOURS * 3600,
        path="/staff/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def csrf_token(session: Session) -> str:
    """The session's CSRF token (one per session, made on first use). Forms carry it in a
    hidden field; a POST whose field differs is refused."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def csrf_ok(request: web.Request) -> bool:
    session = await get_session(request)
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not expected:
        return False
    form = await request.post()
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
