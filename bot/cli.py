"""`gateway` command line. Every command accepts `--config FILE` after its last word.

Commands are small functions `async def cmd_…(args, settings) -> int` registered in
`build_parser`; each imports what it needs lazily so that `gateway parse` starts fast.

Each part adds its own commands in its own module, `bot/cli_<part>.py`, with a function
`register(sub, common)` that adds subparsers (pass `parents=[common]` so `--config` works
after the last word) and sets `func=` to an `async def (args, settings) -> int`. The list
of those modules is in `register_extensions` below; nothing else here needs editing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.cli_formats import EXIT_STATUSES
from bot.cli_store import store_key
from bot.logs import RedactSecrets, secrets_of, setup_logging
from bot.settings import Settings, SettingsError, load_settings
from storage.db import StoreOpenError

log = logging.getLogger("gateway")

__all__ = ["RedactSecrets", "main", "secrets_of", "setup_logging"]

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

EXIT_USAGE = 2
EXIT_REFUSED = 3


# -- logging: bot/logs.py (re-exported here for the callers that import it from the CLI)


# -- commands ------------------------------------------------------------------------


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Gateway

    api = settings.api
    if api.enabled and not api.is_loopback and not api.token.get_secret_value():
        print(
            f"api.token: required when the admin API listens on {settings.api.host} "
            "(not loopback); set GATEWAY__API__TOKEN",
            file=sys.stderr,
        )
        return EXIT_USAGE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(settings)
    try:
        await gateway.start()
    except SettingsError as exc:
        # A channel found a setting unusable (a malformed token, webhook without a URL).
        await gateway.stop()
        print(f"gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreOpenError as exc:
        await gateway.stop()
        print(f"gateway: {store_key(settings)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        log.error("start-up failed: %s", exc)
        await gateway.stop()
        return 1
    _print_banner(gateway)
    await stop.wait()
    log.info("stopping (signal received)")
    return await stop_within(gateway, STOP_SECONDS)


# A stop ends within this, whatever is in flight: the admin API's requests get
# SHUTDOWN_SECONDS, then are cancelled; what is left is given up on.
STOP_SECONDS = 10.0


async def stop_within(gateway: Any, seconds: float) -> int:
    """Stop the gateway within `seconds`; past them abort the store's running statement
    and close it, and if even that hangs, leave at once (a process that ignores SIGTERM
    is killed by systemd later, with less care). Unsent messages stay in the outbox."""
    try:
        async with asyncio.timeout(seconds):
            await gateway.stop()
        return 0
    except TimeoutError:
        log.warning("stop took longer than %g s; unsent messages stay in the outbox", seconds)
    try:
        async with asyncio.timeout(2):
            await gateway.close_store(interrupt=True)
    except TimeoutError:
        log.error("the store did not close; exiting without it")
        logging.shutdown()
        os._exit(1)
    return 0


def _print_banner(gateway: Any) -> None:
    s = gateway.settings
    lines = ["sbyt-gateway is running:"]
    lines.append(f"  store        {s.storage.target.describe()}")
    if s.smpp.enabled:
        mode = "SIMULATOR (development SMSC, nothing leaves this machine)" if s.smpp.simulator \
            else "real SMSC"
        lines.append(f"  SMS          SMPP {s.smpp.host}:{s.smpp.port} — {mode}")
    if s.telegram.enabled:
        lines.append(f"  Telegram     {s.telegram.mode} via {s.telegram.api_base}")
    else:
        lines.append("  Telegram     off (set GATEWAY__TELEGRAM__TOKEN and [telegram] enabled)")
    if s.max.enabled:
        lines.append(f"  MAX          {s.max.mode} via {s.max.api_base}")
    if s.email.enabled:
        email = gateway.channels.get("email")
        port = getattr(email, "port", s.email.listen_port)
        lines.append(f"  e-mail       {s.email.address}: SMTP in on {s.email.listen_host}:{port},"
                     f" out via {s.email.smtp_host}:{s.email.smtp_port}")
    if gateway.api is not None:
        lines.append(f"  admin API    http://{s.api.host}:{gateway.api.port}  (GET /healthz)")
        lines.append(f"  metrics      http://{s.api.host}:{gateway.api.port}/metrics"
                     f"  (instance {s.instance})")
    if s.demo.enabled:
        lines.append("  DEMO DATA    on ([demo] enabled = true)")
    lines.append("Try:")
    if s.smpp.enabled and s.smpp.simulator and gateway.api is not None:
        # `sms send` goes through /api/dev/sms, which exists only with the simulator.
        lines.append(
            '  .venv/bin/gateway sms send --from +79121234567 "ЛС 1234567890 день 4521 ночь 1876"'
        )
    lines.append("  .venv/bin/gateway chat --phone +79121234567")
    print("\n".join(lines), flush=True)


async def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import handler_config, make_parse
    from bot.console import ConsoleChannel
    from bot.core import normalize_phone
    from bot.engine import ConversationEngine
    from handlers.dispatch import Handlers
    from handlers.inbox import InboxIntake
    from notifications.sender import OutboxSender
    from storage.store import Store

    if args.phone:
        phone = normalize_phone(args.phone, settings.service.phone_region)
        if phone is None:
            print(f"--phone: cannot read {args.phone!r} as a phone number", file=sys.stderr)
            return EXIT_USAGE
        address = phone
    else:
        address = f"telegram:{args.telegram}"
    async with await Store.open(settings.storage.target) as store:
        if settings.demo.enabled:
            from storage.demo import load_demo_if_empty

            await load_demo_if_empty(store.db)
        console = ConsoleChannel(address)
        sender = OutboxSender(store.outbox, store.contacts, {"console": console})
        config = handler_config(settings)
        engine = ConversationEngine(
            store, Handlers(store, config), make_parse(settings),
            phone_region=settings.service.phone_region,
            inbox=InboxIntake(store, config),
        )
        await console.start(engine.accept, sender.on_report)
        interactive = sys.stdin.isatty()
        if interactive:
            print(f"Чат от имени {address}. Пустая строка или Ctrl-D — выход.", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                print(">> ", end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or (interactive and not line.strip()):
                break
            text = line.rstrip("\n")
            if not interactive:
                print(f">> {text}", flush=True)
            await console.say(text)
            await engine.drain(30)
            await sender.drain()
        await engine.close()
        await console.stop()
    return 0


async def cmd_parse(args: argparse.Namespace, settings: Settings) -> int:
    from parsers import parse_line

    digits = settings.readings.account_digits
    out = sys.stdout
    for raw in sys.stdin:
        line = raw[:-1] if raw.endswith("\n") else raw
        line = line.removesuffix("\r")
        result = parse_line(line, json_mode=args.json, account_digits=digits)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


# -- parser --------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS,
        help="settings file (default: $GATEWAY_CONFIG or ./settings.toml)",
    )
    common.add_argument(
        "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="say on stderr which settings file and store this command uses",
    )
    return common


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="gateway", parents=[common],
        description="SMS and Telegram customer gateway for electricity retailers",
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", parents=[common], help="start the gateway")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("chat", parents=[common], help="talk to the engine as a customer")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="as this phone number (E.164 or 8…)")
    who.add_argument("--telegram", type=int, help="as this Telegram user id")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("parse", parents=[common], help="parse stdin lines to JSON lines")
    p.add_argument("--json", action="store_true", help="each line is a JSON string literal")
    p.set_defaults(func=cmd_parse, no_db=True)

    # Extensions by the other parts register here (import, export, smsc, sms, broadcast,
    # outage, campaigns, appeals, report).
    register_extensions(sub, common)
    return parser, sub


def register_extensions(sub: Any, common: argparse.ArgumentParser) -> None:
    for module_name in (
        "bot.cli_registry",
        "bot.cli_sms",
        "bot.cli_appeals",
        "bot.cli_inbox",
        "bot.cli_notifications",
        "bot.cli_reports",
        "bot.cli_staff",
    ):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub, common)


def main(argv: list[str] | None = None) -> int:
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(getattr(args, "config", None))
        if args.command == "run":
            settings.check_channels()
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings, quiet=args.command in {"parse", "chat", "export"})
    if not getattr(args, "no_db", False):
        from bot.cli_store import describe, reads_only, store_problem

        if getattr(args, "verbose", False):
            print(describe(settings), file=sys.stderr)
        problem = store_problem(settings, reading=reads_only(args))
        if problem is not None:
            print(f"gateway: {problem}", file=sys.stderr)
            return EXIT_USAGE
    elif getattr(args, "verbose", False):
        source = settings.source_file or "built-in defaults (no file)"
        print(f"gateway: settings {source}; no store", file=sys.stderr)
    func: Command = args.func
    try:
        return asyncio.run(func(args, settings))
    except StoreOpenError as exc:
        print(f"gateway: {store_key(settings)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `gateway export readings | head`: the reader left; no traceback. Python would
        # fail again flushing stdout at exit, so point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
