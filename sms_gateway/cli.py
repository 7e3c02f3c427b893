"""Command-line entry points of the SMS part (`gateway smsc`, `gateway sms send`).

`bot/cli_sms.py` registers them as subcommands; they are plain async functions so that
tests and other tools can call them directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from .simulator import SmscSimulator, Spread

if TYPE_CHECKING:
    from bot.settings import Settings


async def run_smsc(
    settings: Settings, *, max_tps: float | None = None, spread: Spread = "round_robin"
) -> int:
    """Run the development SMSC alone on `[smpp] host:port` until SIGINT/SIGTERM.

    It takes any number of binds with the `[smpp]` credentials (several instances with
    `[smpp] binds` each, docs/interfaces.md §13); `max_tps` throttles the submit_sm of
    all binds together per wall-clock second (the operator's grant; None: no limit);
    `spread` says where MO parts and receipts go (in turn over the binds, or the first)."""
    smpp = settings.smpp
    simulator = SmscSimulator(
        smpp.host,
        smpp.port,
        system_id=smpp.system_id,
        password=smpp.password.get_secret_value(),
        default_to=smpp.source_addr,
        max_tps=max_tps,
        spread=spread,
        # a long run must not keep every part it ever accepted
        keep_messages=False,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with simulator:
            limit = f"at most {max_tps:g} submit_sm/s" if max_tps else "no TPS limit"
            print(
                f"Development SMSC (SMPP 3.4 simulator) listening on {smpp.host}:"
                f"{simulator.port}, system_id {smpp.system_id!r}, {limit}, "
                f"MO and receipts {spread.replace('_', ' ')}; Ctrl+C to stop",
                flush=True,
            )
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    by_bind = ", ".join(
        f"bind {number}: {count}" for number, count in sorted(simulator.submits_by_bind.items())
    )
    print(
        f"SMSC stopped: {simulator.accepted} submit_sm accepted, {simulator.throttled} "
        f"throttled, {simulator.binds} binds" + (f" ({by_bind})" if by_bind else ""),
        flush=True,
    )
    return 0


async def sms_send(  # noqa: PLR0917 - the signature the lead asked for
    api_base_url: str,
    api_token: str,
    phone: str,
    to: str | None,
    text: str,
    timeout: float = 10,  # noqa: ASYNC109 - the wait the API does, not a client deadline
) -> tuple[int, list[str]]:
    """POST the MO to the running gateway (`/api/dev/sms`); returns (HTTP status,
    replies). The API injects it through the simulator and answers {"replies": [...]}."""
    status, body = await post_dev_sms(api_base_url, api_token, phone, to, text, timeout)
    replies: list[str] = []
    if isinstance(body, dict) and isinstance(body.get("replies"), list):
        replies = [str(item) for item in body["replies"]]
    return status, replies


async def post_dev_sms(  # noqa: PLR0917 - as sms_send
    api_base_url: str,
    api_token: str,
    phone: str,
    to: str | None,
    text: str,
    timeout: float = 10,  # noqa: ASYNC109 - the wait the API does, not a client deadline
) -> tuple[int, Any]:
    """`sms_send` with the API's whole answer: (HTTP status, its JSON body or None), so
    that an error's text (`{"error": …}`) reaches the person who typed the command."""
    import aiohttp

    headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
    body = {"from": phone, "to": to, "text": text, "timeout": timeout}
    client_timeout = aiohttp.ClientTimeout(total=timeout + 10)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as http,
        http.post(f"{api_base_url.rstrip('/')}/api/dev/sms", json=body, headers=headers) as resp,
    ):
        data: Any = None
        if resp.content_type == "application/json":
            data = await resp.json()
        return resp.status, data
