"""The e-mail channel: inbound SMTP (aiosmtpd) from the company mail server, outbound
through the company relay (aiosmtplib), behind the one `Channel` port of `bot/core.py`.

`mime` and `compose` are pure functions (bytes → what the customer wrote; a reply →
a MIME message); `channel` does the I/O. See docs/interfaces.md §14.
"""
