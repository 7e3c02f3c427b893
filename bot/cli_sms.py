"""`gateway smsc` and `gateway sms send` (docs/interfaces.md §6); the work is in
`sms_gateway/cli.py`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.settings import Settings

EXIT_USAGE = 2


async def cmd_smsc(args: argparse.Namespace, settings: Settings) -> int:
    from sms_gateway.cli import run_smsc

    return await run_smsc(settings, max_tps=args.max_tps, spread=args.spread)


async def cmd_sms_send(args: argparse.Namespace, settings: Settings) -> int:
    import aiohttp

    from sms_gateway.cli import post_dev_sms

    api = settings.api
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host  # noqa: S104
    base = f"http://{host}:{api.port}"
    text = " ".join(args.text)
    try:
        status, body = await post_dev_sms(
            base, api.token.get_secret_value(), args.phone, args.to, text, args.timeout
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"gateway: cannot reach the gateway API at {base}: {exc}", file=sys.stderr)
        return 1
    error = body.get("error") if isinstance(body, dict) else None
    if status == 404 and error is None:
        print("gateway: /api/dev/sms is not available (is [smpp] simulator on?)", file=sys.stderr)
        return 1
    if status != 200:
        # The API says what was wrong («from: not a phone number», «timeout: …»): show it.
        detail = f": {error}" if error else ""
        print(f"gateway: the API answered HTTP {status}{detail}", file=sys.stderr)
        return EXIT_USAGE if status == 400 else 1
    replies = [str(r) for r in body.get("replies", [])] if isinstance(body, dict) else []
    if not replies:
        print(f"(no reply within {args.timeout:g} s)")
    for reply in replies:
        print(reply)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("smsc", parents=[common], help="run the development SMSC alone")
    p.add_argument(
        "--max-tps", type=float, default=None,
        help="throttle submit_sm above this many per second over all binds (default: none)",
    )
    p.add_argument(
        "--spread", choices=("round_robin", "first"), default="round_robin",
        help="MO parts and receipts over all binds in turn (default) or to the first",
    )
    p.set_defaults(func=cmd_smsc, no_db=True)

    sms = sub.add_parser("sms", parents=[common], help="development SMS tools")
    sms_sub = sms.add_subparsers(dest="sms_command", metavar="SUBCOMMAND")
    sms_sub.required = True
    p = sms_sub.add_parser(
        "send", parents=[common], help="inject an MO through the running gateway's simulator"
    )
    p.add_argument("--from", dest="phone", required=True, help="sender phone number")
    p.add_argument("--to", default=None, help="number written to (default [smpp] source_addr)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for replies")
    p.add_argument("text", nargs="+", help="message text")
    p.set_defaults(func=cmd_sms_send, no_db=True)
