"""The whole gateway in-process (SMSC simulator, engine, sender, admin API on a free
loopback port) with staff accounts, and a logged-in HTTP client of the workspace."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import Gateway
from bot.settings import Settings, load_settings
from staff.accounts import add_account
from storage.db import utcnow

PASSWORD = "correct horse battery"
SECRET = "a-session-secret-for-tests-only"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def settings_for(tmp_path: Path, *, secret: str = SECRET, extra: str = "") -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp_path / "g.db"}"\n'
        '[smpp]\nport = 0\n[api]\nport = 0\n'
        f'[staff]\nsession_secret = "{secret}"\n{extra}',
        encoding="utf-8",
    )
    return load_settings(cfg)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway(settings_for(tmp_path)) as gw:
        assert gw.store is not None
        for login, role in (("olga", "operator"), ("sveta", "supervisor")):
            await add_account(gw.store.staff, login, role, PASSWORD, utcnow())
        yield gw


def base_url(gw: Gateway) -> str:
    assert gw.api is not None
    return f"http://127.0.0.1:{gw.api.port}/staff"


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no CSRF field"
    return match[1]


class StaffClient:
    """An HTTP client of the workspace that keeps its cookie and the page's CSRF token."""

    def __init__(self, gw: Gateway, http: aiohttp.ClientSession) -> None:
        self.base, self.http, self.csrf = base_url(gw), http, ""

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=True) as resp:
            text = await resp.text()
            if resp.content_type == "text/html":
                found = _CSRF.search(text)
                self.csrf = found[1] if found else self.csrf
            return resp.status, text

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = None,
        follow: bool = True,
    ) -> tuple[int, str, str]:
        """(status, body, final URL); `csrf` overrides the page's token ("" sends none)."""
        form = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            form["csrf"] = token
        async with self.http.post(self.base + path, data=form, allow_redirects=follow) as resp:
            text = await resp.text()
            found = _CSRF.search(text)
            self.csrf = found[1] if found else self.csrf
            return resp.status, text, str(resp.url)

    async def login(self, login: str, password: str = PASSWORD) -> tuple[int, str, str]:
        await self.get("/login")
        return await self.post("/login", {"login": login, "password": password})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: keep cookies of an IP address host (127.0.0.1), as a browser does.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
def client(gateway: Gateway, http: aiohttp.ClientSession) -> StaffClient:
    return StaffClient(gateway, http)
