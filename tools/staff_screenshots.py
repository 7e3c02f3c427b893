"""Screenshots of the staff workspace for the README, taken with the system's headless
Chromium against a running demo gateway (demo registry, SMSC simulator, a few customer
messages and an outage).

    .venv/bin/python tools/staff_screenshots.py [OUT_DIR]     # default: docs/

Writes staff-login.png, staff-inbox.png, staff-thread-phone.png, staff-outage-preview.png
and staff-campaign.png. Needs Chromium at /usr/bin/chromium (or $CHROMIUM).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Page, async_playwright

from bot.app import Gateway
from bot.settings import load_settings
from staff.accounts import add_account
from storage.db import utcnow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "demo-password-1"
MESSAGES = [
    ("+79121234567", "Здравствуйте, почему в квитанции сумма в два раза больше?"),
    ("+79045551122", "ывапролд"),
    ("+79129876543", "позовите оператора пожалуйста"),
    ("+79822345678", "<b>Свет</b> моргает весь вечер, лампы перегорают"),
]


async def _demo(tmp: Path) -> Gateway:
    cfg = tmp / "settings.toml"
    cfg.write_text(
        f'[storage]\npath = "{tmp / "demo.db"}"\n[smpp]\nport = 0\n[api]\nport = 0\n',
        encoding="utf-8",
    )
    gateway = Gateway(load_settings(cfg))
    await gateway.start()
    assert gateway.store is not None
    assert gateway.simulator is not None
    await add_account(gateway.store.staff, "anna", "supervisor", PASSWORD, utcnow())
    for phone, text in MESSAGES:
        await gateway.simulator.inject_and_wait(phone, None, text, timeout=10, quiet=0.3)
    return gateway


async def _shoot(page: Page, out: Path, name: str) -> None:
    await page.screenshot(path=str(out / name), full_page=True)
    print(out / name)


async def main(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        gateway = await _demo(Path(tmp))
        assert gateway.api is not None
        base = f"http://127.0.0.1:{gateway.api.port}/staff"
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                desk = await (await browser.new_context(
                    viewport={"width": 1100, "height": 720}, locale="ru-RU"
                )).new_page()
                await desk.goto(base + "/")
                await desk.fill("input[name=login]", "anna")
                await _shoot(desk, out, "staff-login.png")
                await desk.fill("input[name=password]", PASSWORD)
                await desk.click("button:has-text('Войти')")
                await desk.wait_for_selector("#inbox")
                await _shoot(desk, out, "staff-inbox.png")

                phone = await (await browser.new_context(
                    viewport={"width": 390, "height": 844}, is_mobile=True, locale="ru-RU",
                    storage_state=await desk.context.storage_state(),
                )).new_page()
                await phone.goto(base + "/inbox")
                await phone.click("text=почему в квитанции")
                await phone.fill("#answer", "Здравствуйте! Проверим начисление и ответим.")
                await _shoot(phone, out, "staff-thread-phone.png")

                start = utcnow().astimezone(gateway.settings.service.tz) + timedelta(hours=1)
                await desk.goto(base + "/outages")
                for name, value in (
                    ("settlement", "Сыктывкар"), ("street", "Комарова"),
                    ("houses", "1-25"), ("reason", "замена опоры ЛЭП"),
                    ("start", f"{start:%Y-%m-%d %H:00}"),
                    ("until", f"{start + timedelta(hours=4):%Y-%m-%d %H:00}"),
                ):
                    await desk.fill(f"input[name={name}]", value)
                await desk.click("button:has-text('Проверить получателей')")
                await _shoot(desk, out, "staff-outage-preview.png")
                await desk.click("button:has-text('Отправить')")
                await desk.wait_for_selector("svg.chart")
                await asyncio.sleep(2)
                await desk.reload()
                await _shoot(desk, out, "staff-campaign.png")
                await browser.close()
        finally:
            await gateway.stop()
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    target.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(main(target)))
