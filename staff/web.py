"""The staff workspace as an aiohttp sub-application mounted at `/staff/` on the admin
API's server (docs/interfaces.md §12).

Every page but the login page needs a session of an enabled account; the account is read
from the store on every request, so disabling it (or changing its role) takes effect at
the next click. Every POST carries the session's CSRF token or is refused with 403
before its handler runs, the login form included (no logging a victim into an
attacker's account). Pages are server-rendered Jinja2 with autoescape on, and work with
JavaScript off; the little script there is only adds to them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_session

from parsers.counted import counted
from staff.accounts import LoginOutcome, authenticate
from staff.security import CSRF_FIELD, cookie_storage, csrf_ok, csrf_token
from storage.db import utcnow
from storage.staff import StaffAccount

if TYPE_CHECKING:
    from bot.app import Gateway

log = logging.getLogger(__name__)
audit_log = logging.getLogger("staff.audit")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
GATEWAY: web.AppKey[Gateway] = web.AppKey("staff_gateway")
ACCOUNT: web.RequestKey[StaffAccount] = web.RequestKey("staff_account", StaffAccount)
PREFIX = "/staff"
_PUBLIC = (f"{PREFIX}/login", f"{PREFIX}/static/")
_HERE = Path(__file__).parent


def gateway_of(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def account_of(request: web.Request) -> StaffAccount:
    return request[ACCOUNT]


async def audit(
    request: web.Request, action: str, subject: str = "",
    details: dict[str, Any] | None = None, *, allowed: bool = True,
) -> None:
    """Who did what to which subject, when, from where: a row of the audit log (the
    `Audit` port, shown on the audit page) and a line of the `staff.audit` logger.
    Subjects are numbers and logins, never customers' phones or names."""
    who = request.get(ACCOUNT)
    login = who.login if who is not None else "-"
    if not allowed:
        action = f"denied:{action}"
    record = {**(details or {}), "from": request.remote or "-"}
    store = gateway_of(request).store
    if store is not None:
        await store.audit.append(login, action, subject, record, utcnow())
    audit_log.info("staff %s %s %s from %s", login, action, subject, record["from"])


def local_time(moment: datetime | None, request: web.Request) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(gateway_of(request).settings.service.tz):%d.%m.%Y %H:%M}"


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    session = await get_session(request)
    base = {
        "me": request.get(ACCOUNT),
        "csrf": csrf_token(session),
        "csrf_field": CSRF_FIELD,
        "prefix": PREFIX,
        "simulator": gateway_of(request).simulator is not None,
    }
    return aiohttp_jinja2.render_template(
        template, request, {**base, **context}, status=status
    )


def supervisor_only(handler: Handler) -> Handler:
    """Actions of the «supervisor» column of §12: an operator gets 403, and the attempt
    is audited."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if account_of(request).role != "supervisor":
            await audit(request, f"{request.method} {request.path}", allowed=False)
            return await render(
                request, "forbidden.html", {"title": "Нет доступа"}, status=403
            )
        return await handler(request)

    return guarded


# Defence in depth behind autoescape: no script but our own file, no framing (clickjacking
# of the forms), forms post only here. Reports are self-contained pages with inline
# styles and PNG data: URIs, hence those two allowances.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # customers' messages stay out of shared caches
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not await csrf_ok(request):
        log.warning("staff: POST %s without a valid CSRF token refused", request.path)
        raise web.HTTPForbidden(
            text="Форма устарела или пришла не из рабочего места. Обновите страницу и "
            "повторите.",
        )
    if request.path.startswith(_PUBLIC):
        return await handler(request)
    session = await get_session(request)
    login = session.get("login")
    store = gateway_of(request).store
    account = await store.staff.get(login) if isinstance(login, str) and store else None
    if account is None or account.disabled:
        session.invalidate()
        if request.method == "GET":
            raise web.HTTPSeeOther(f"{PREFIX}/login?next={quote(request.path_qs)}")
        raise web.HTTPForbidden(text="Войдите заново.")
    request[ACCOUNT] = account
    return await handler(request)


async def login_page(request: web.Request) -> web.StreamResponse:
    return await render(request, "login.html", {
        "next": _safe_next(request.query.get("next", "")), "title": "Вход",
        "error": "", "login": "",
    })


def _safe_next(value: str) -> str:
    """Only a path of the workspace: never an open redirect to another site."""
    if value.startswith(f"{PREFIX}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/"


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login, password = str(form.get("login", "")), str(form.get("password", ""))
    next_path = _safe_next(str(form.get("next", "")))
    store = gateway_of(request).store
    if store is None:
        raise web.HTTPServiceUnavailable(text="Хранилище недоступно")
    address = request.remote or "-"
    result = await authenticate(store.staff, login, password, address, utcnow())
    if result.outcome is LoginOutcome.OK and result.account is not None:
        session = await new_session(request)  # a fresh session: no fixation
        session["login"] = result.account.login
        csrf_token(session)
        request[ACCOUNT] = result.account
        await audit(request, "staff.login", f"staff:{result.account.login}")
        raise web.HTTPSeeOther(next_path)
    messages = {
        LoginOutcome.WRONG: ("Неверный логин или пароль.", 200),
        LoginOutcome.DISABLED: ("Учётная запись отключена. Обратитесь к руководителю.", 403),
        LoginOutcome.LIMITED: (
            "Слишком много неудачных попыток. Попробуйте через 15 минут.", 429
        ),
    }
    message, status = messages[result.outcome]
    audit_log.info("staff login refused (%s) for %r from %s", result.outcome.value,
                   login[:64], address)
    return await render(request, "login.html", {
        "next": next_path, "error": message, "login": login[:64], "title": "Вход",
    }, status=status)


async def logout(request: web.Request) -> web.StreamResponse:
    await audit(request, "staff.logout", f"staff:{account_of(request).login}")
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther(f"{PREFIX}/login")


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{PREFIX}/inbox")


@supervisor_only
async def accounts_page(request: web.Request) -> web.StreamResponse:
    store = gateway_of(request).store
    assert store is not None
    accounts = await store.staff.all()
    rows = [
        {"login": a.login, "role": a.role, "disabled": local_time(a.disabled_at, request),
         "created": local_time(a.created_at, request)}
        for a in accounts
    ]
    return await render(request, "accounts.html", {"title": "Сотрудники", "accounts": rows})


@supervisor_only
async def account_disable(request: web.Request) -> web.StreamResponse:
    store = gateway_of(request).store
    assert store is not None
    login = request.match_info["login"]
    if await store.staff.disable(login, utcnow()):
        await audit(request, "staff.disable", f"staff:{login}")
    raise web.HTTPSeeOther(f"{PREFIX}/accounts")


def staff_app(gateway: Gateway) -> web.Application:
    """The workspace application; `bot.api` mounts it with `add_subapp("/staff", …)`."""
    from staff import campaigns, inbox, outages, reports

    app = web.Application()
    app[GATEWAY] = gateway
    settings = gateway.settings
    setup_session(app, cookie_storage(
        settings.staff.session_secret.get_secret_value(),
        secure=not settings.api.is_loopback,
    ))
    app.middlewares.append(_guard)
    app.on_response_prepare.append(_security_headers)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static"] = f"{PREFIX}/static"
    env.filters["counted"] = counted  # «2 получателя»: a count agreed by pymorphy3
    app.router.add_get("/", home)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/accounts", accounts_page)
    app.router.add_post(r"/accounts/{login}/disable", account_disable)
    inbox.add_routes(app)
    outages.add_routes(app)
    campaigns.add_routes(app)
    reports.add_routes(app)
    app.router.add_static("/static/", _HERE / "static")
    return app


def mount(api_app: web.Application, gateway: Gateway) -> None:
    api_app.add_subapp(PREFIX, staff_app(gateway))
