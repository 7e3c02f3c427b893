"""The admin HTTP API (docs/interfaces.md §11) on aiohttp.

Every route under `/api/`, and `/metrics`, needs `Authorization: Bearer <[api] token>`.
With an empty token the API listens on loopback only (checked at start-up by the CLI) and accepts
requests without a token, saying so in the log. `/healthz` needs no token.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field

from bot.core import normalize_phone
from bot.httpapi import (
    ApiError,
    Handler,
    Operation,
    RequestModel,
    Text,
    add_route,
    errors_middleware,
    finite,
    json_error,
    openapi,
    read_model,
)

if TYPE_CHECKING:
    from bot.app import Gateway

log = logging.getLogger(__name__)

__all__ = ["GATEWAY_KEY", "AdminApi", "json_error"]

GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway")

# How long a stop waits for requests in flight before cancelling them (then as long
# again for the cancelled handlers to finish): a stop is bounded, a slow client or a
# 30-second /api/dev/sms wait included.
SHUTDOWN_SECONDS = 2.0


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


class HealthOut(BaseModel):
    """`GET /healthz` (docs/interfaces.md §11): 200 when everything is up, else 503."""

    status: str
    down: list[str]
    channels: list[str] = []
    mode: dict[str, bool] = {}
    warning: str | None = None


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


class DevSmsIn(RequestModel):
    """An MO for the development SMSC (docs/interfaces.md §6)."""

    from_: Text = Field(alias="from", min_length=1, max_length=32,
                        description="the sender's phone number")
    text: Text = Field(min_length=1, max_length=5000)
    to: Text | None = Field(default=None, max_length=32,
                            description="the number written to (default [smpp] source_addr)")
    timeout: Annotated[float, AfterValidator(finite)] = Field(
        default=10, gt=0, le=30, description="seconds to wait for the replies (at most 30)"
    )


class DevSmsOut(BaseModel):
    replies: list[str]


async def dev_sms(request: web.Request) -> web.Response:
    """Inject a mobile-originated SMS into the simulator and return the replies."""
    gateway = request.app[GATEWAY_KEY]
    simulator = gateway.simulator
    if simulator is None:
        raise ApiError(404, "the SMSC simulator is not running")
    data = await read_model(request, DevSmsIn)
    # The SMSC sends MSISDNs in one form; replies are addressed in E.164: read «8912…»
    # as the same person, or the wait below would watch the wrong number.
    phone = normalize_phone(data.from_, gateway.settings.service.phone_region)
    if phone is None:
        raise ApiError(400, f"from: not a phone number: {data.from_!r}", "from")
    to = data.to or gateway.settings.smpp.source_addr
    replies = await simulator.inject_and_wait(phone, to, data.text, timeout=data.timeout)
    return web.json_response({"replies": replies})


async def openapi_json(request: web.Request) -> web.Response:
    """The API's OpenAPI 3.1 description, generated from the routes' models."""
    return web.json_response(openapi(request.app, title="sbyt-gateway admin API",
                                     version=_version()))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sbyt-gateway")
    except PackageNotFoundError:
        return "0"


class AdminApi:
    """The aiohttp server of the admin API (and the Telegram webhook route)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        settings = gateway.settings.api
        self.host = settings.host
        self.port = settings.port
        token = settings.token.get_secret_value()
        # Errors outermost: a 401, a 413 or a route's ApiError all leave as JSON. Bodies
        # are read with each route's own limit (bot.httpapi.read_body); this cap is
        # the largest of them, for whatever reads the body some other way.
        self.app = web.Application(
            middlewares=[errors_middleware, _auth_middleware(token)],
            client_max_size=64 << 20,
        )
        self.app[GATEWAY_KEY] = gateway
        add_route(self.app, Operation(
            "GET", "/healthz", "health of the store, the sender and every channel",
            response=HealthOut, auth=False, errors={503: "a part is down (body as for 200)"},
        ), healthz)
        add_route(self.app, Operation(
            "GET", "/metrics", "Prometheus metrics (text format)", response_type="text/plain",
            errors={503: "the store cannot be read"},
        ), metrics)
        add_route(self.app, Operation(
            "POST", "/api/dev/sms", "inject an SMS through the development SMSC and wait "
            "for the replies (only while the simulator is on)",
            body=DevSmsIn, response=DevSmsOut, errors={404: "the simulator is not running"},
        ), dev_sms)
        add_route(self.app, Operation(
            "GET", "/api/openapi.json", "this document", description="OpenAPI 3.1",
        ), openapi_json)
        self._add_extensions()
        self._runner: web.AppRunner | None = None
        if not token:
            log.warning("admin API: no [api] token set; listening on loopback without auth")

    def _add_extensions(self) -> None:
        """Routes owned by other parts: notifications (campaigns, outages), the inbox
        (bot/api_inbox.py), the Telegram and MAX webhooks."""
        from bot.api_inbox import add_routes as add_inbox_routes

        add_inbox_routes(self.app)
        try:
            from notifications.api import add_routes
        except ImportError:
            pass
        else:
            add_routes(self.app)
        from staff.web import mount

        mount(self.app, self.gateway)  # the staff workspace under /staff/
        for name in ("telegram", "max"):  # the messengers' webhook routes
            add = getattr(self.gateway.channels.get(name), "add_routes", None)
            if add is not None:
                add(self.app)

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
        )
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
