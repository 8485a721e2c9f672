"""Where outgoing webhooks may go (SSRF) and how they are signed, without a network."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from shopify_app.config import ConfigError, load_config, validate_config
from shopify_app.outgoing import addresses, signing


@pytest.fixture
def dns(monkeypatch):
    """Names resolve to what the test says (no real DNS)."""
    answers: dict[str, list[str]] = {}

    def resolve(host: str, _port: int) -> list[str]:
        if host in answers:
            return answers[host]
        return [host]  # a literal address resolves to itself

    monkeypatch.setattr(addresses, "resolve", resolve)
    return answers


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10:8443/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://100.64.0.1/hook", "not a public address"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://internal.example.com/hook", "10.0.0.5 is a private address"),
        ("https://split.example.com/hook", "192.168.0.9 is a private address"),
    ],
)
def test_production_refuses_non_public_addresses(dns, url, why):
    dns["internal.example.com"] = ["10.0.0.5"]
    dns["split.example.com"] = ["93.184.216.34", "192.168.0.9"]  # one bad answer is enough
    with pytest.raises(addresses.UnsafeURL, match=why):
        addresses.check(url, allow_local=False)


def test_production_takes_https_to_a_public_address_and_only_https(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    target = addresses.check("https://hooks.example.com/in?x=1", allow_local=False)
    assert (target.host, target.port, target.ip) == ("hooks.example.com", 443, "93.184.216.34")
    assert target.connect_url() == "https://93.184.216.34:443/in?x=1"
    assert target.host_header() == "hooks.example.com"
    with pytest.raises(addresses.UnsafeURL, match="https://"):
        addresses.check("http://hooks.example.com/in", allow_local=False)


def test_the_local_setting_allows_http_and_loopback(dns):
    target = addresses.check("http://127.0.0.1:8099/hooks", allow_local=True)
    assert target.connect_url() == "http://127.0.0.1:8099/hooks"
    assert target.host_header() == "127.0.0.1:8099"


def test_a_name_that_does_not_resolve_is_refused(monkeypatch):
    def fail(_host, _port):
        raise OSError("no such name")

    monkeypatch.setattr(addresses, "resolve", fail)
    with pytest.raises(addresses.UnsafeURL, match="does not resolve"):
        addresses.check("https://nowhere.invalid/x", allow_local=False)


def test_production_config_never_allows_local_endpoints(tmp_path):
    cfg = load_config({}, {"APP_ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    assert cfg["OUTGOING_WEBHOOKS_ALLOW_LOCAL"] is False
    local = load_config({}, {"APP_ENV": "test", "INSTANCE_PATH": str(tmp_path)})
    assert local["OUTGOING_WEBHOOKS_ALLOW_LOCAL"] is True
    with pytest.raises(ConfigError, match="OUTGOING_WEBHOOKS_ALLOW_LOCAL"):
        validate_config({**cfg, "OUTGOING_WEBHOOKS_ALLOW_LOCAL": True})


def test_signatures_verify_with_the_reference_library_one_or_two_secrets():
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"reward.used","timestamp":"2026-12-04T22:00:00.000Z","data":{}}'
    import time

    now = int(time.time())
    headers = signing.headers([new, old], "evt_1", now, body)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, headers)["type"] == "reward.used"
    single = signing.headers([new], "evt_1", now, body)
    assert Webhook(new).verify(body, single)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old).verify(body, single)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new).verify(body + b" ", single)


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("2002:7f00:1::1", "127.0.0.1 is a loopback"),  # 6to4 around loopback
        ("2002:a9fe:a9fe::1", "169.254.169.254 is a link-local"),  # around cloud metadata
        ("2002:0a00:0001::1", "10.0.0.1 is a private"),
    ],
)
def test_6to4_addresses_that_embed_a_non_public_ipv4_are_refused(address, inner):
    assert addresses.refusal(address) == f"{address} embeds {inner} address"


def test_6to4_around_a_public_ipv4_is_public():
    assert addresses.refusal("2002:0808:0808::1") is None
