"""The workspace's rules over real HTTP (no browser): login, sessions, CSRF, rate
limits, roles, and the outage and campaign pages, against the whole gateway in-process
(demo registry, SMSC simulator, admin API on a free loopback port)."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from yarl import URL

from bot.app import Gateway
from staff.accounts import FAILURES_PER_ADDRESS, FAILURES_PER_LOGIN, add_account
from storage.db import utcnow
from tests.staff.conftest import PASSWORD, SECRET, StaffClient, base_url, settings_for

OUTAGE = {
    "settlement": "Сыктывкар", "street": "Комарова", "houses": "1-25",
    "reason": "ремонт линии", "planned": "",
}


def _times(hours: int = 4, ahead: timedelta = timedelta(minutes=1)) -> dict[str, str]:
    """Start `ahead` of now (to the minute, as staff type it: local time of `[service]
    timezone`), lasting `hours`."""
    start = utcnow().astimezone(ZoneInfo("Europe/Moscow")) + ahead
    return {"start": f"{start:%Y-%m-%d %H:%M}",
            "until": f"{start + timedelta(hours=hours):%Y-%m-%d %H:%M}"}


async def _outages(gw: Gateway) -> int:
    assert gw.store is not None
    return int(await gw.store.db.fetchval("SELECT count(*) FROM outages"))


async def test_pages_need_a_login_and_come_back_after_it(client: StaffClient) -> None:
    status, page = await client.get("/campaigns")
    assert status == 200
    assert 'type="password"' in page
    assert 'name="next" value="/staff/campaigns"' in page
    status, page, url = await client.post(
        "/login", {"login": "olga", "password": PASSWORD, "next": "/staff/campaigns"}
    )
    assert (status, url.endswith("/staff/campaigns")) == (200, True)
    assert "olga (оператор)" in page


@pytest.mark.parametrize(
    ("login", "password", "message"),
    [
        ("olga", "wrong password", "Неверный логин или пароль"),
        ("nobody", PASSWORD, "Неверный логин или пароль"),  # the same words: no hint
        ("", "", "Неверный логин или пароль"),
    ],
)
async def test_a_failed_login_says_so_and_opens_nothing(
    client: StaffClient, login: str, password: str, message: str
) -> None:
    status, page, _ = await client.login(login, password)
    assert status == 200
    assert message in page
    status, page = await client.get("/outages")
    assert 'type="password"' in page  # still the login page


async def test_next_never_leads_off_the_workspace(client: StaffClient) -> None:
    await client.get("/login")
    for target in ("https://evil.example/", "//evil.example/staff/", "/api/outages"):
        _, _, url = await client.post(
            "/login", {"login": "olga", "password": PASSWORD, "next": target}
        )
        assert url.endswith("/staff/inbox"), (target, url)


async def test_the_session_cookie_is_httponly_lax_and_scoped(
    gateway: Gateway, http: aiohttp.ClientSession, client: StaffClient
) -> None:
    await client.get("/login")
    async with http.post(
        base_url(gateway) + "/login",
        data={"login": "olga", "password": PASSWORD, "csrf": client.csrf},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
        cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/staff/" in cookie
    assert PASSWORD not in cookie
    assert "olga" not in cookie  # encrypted, not just signed


@pytest.mark.parametrize("token", ["", "forged-token-of-the-right-length-forged-token"])
async def test_a_post_without_the_right_csrf_token_is_refused_and_does_nothing(
    gateway: Gateway, client: StaffClient, token: str
) -> None:
    await client.login("olga")
    status, page, _ = await client.post("/outages", {**OUTAGE, **_times()}, csrf=token)
    assert status == 403
    assert "Форма устарела" in page
    assert await _outages(gateway) == 0
    # the login form is checked too (no logging a victim into someone else's account)
    other = StaffClient(gateway, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
    async with other.http:
        status, _, _ = await other.post(
            "/login", {"login": "olga", "password": PASSWORD}, csrf=token
        )
        assert status == 403


async def test_failed_logins_are_limited_per_login(client: StaffClient) -> None:
    for _ in range(FAILURES_PER_LOGIN):
        status, _, _ = await client.login("olga", "wrong password")
        assert status == 200
    # the right password no longer helps while the limit lasts
    status, page, _ = await client.login("olga")
    assert status == 429
    assert "Слишком много неудачных попыток" in page
    # another login from the same address is not yet limited
    status, page, url = await client.login("sveta")
    assert (status, url.endswith("/staff/inbox")) == (200, True)


async def test_failed_logins_are_limited_per_address(client: StaffClient) -> None:
    for n in range(FAILURES_PER_ADDRESS):
        await client.login(f"guess{n}", "wrong password")
    status, _, _ = await client.login("sveta")
    assert status == 429


async def test_a_disabled_account_is_refused_and_its_session_ends(
    gateway: Gateway, client: StaffClient
) -> None:
    assert gateway.store is not None
    await client.login("olga")
    status, page = await client.get("/outages")
    assert "olga (оператор)" in page
    await gateway.store.staff.disable("olga", utcnow())
    status, page = await client.get("/outages")
    assert 'type="password"' in page  # back at the login page at the next click
    status, page, _ = await client.login("olga")
    assert status == 403
    assert "Учётная запись отключена" in page


async def test_an_operator_gets_403_for_supervisor_actions_and_it_is_audited(
    gateway: Gateway, client: StaffClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.login("olga")
    status, _, url = await client.post("/outages", {**OUTAGE, **_times()})
    assert url.endswith("/staff/campaigns/1")  # outages: operators may
    caplog.set_level(logging.INFO, logger="staff.audit")
    status, page = await client.get("/accounts")
    assert status == 403
    assert "только руководителю" in page
    status, _, _ = await client.post("/campaigns/1/cancel")
    assert status == 403
    assert gateway.store is not None
    assert await gateway.store.db.fetchval(
        "SELECT count(*) FROM outbox WHERE campaign_id = 1 AND status = 'cancelled'"
    ) == 0
    denied = [(e.actor, e.action) for e in await gateway.store.audit.recent()
              if e.action.startswith("denied:")]
    assert denied == [
        ("olga", "denied:POST /staff/campaigns/1/cancel"), ("olga", "denied:GET /staff/accounts"),
    ]
    assert "staff olga denied:GET /staff/accounts" in caplog.text


async def test_a_supervisor_sees_accounts_and_disables_one(
    gateway: Gateway, client: StaffClient
) -> None:
    await client.login("sveta")
    status, page = await client.get("/accounts")
    assert status == 200
    assert "olga" in page
    status, page, _ = await client.post("/accounts/olga/disable")
    assert status == 200
    assert "отключён" in page
    assert gateway.store is not None
    newest = (await gateway.store.audit.recent(limit=1))[0]
    assert (newest.actor, newest.action, newest.subject) == ("sveta", "staff.disable",
                                                             "staff:olga")


async def test_outage_preview_records_nothing_then_send_queues_the_notice(
    gateway: Gateway, client: StaffClient
) -> None:
    await client.login("olga")
    status, page, _ = await client.post("/outages/preview", {**OUTAGE, **_times()})
    assert status == 200
    # the demo registry: six accounts on ул. Комарова 1-25, one of them with two phones
    assert "Получателей</dt><dd>7</dd>" in page
    assert "Лицевых счетов</dt><dd>6</dd>" in page
    houses = re.findall(r"<td>ул. Комарова</td><td>([^<]+)</td>", page)
    assert houses == ["3", "9", "11", "17", "21А", "25"]  # in natural order
    assert "ремонт линии" in page
    assert await _outages(gateway) == 0
    status, page, url = await client.post("/outages", {**OUTAGE, **_times()})
    assert url.endswith("/staff/campaigns/1")
    assert "Рассылка № 1" in page
    assert 'id="recipients">7<' in page
    assert await _outages(gateway) == 1
    assert gateway.store is not None
    entry = (await gateway.store.audit.recent("outage:1"))[0]
    assert (entry.actor, entry.action, entry.details["campaign"]) == (
        "olga", "outage.broadcast", 1
    )
    status, page = await client.get("/outages")
    assert "рассылка № 1" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"settlement": ""}, "Населённый пункт: обязательное поле"),
        ({"start": "завтра"}, "Начало: время в виде"),
        ({"until": "2020-01-01 10:00"}, "Окончание должно быть позже начала"),
        ({"reason": "x" * 501}, "Причина: не длиннее 500"),
        ({"houses": "1," * 1001}, "Дома: не длиннее 2000"),
    ],
)
async def test_a_bad_outage_form_is_shown_back_with_the_error(
    gateway: Gateway, client: StaffClient, change: dict[str, str], message: str
) -> None:
    await client.login("olga")
    form = {**OUTAGE, **_times(), **change}
    status, page, _ = await client.post("/outages/preview", form)
    assert status == 400
    assert message in page
    assert 'value="ремонт линии"' in page or "reason" in change  # typed text kept
    assert await _outages(gateway) == 0


async def test_no_house_matched_disables_sending(client: StaffClient) -> None:
    await client.login("olga")
    _, page, _ = await client.post(
        "/outages/preview", {**OUTAGE, "street": "Несуществующая", **_times()}
    )
    assert "Ни один дом не подошёл" in page
    assert "disabled>Отправить (0 получателей)" in page


async def test_text_typed_as_html_is_shown_as_text(client: StaffClient) -> None:
    await client.login("olga")
    _, page, _ = await client.post(
        "/outages/preview", {**OUTAGE, "reason": "<script>alert(1)</script>", **_times()}
    )
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_campaign_page_csv_and_restored(
    gateway: Gateway, client: StaffClient
) -> None:
    await client.login("sveta")
    await client.post("/outages", {**OUTAGE, **_times()})
    assert gateway.notifications is not None
    for _ in range(200):  # the running sender hands the 7 notices to the SMSC simulator
        progress = await gateway.notifications.progress(1)
        assert progress is not None
        if progress.counts.get("sent", 0) + progress.counts.get("delivered", 0) == 7:
            break
        await asyncio.sleep(0.05)
    status, page = await client.get("/campaigns/1")
    assert status == 200
    assert "<svg" in page
    sent = re.search(r'id="state-sent">(\d+)<', page)
    delivered = re.search(r'id="state-delivered">(\d+)<', page)
    assert sent
    assert delivered
    assert int(sent[1]) + int(delivered[1]) == 7
    async with client.http.get(client.base + "/campaigns/1/undelivered.csv") as resp:
        assert resp.status == 200
        assert "attachment" in resp.headers["Content-Disposition"]
        body = (await resp.read()).decode("utf-8-sig")
    assert body.splitlines()[0] == "account,phone,channel,status,sent_at,error"
    status, page, url = await client.post("/outages/1/restored")
    assert url.endswith("/staff/campaigns/2")
    status, page = await client.get("/campaigns/99")
    assert status == 404
    assert "Рассылки № 99 нет" in page


async def test_logout_ends_the_session(client: StaffClient) -> None:
    await client.login("olga")
    status, page, url = await client.post("/logout")
    assert url.endswith("/staff/login")
    _, page = await client.get("/outages")
    assert 'type="password"' in page


async def test_two_instances_with_one_secret_share_sessions(
    tmp_path: Path, gateway: Gateway, client: StaffClient
) -> None:
    """Several instances share `session_secret`: a session made on one is valid on the
    other (here: a second gateway over its own store with the same account)."""
    other_dir = tmp_path / "second"
    other_dir.mkdir()
    async with Gateway(settings_for(other_dir, secret=SECRET)) as second:
        assert second.store is not None
        await add_account(second.store.staff, "olga", "operator", PASSWORD, utcnow())
        await client.login("olga")
        cookie = client.http.cookie_jar.filter_cookies(URL(base_url(gateway) + "/"))["sbyt_staff"]
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), cookies={"sbyt_staff": cookie.value}
        ) as http, http.get(base_url(second) + "/outages") as resp:
            assert "olga (оператор)" in await resp.text()


async def test_without_a_session_secret_it_works_and_warns(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with Gateway(settings_for(tmp_path, secret="")) as gw:
        assert gw.store is not None
        await add_account(gw.store.staff, "olga", "operator", PASSWORD, utcnow())
        client = StaffClient(gw, http)
        status, page, url = await client.login("olga")
        assert url.endswith("/staff/inbox")
    assert "session_secret is empty" in caplog.text


async def test_outage_list_extend_and_cancel_by_role(
    gateway: Gateway, client: StaffClient
) -> None:
    assert gateway.store is not None
    times = _times(hours=4, ahead=timedelta(hours=2))  # not begun however slow the run
    await client.login("olga")
    await client.post("/outages", {**OUTAGE, **times, "planned": "1"})
    _, page = await client.get("/outages")
    assert "ещё не началось" in page
    assert "плановое" in page
    assert "/staff/outages/1/cancel" not in page  # an operator is not offered it
    status, page, _ = await client.post("/outages/1/extend", {"until": "послезавтра"})
    assert status == 400
    assert "№ 1: новое время в виде" in page
    later = (utcnow().astimezone(gateway.settings.service.tz) + timedelta(hours=8))
    status, page, url = await client.post("/outages/1/extend",
                                          {"until": f"{later:%Y-%m-%dT%H:%M}"})
    assert url.endswith("/staff/campaigns/2")
    outage = await gateway.store.outages.get(1)
    assert outage is not None
    assert f"{outage.until_at.astimezone(gateway.settings.service.tz):%H:%M}" == f"{later:%H:%M}"
    status, _, _ = await client.post("/outages/1/cancel")
    assert status == 403
    outage = await gateway.store.outages.get(1)
    assert outage is not None
    assert outage.status == "active"
    await client.post("/logout")
    await client.login("sveta")
    _, page = await client.get("/outages")
    assert "/staff/outages/1/cancel" in page
    status, page, url = await client.post("/outages/1/cancel")
    outage = await gateway.store.outages.get(1)
    assert outage is not None
    assert outage.status == "cancelled"
    _, page = await client.get("/outages")
    assert "Сейчас отключений нет." in page
    status, page, _ = await client.post("/outages/1/extend", {"until": times["until"]})
    assert status == 409
    assert "№ 1 уже отменено." in page
    _, page = await client.get("/campaigns")
    assert [int(n) for n in re.findall(r'href="/staff/campaigns/(\d+)"', page)] == sorted(
        {int(n) for n in re.findall(r'href="/staff/campaigns/(\d+)"', page)}, reverse=True
    )
    assert "отключение" in page


@pytest.mark.parametrize(
    ("houses", "button"),
    [
        ("3", "Отправить (2 получателя)"),  # one account with two phones
        ("21А", "Отправить (1 получатель)"),
        ("1-25", "Отправить (7 получателей)"),
    ],
)
async def test_the_send_button_agrees_with_the_count(
    client: StaffClient, houses: str, button: str
) -> None:
    await client.login("olga")
    _, page, _ = await client.post("/outages/preview", {**OUTAGE, "houses": houses, **_times()})
    assert f">{button}</button>" in page


async def test_every_house_of_a_street(client: StaffClient) -> None:
    await client.login("olga")
    _, page, _ = await client.post("/outages/preview", {**OUTAGE, "houses": "все", **_times()})
    houses = re.findall(r"<td>ул. Комарова</td><td>([^<]+)</td>", page)
    assert houses == ["3", "9", "11", "17", "21А", "25"]


@pytest.mark.parametrize("path", ["/login", "/static/staff.css"])
async def test_security_headers(gateway: Gateway, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(base_url(gateway) + path) as resp:
        assert resp.status == 200
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_reports_pages(gateway: Gateway, client: StaffClient) -> None:
    assert gateway.simulator is not None
    await gateway.simulator.inject_and_wait(
        "+79121234567", None, "Прошу сделать перерасчёт, начислили по нормативу", timeout=10,
        quiet=0.3,
    )
    await client.login("olga")
    _, page = await client.get("/reports")
    quarter = re.search(r'<option value="(\d{4}Q\d)" >', page)
    assert quarter
    current = quarter[1]
    status, page = await client.get(f"/reports/appeals?quarter={current}")
    assert status == 200
    assert "<html" in page
    assert current in page
    status, page = await client.get("/reports/appeals?quarter=2026Q9")
    assert status == 400
    assert "Квартал в виде 2026Q4." in page
    status, _ = await client.get("/reports/surveys/42")
    assert status == 404
