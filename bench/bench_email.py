"""E-mail channel benchmark: customers' mails in over SMTP → replies out to the relay,
through the whole gateway (journal, engine, outbox, sender), all on loopback.

    .venv/bin/python bench/bench_email.py [--mails 300] [--clients 4]

`--clients` smtplib connections (the company mail server's) deliver `--mails` readings
mails between them; an aiosmtpd sink plays the company relay. Printed: the inbound rate
(mails answered 250 per second) and the time until the last reply reached the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402

from bot.app import Gateway  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from mail_gateway.channel import EmailChannel  # noqa: E402

OURS = "info@retailer.example"


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()
        self.wanted = 0

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.count += 1
        if self.count >= self.wanted:
            self.done.set()
        return "250 OK"


def _mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"customer{i}@mail.example"
    msg["To"] = OURS
    msg["Subject"] = "Показания"
    msg["Message-ID"] = f"<bench{i}@mail.example>"
    msg.set_content(f"ЛС 1234567890 день {4400 + i} ночь 1900\n\n-- \nС уважением")
    return msg.as_bytes()


def _deliver(port: int, numbers: list[int]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for i in numbers:
            client.sendmail(f"customer{i}@mail.example", [OURS], _mail(i))


async def run(mails: int, clients: int) -> None:
    loop = asyncio.get_running_loop()
    sink = Sink()
    sink.wanted = mails
    server = await loop.create_server(lambda: SMTP(sink, hostname="relay", loop=loop),
                                      "127.0.0.1", 0)
    relay_port = server.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{Path(tmp) / "g.db"}"\n[smpp]\nport = 0\n[api]\nenabled = false\n'
            f'[email]\nenabled = true\naddress = "{OURS}"\nlisten_port = 0\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {relay_port}\nsmtp_starttls = false\n'
            "rate = 1000\nanswers_per_hour = 100\n",
            encoding="utf-8",
        )
        async with Gateway(load_settings(cfg)) as gw:
            channel = gw.channels["email"]
            assert isinstance(channel, EmailChannel)
            start = time.perf_counter()
            shares = [list(range(c, mails, clients)) for c in range(clients)]
            await asyncio.gather(*(asyncio.to_thread(_deliver, channel.port, s) for s in shares))
            accepted = time.perf_counter() - start
            async with asyncio.timeout(300):
                await sink.done.wait()
            replied = time.perf_counter() - start
    server.close()
    print(f"{mails} mails from {clients} SMTP clients: accepted in {accepted:.2f} s "
          f"({mails / accepted:.0f} mails/s); last reply at the relay after {replied:.2f} s "
          f"({mails / replied:.0f} replies/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.mails, args.clients))


if __name__ == "__main__":
    main()
