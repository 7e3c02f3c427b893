"""The workspace in a real headless Chromium (Playwright driving the system's browser,
never a downloaded one) against the whole gateway in-process: log in, an unrecognised
SMS arrives through the development SMSC and is answered, the answer reaches the SMSC;
an outage is broadcast from its form after the preview; a campaign page shows progress;
a form without its CSRF token is refused; an operator cannot do a supervisor's action;
a customer's `<script>` shows as text; the basic flow works with JavaScript off.

Without Chromium these tests skip with one line saying how to get it; with CI=true they
fail instead (a CI run must not pass without its browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Gateway
from notifications.smsparts import sms_parts
from storage.db import utcnow
from tests.staff.conftest import PASSWORD, base_url

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = "+79121234567"


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing: make test installs it (.[dev])"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        CHROMIUM
    ):
        return (f"Chromium not found at {CHROMIUM}: apt-get install chromium "
                "(or set CHROMIUM=/path/to/chromium)")
    return None


_WHY = _missing()
if _WHY is not None and os.environ.get("CI", "").lower() != "true":
    pytest.skip(_WHY, allow_module_level=True)  # one line for the whole module


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if _WHY is not None:
        pytest.fail(f"browser tests need Chromium under CI=true: {_WHY}")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _page(browser: Any, *, javascript: bool = True, phone: bool = False) -> Any:
    options: dict[str, Any] = {"java_script_enabled": javascript, "locale": "ru-RU"}
    if phone:
        options.update(viewport={"width": 390, "height": 844}, is_mobile=True)
    context = await browser.new_context(**options)
    context.set_default_timeout(15_000)
    return await context.new_page()


async def _login(page: Any, gw: Gateway, login: str) -> None:
    await page.goto(base_url(gw) + "/")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Войти')")
    await page.wait_for_selector("h1:has-text('Входящие')")


async def _sms(gw: Gateway, text: str) -> list[str]:
    assert gw.simulator is not None
    return await gw.simulator.inject_and_wait(PHONE, None, text, timeout=10, quiet=0.3)


async def test_an_sms_arrives_is_answered_and_the_answer_reaches_the_smsc(
    gateway: Gateway, browser: Any
) -> None:
    page = await _login_page(browser, gateway)
    told = await _sms(gateway, "ывапролд джзхъ")
    await page.reload()
    await page.click("text=ывапролд джзхъ")
    await page.wait_for_selector("#conversation")
    assert "передано специалисту" in await page.inner_text("#conversation")
    # the part count as one types: the script mirrors the server's rule
    await page.fill("#answer", "Здравствуйте! " + "Ответ. " * 10)
    assert "UCS-2, частей SMS: 2" in await page.inner_text("#parts")
    await page.fill("#answer", "Hello")
    assert "GSM-7, частей SMS: 1" in await page.inner_text("#parts")
    for text in ("", "a" * 160, "a" * 161, "€" * 80, "€" * 81, "я" * 70, "я" * 71,
                 "😀" * 35, "😀" * 36, "x" * 306, "x" * 307):
        assert await page.evaluate("t => window.staffSmsParts(t).parts", text) == sms_parts(
            text
        ), text
    await page.fill("#answer", "Проверим и ответим завтра.")
    await page.click("#reply button[type=submit]")
    await page.wait_for_url("**?sent=1")
    assert "Проверим и ответим завтра." in await page.inner_text("#conversation")
    assert gateway.simulator is not None
    got = await gateway.simulator.wait_messages(PHONE, len(told) + 1, within=10)
    assert got[-1] == "Проверим и ответим завтра."


async def _login_page(browser: Any, gw: Gateway, login: str = "olga", **kw: Any) -> Any:
    page = await _page(browser, **kw)
    await _login(page, gw, login)
    return page


async def test_the_basic_flow_works_with_javascript_off(
    gateway: Gateway, browser: Any
) -> None:
    page = await _login_page(browser, gateway, javascript=False)
    await _sms(gateway, "ывапролд")
    await page.goto(base_url(gateway) + "/inbox")
    await page.click("text=ывапролд")
    await page.fill("#answer", "Ответ без скриптов")
    await page.click("#reply button[type=submit]")
    await page.wait_for_url("**?sent=1")
    assert "Ответ без скриптов" in await page.inner_text("#conversation")


async def test_an_outage_is_broadcast_after_its_preview_and_the_campaign_shows_progress(
    gateway: Gateway, browser: Any
) -> None:
    page = await _login_page(browser, gateway, phone=True)
    await page.goto(base_url(gateway) + "/outages")
    start = utcnow().astimezone(gateway.settings.service.tz) + timedelta(minutes=5)
    await page.fill("input[name=settlement]", "Сыктывкар")
    await page.fill("input[name=street]", "ул. Комарова")
    await page.fill("input[name=houses]", "1-25")
    await page.fill("input[name=reason]", "замена опоры")
    await page.fill("input[name=start]", f"{start:%Y-%m-%d %H:%M}")
    await page.fill("input[name=until]", f"{start + timedelta(hours=3):%Y-%m-%d %H:%M}")
    await page.click("button:has-text('Проверить получателей')")
    await page.wait_for_selector("h1:has-text('Проверка рассылки')")
    figures = await page.inner_text(".figures")
    assert "Получателей\n7" in figures
    assert "21А" in await page.inner_text("table")
    assert gateway.store is not None
    assert await gateway.store.db.fetchval("SELECT count(*) FROM outages") == 0
    await page.click("button:has-text('Отправить (7 получателей)')")
    await page.wait_for_selector("h1:has-text('Рассылка № 1')")
    assert await page.inner_text("#recipients") == "7"
    assert await page.locator("svg.chart rect").count() == 6
    # a live page: refreshed until everything is sent
    for _ in range(100):
        done = await page.text_content("#state-delivered")
        sent = await page.text_content("#state-sent")
        if int(done or 0) + int(sent or 0) == 7:
            break
        await page.wait_for_timeout(200)
        await page.reload()
    assert int(await page.text_content("#state-delivered") or 0) + int(
        await page.text_content("#state-sent") or 0
    ) == 7


async def test_a_form_without_its_csrf_token_is_refused(
    gateway: Gateway, browser: Any
) -> None:
    page = await _login_page(browser, gateway)
    await _sms(gateway, "ывапролд")
    await page.goto(base_url(gateway) + "/inbox")
    await page.click("text=ывапролд")
    await page.evaluate("document.querySelector('#reply input[name=csrf]').remove()")
    await page.fill("#answer", "Этот ответ не должен уйти")
    await page.click("#reply button[type=submit]")
    await page.wait_for_selector("text=Форма устарела")
    assert gateway.store is not None
    assert await gateway.store.db.fetchval(
        "SELECT count(*) FROM outbox WHERE payload LIKE '%не должен уйти%'"
    ) == 0


async def test_an_operator_cannot_do_what_only_a_supervisor_may(
    gateway: Gateway, browser: Any
) -> None:
    page = await _login_page(browser, gateway, "olga")
    assert await page.locator("nav >> text=Журнал").count() == 0
    response = await page.goto(base_url(gateway) + "/audit")
    assert response.status == 403
    assert "только руководителю" in await page.inner_text("main")
    boss = await _login_page(browser, gateway, "sveta")
    await boss.click("nav >> text=Журнал")
    assert "denied:GET /staff/audit" in await boss.inner_text("table")


async def test_a_customer_script_shows_as_text(gateway: Gateway, browser: Any) -> None:
    page = await _login_page(browser, gateway)
    await _sms(gateway, "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>")
    await page.goto(base_url(gateway) + "/inbox")
    assert "<script>window.pwned=1</script>" in await page.inner_text("#inbox")
    await page.click("#inbox a")
    assert "<img src=x onerror" in await page.inner_text("#conversation")
    assert await page.evaluate("window.pwned === undefined")
