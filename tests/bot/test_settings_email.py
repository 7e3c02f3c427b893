"""The `[email]` settings section (docs/interfaces.md §14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ON = ('[email]\nenabled = true\naddress = "Info@Retailer.example"\n'
      'smtp_host = "relay.retailer.example"\n')


def _load(tmp_path: Path, text: str) -> object:
    cfg = tmp_path / "s.toml"
    cfg.write_text(text, encoding="utf-8")
    return load_settings(cfg)


def test_defaults() -> None:
    email = load_settings(None, use_default_file=False).email
    assert (email.enabled, email.listen_host, email.listen_port, email.smtp_port,
            email.smtp_starttls, email.max_mb) == (False, "127.0.0.1", 2525, 25, True, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[email]\nenabled = true\nsmtp_host = "relay"\n',
         "address is required when the e-mail channel is enabled"),
        ('[email]\nenabled = true\naddress = "info@retailer.example"\n',
         "smtp_host (the company relay) is required when enabled"),
        ('[email]\naddress = "info"\n', "'info' is not an e-mail address"),
        ('[email]\nlisten_port = 70000\n', "email.listen_port"),
        ('[email]\nmax_mb = 0\n', "email.max_mb"),
        ('[email]\nsmtp_password = "in-the-file"\n',
         "email.smtp_password must come from the environment (GATEWAY__EMAIL__SMTP_PASSWORD)"),
        ('[email]\nsmpt_host = "typo"\n', "email.smpt_host: unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as err:
        _load(tmp_path, text)
    assert message in str(err.value)
    assert "in-the-file" not in str(err.value)


def test_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY__EMAIL__SMTP_PASSWORD", "relay-secret")
    cfg = tmp_path / "s.toml"
    cfg.write_text(ON, encoding="utf-8")
    email = load_settings(cfg).email
    assert email.smtp_password.get_secret_value() == "relay-secret"
    assert email.address == "info@retailer.example"
    assert "relay-secret" not in repr(email)


def test_banner_names_the_email_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from bot.cli import _print_banner

    cfg = tmp_path / "s.toml"
    cfg.write_text(ON + "listen_port = 0\n", encoding="utf-8")
    settings = load_settings(cfg)
    channel = SimpleNamespace(port=40025)  # the port the OS gave for listen_port = 0
    _print_banner(SimpleNamespace(settings=settings, api=None, channels={"email": channel}))
    out = capsys.readouterr().out
    assert ("e-mail       info@retailer.example: SMTP in on 127.0.0.1:40025,"
            " out via relay.retailer.example:25") in out
