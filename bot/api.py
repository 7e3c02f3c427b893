"""The admin HTTP API (contracts.md §11) on aiohttp.

Every route under `/api/`, and `/metrics`, needs `Authorization: Bearer <[api] token>`.
With an empty token the API listens on loopback only (checked at start-up by the CLI) and accepts
requests without a token, saying so in the log. `/healthz` needs no token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.core import normalize_phone

if TYPE_CHECKING:
    from bot.app import Gateway

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway")


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _auth_middleware(token: str) -> Any:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.path.startswith("/api/") or request.path == "/metrics") and token:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 9110 §11.1)
                given = ""
            given = given.strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return json_error(401, "missing or wrong bearer token")
        return await handler(request)

    return auth


async def healthz(request: web.Request) -> web.Response:
    ok, body = await request.app[GATEWAY_KEY].health()
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format, under the bearer token (docs/interfaces.md §13)."""
    from bot.metrics import CONTENT_TYPE

    try:
        body = await request.app[GATEWAY_KEY].metrics_text()
    except Exception:  # the store is down: say so, as /healthz does, not a bare 500
        log.exception("metrics: cannot read the store")
        return json_error(503, "the store cannot be read; see /healthz")
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


async def dev_sms(request: web.Request) -> web.Response:
    """Inject a mobile-originated SMS into the simulator and return the replies."""
    gateway = request.app[GATEWAY_KEY]
    simulator = gateway.simulator
    if simulator is None:
        return json_error(404, "the SMSC simulator is not running")
    try:
        data = await request.json()
    except ValueError:
        return json_error(400, "body must be JSON")
    phone, text = data.get("from"), data.get("text")
    if not isinstance(phone, str) or not isinstance(text, str) or not phone or not text:
        return json_error(400, "fields 'from' and 'text' are required")
    # The SMSC sends MSISDNs in one form; replies are addressed in E.164: read «8912…»
    # as the same person, or the wait below would watch the wrong number.
    normalized = normalize_phone(phone, gateway.settings.service.phone_region)
    if normalized is None:
        return json_error(400, f"'from' is not a phone number: {phone!r}")
    phone = normalized
    to = data.get("to") or gateway.settings.smpp.source_addr
    timeout = float(data.get("timeout", 10))
    replies = await simulator.inject_and_wait(phone, str(to), text, timeout=min(timeout, 30))
    return web.json_response({"replies": replies})


class AdminApi:
    """The aiohttp server of the admin API (and the Telegram webhook route)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        settings = gateway.settings.api
        self.host = settings.host
        self.port = settings.port
        token = settings.token.get_secret_value()
        self.app = web.Application(middlewares=[_auth_middleware(token)], client_max_size=64 << 20)
        self.app[GATEWAY_KEY] = gateway
        self.app.router.add_get("/healthz", healthz)
        self.app.router.add_get("/metrics", metrics)
        self.app.router.add_post("/api/dev/sms", dev_sms)
        self._add_extensions()
        self._runner: web.AppRunner | None = None
        if not token:
            log.warning("admin API: no [api] token set; listening on loopback without auth")

    def _add_extensions(self) -> None:
        """Routes owned by other parts: notifications (campaigns, outages), the inbox
        (bot/api_inbox.py), Telegram webhook."""
        from bot.api_inbox import add_routes as add_inbox_routes

        add_inbox_routes(self.app)
        try:
            from notifications.api import add_routes
        except ImportError:
            pass
        else:
            add_routes(self.app)
        telegram = self.gateway.channels.get("telegram")
        add = getattr(telegram, "add_routes", None)
        if add is not None:
            add(self.app)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
