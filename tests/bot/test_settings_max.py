"""The `[max]` settings section and `[notifications] max_rate` (docs/interfaces.md §14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings


def _load(tmp_path: Path, text: str) -> Settings:
    cfg = tmp_path / "s.toml"
    cfg.write_text(text, encoding="utf-8")
    return load_settings(cfg)


def test_defaults() -> None:
    settings = load_settings(None, use_default_file=False)
    mx = settings.max
    assert (mx.enabled, mx.api_base, mx.mode, mx.webhook_url, mx.webhook_path) == (
        False, "https://platform-api2.max.ru", "polling", "", "/max/webhook")
    assert settings.notifications.max_rate == 30


def test_the_shipped_settings_file_loads() -> None:
    shipped = Path(__file__).resolve().parents[2] / "settings.toml"
    settings = load_settings(shipped)
    assert settings.max.webhook_path == "/max/webhook"
    assert settings.notifications.max_rate == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[max]\ntoken = "in-the-file"\n',
         "max.token must come from the environment (GATEWAY__MAX__TOKEN)"),
        ('[max]\nwebhook_secret = "in-the-file"\n',
         "max.webhook_secret must come from the environment (GATEWAY__MAX__WEBHOOK_SECRET)"),
        ('[max]\nmode = "push"\n', "max.mode"),
        ('[max]\nwebhook_path = "max/webhook"\n', "max.webhook_path"),
        ("[notifications]\nmax_rate = 0\n", "notifications.max_rate"),
        ('[max]\napi_bsae = "x"\n', "max.api_bsae: unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as err:
        _load(tmp_path, text)
    assert message in str(err.value)
    assert "in-the-file" not in str(err.value)


def test_token_and_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY__MAX__TOKEN", "max-env-token")
    monkeypatch.setenv("GATEWAY__MAX__WEBHOOK_SECRET", "max-env-secret")
    settings = _load(tmp_path, "[max]\nenabled = true\n")
    assert settings.max.token.get_secret_value() == "max-env-token"
    assert settings.max.webhook_secret.get_secret_value() == "max-env-secret"
    assert "max-env-token" not in repr(settings.max)
    settings.check_channels()


def test_run_refuses_max_without_a_token(tmp_path: Path) -> None:
    settings = _load(tmp_path, "[max]\nenabled = true\n")
    with pytest.raises(SettingsError, match="GATEWAY__MAX__TOKEN"):
        settings.check_channels()


def test_banner_names_the_max_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from bot.cli import _print_banner

    settings = _load(tmp_path, '[max]\nenabled = true\nmode = "webhook"\n')
    _print_banner(SimpleNamespace(settings=settings, api=None, channels={}))
    assert "MAX          webhook via https://platform-api2.max.ru" in capsys.readouterr().out
