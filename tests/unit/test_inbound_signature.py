"""The inbound endpoint's request signature (shopify_app/inbound/signature.py), checked
against the devstore's signer, which is written separately on purpose."""

from __future__ import annotations

from devstore.signing import sign_inbound_mail
from shopify_app.inbound.signature import TOLERANCE_SECONDS, refusal

NOW = 1_800_000_000.0
BODY = b"From: ada@example.com\r\n\r\nhi\r\n"
NEW, OLD = "the-current-inbound-secret-0123456789", "the-previous-inbound-secret-012345678"


def check(secret, *, timestamp=str(int(NOW)), signature=None, body=BODY, now=NOW):
    signature = sign_inbound_mail(NEW, timestamp, BODY) if signature is None else signature
    return refusal(secret, timestamp=timestamp, signature=signature, body=body, now=now)


def test_a_signed_fresh_request_passes():
    assert check(NEW) is None
    assert check(NEW, now=NOW + TOLERANCE_SECONDS) is None


def test_unsigned_malformed_stale_and_tampered_requests_are_refused():
    assert check(NEW, signature="") == "unsigned"
    assert check(NEW, timestamp="") == "unsigned"
    assert check(NEW, timestamp="12.5") == "bad timestamp"
    assert check(NEW, timestamp="-1") == "bad timestamp"
    assert check(NEW, now=NOW + TOLERANCE_SECONDS + 1) == "stale timestamp"
    assert check(NEW, now=NOW - TOLERANCE_SECONDS - 1) == "stale timestamp"
    assert check(NEW, body=BODY + b"x") == "bad signature"
    assert check(OLD) == "bad signature"
    assert check(NEW, signature="v1=" + "0" * 64) == "bad signature"
    later = str(int(NOW) + 1)  # the signature binds the timestamp too
    assert check(NEW, timestamp=later, signature=sign_inbound_mail(NEW, str(int(NOW)), BODY)) == (
        "bad signature"
    )


def test_during_a_rotation_either_secret_and_either_offered_value_passes():
    by_old = sign_inbound_mail(OLD, str(int(NOW)), BODY)
    assert check((NEW, OLD), signature=by_old) is None
    assert check(NEW, signature=by_old) == "bad signature"
    assert (
        check(NEW, signature=f"v1=deadbeef, {sign_inbound_mail(NEW, str(int(NOW)), BODY)}") is None
    )
