from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shopify_app import crypto
from shopify_app.crypto import TokenCipher


def test_encrypts_and_decrypts_and_never_stores_plaintext():
    cipher = TokenCipher(Fernet.generate_key().decode())
    sealed = cipher.encrypt("shpat_secret")
    assert "shpat_secret" not in sealed
    assert cipher.decrypt(sealed) == "shpat_secret"


def test_key_rotation_decrypts_with_old_key_and_encrypts_with_new():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = TokenCipher(old).encrypt("t")
    rotated = TokenCipher(f"{new},{old}")
    assert rotated.decrypt(sealed_old) == "t"
    assert TokenCipher(new).decrypt(rotated.encrypt("t")) == "t"


def test_wrong_key_is_a_clear_error():
    sealed = TokenCipher(Fernet.generate_key().decode()).encrypt("t")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        TokenCipher(Fernet.generate_key().decode()).decrypt(sealed)


def test_a_sealed_token_opens_only_for_its_context_keys_and_length():
    keys = (b"k" * 64,)
    token = crypto.seal(keys, "7\nada@example.com", b"unsubscribe")
    assert crypto.unseal(keys, token, b"unsubscribe", 700) == "7\nada@example.com"
    assert crypto.unseal(keys, token, b"signup-confirmation", 700) is None  # another purpose
    assert crypto.unseal((b"o" * 64,), token, b"unsubscribe", 700) is None  # another key
    assert crypto.unseal((b"o" * 64, *keys), token, b"unsubscribe", 700) is not None  # rotated
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert crypto.unseal(keys, altered, b"unsubscribe", 700) is None
    assert crypto.unseal(keys, token, b"unsubscribe", len(token) - 1) is None
    assert crypto.unseal(keys, token + "=", b"unsubscribe", 700) is None  # outside the alphabet
