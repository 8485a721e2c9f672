"""Production refuses unsafe settings, naming each problem; local runs need nothing set."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shopify_app import create_app
from shopify_app.config import (
    DEV_API_SECRET,
    DEV_INBOUND_EMAIL_SECRET,
    ConfigError,
    load_config,
    validate_config,
)

GOOD_PRODUCTION = {
    "APP_ENV": "production",
    "SHOPIFY_API_KEY": "live-key",
    "SHOPIFY_API_SECRET": "live-secret",
    "SHOPIFY_APP_URL": "https://referrals.example.com",
    "DATABASE_URL": "postgresql://app@db/referrals",
    "REDIS_URL": "redis://cache:6379/0",
    "ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "SMTP_URL": "smtp://relay.example.com:587",
    "REALTIME_URL": "https://realtime.referrals.example.com",
    "INBOUND_EMAIL_DOMAIN": "reply.referrals.example.com",
    "INBOUND_EMAIL_SECRET": "x7Yq2-inbound-signing-secret-of-enough-length",
}


def problems(environ):
    with pytest.raises(ConfigError) as exc:
        validate_config(load_config(environ=environ))
    return str(exc.value)


def test_complete_production_settings_pass_and_point_at_shopify():
    cfg = load_config(environ=GOOD_PRODUCTION)
    validate_config(cfg)
    assert cfg["SHOPIFY_SHOP_URL"] == "https://{shop}"
    assert cfg["SHOPIFY_ADMIN_URL"] == "https://admin.shopify.com"
    assert cfg["APP_BRIDGE_URL"].startswith("https://cdn.shopify.com/")


def test_production_is_the_default_and_lists_every_missing_secret():
    message = problems({})
    for name in (
        "SHOPIFY_API_KEY",
        "SHOPIFY_API_SECRET",
        "ENCRYPTION_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "SHOPIFY_APP_URL",
        "REALTIME_URL",
        "INBOUND_EMAIL_DOMAIN",
        "INBOUND_EMAIL_SECRET",
    ):
        assert name in message


def test_production_refuses_the_development_or_a_short_inbound_email_secret():
    assert "INBOUND_EMAIL_SECRET is the development default" in problems(
        {**GOOD_PRODUCTION, "INBOUND_EMAIL_SECRET": DEV_INBOUND_EMAIL_SECRET}
    )
    assert "INBOUND_EMAIL_SECRET must be at least 32 characters" in problems(
        {**GOOD_PRODUCTION, "INBOUND_EMAIL_SECRET": "short"}
    )
    assert "INBOUND_EMAIL_DOMAIN is the development default" in problems(
        {**GOOD_PRODUCTION, "INBOUND_EMAIL_DOMAIN": "inbound.localhost"}
    )


def test_production_refuses_development_default_secret():
    assert "development default" in problems(
        {**GOOD_PRODUCTION, "SHOPIFY_API_SECRET": DEV_API_SECRET}
    )


def test_production_refuses_plain_http_shopify_endpoints():
    message = problems(
        {
            **GOOD_PRODUCTION,
            "SHOPIFY_SHOP_URL": "http://{shop}",
            "SHOPIFY_APP_URL": "http://referrals.example.com",
        }
    )
    assert "SHOPIFY_SHOP_URL must use https://" in message
    assert "SHOPIFY_APP_URL must use https://" in message


def test_invalid_encryption_key_is_refused():
    assert "Fernet" in problems({**GOOD_PRODUCTION, "ENCRYPTION_KEY": "too-short"})


def test_create_app_refuses_to_start_in_production_without_secrets(monkeypatch):
    for name in GOOD_PRODUCTION:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError):
        create_app({"APP_ENV": "production"})


def test_development_defaults_point_at_the_devstore_and_generate_a_local_key(tmp_path):
    cfg = load_config(environ={"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    validate_config(cfg)
    assert cfg["SHOPIFY_SHOP_URL"] == "http://127.0.0.1:8081/shops/{shop}"
    assert (tmp_path / "encryption.key").read_text() == cfg["ENCRYPTION_KEY"]
    again = load_config(environ={"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert again["ENCRYPTION_KEY"] == cfg["ENCRYPTION_KEY"]
    assert (tmp_path / "encryption.key").stat().st_mode & 0o077 == 0


def test_unknown_app_env_is_refused():
    assert "APP_ENV" in problems({"APP_ENV": "staging"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKEN_REFRESH_MARGIN_SECONDS", "3600"),
        ("TOKEN_REFRESH_MARGIN_SECONDS", "soon"),
        ("ID_TOKEN_LEEWAY_SECONDS", "600"),
        ("HTTP_TIMEOUT_SECONDS", "0"),
        ("WEBHOOK_MAX_BYTES", "-1"),
    ],
)
def test_numbers_out_of_range_or_unparseable_are_config_errors(name, value):
    assert name in problems({**GOOD_PRODUCTION, name: value})


def test_the_public_dev_secret_is_refused_with_a_real_api_key_in_any_environment(tmp_path):
    message = problems(
        {
            "APP_ENV": "development",
            "INSTANCE_PATH": str(tmp_path),
            "SHOPIFY_API_KEY": "real-app",
        }
    )
    assert "public development default" in message


def test_request_hardening_defaults_and_their_overrides(tmp_path):
    """Production trusts one proxy (the platform router), local runs none; the caps and rate
    limits have the documented defaults and come from the environment."""
    prod = load_config(environ=GOOD_PRODUCTION)
    assert prod["TRUSTED_PROXY_COUNT"] == 1
    assert (prod["MAX_CONTENT_LENGTH"], prod["FORM_FIELD_MAX_CHARS"]) == (1_048_576, 4000)
    assert (
        prod["RATE_LIMIT_REFERRAL_LINK"],
        prod["RATE_LIMIT_AUTH"],
        prod["RATE_LIMIT_PROXY"],
    ) == ("60 per minute", "20 per minute", "60 per minute")
    local = load_config(environ={"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert local["TRUSTED_PROXY_COUNT"] == 0
    tuned = load_config(
        environ={**GOOD_PRODUCTION, "TRUSTED_PROXY_COUNT": "2", "RATE_LIMIT_PROXY": "5/second"}
    )
    validate_config(tuned)
    assert (tuned["TRUSTED_PROXY_COUNT"], tuned["RATE_LIMIT_PROXY"]) == (2, "5/second")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXY_COUNT", "9"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("MAX_CONTENT_LENGTH", "100"),
        ("FORM_FIELD_MAX_CHARS", "many"),
        ("RATE_LIMIT_REFERRAL_LINK", "lots"),
        ("RATE_LIMIT_AUTH", "0 per minute"),
        ("RATE_LIMIT_PROXY", "60 per fortnight"),
    ],
)
def test_bad_request_limits_are_config_errors(name, value):
    assert name in problems({**GOOD_PRODUCTION, name: value})
