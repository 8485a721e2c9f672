"""A shopper-given name quoted in a share email: no links, no domains, no control or
direction characters, at most 40 characters."""

from __future__ import annotations

import pytest

from shopify_app.emails.names import MAX_LENGTH, safe_name


@pytest.mark.parametrize(
    "given, shown",
    [
        ("Ada", "Ada"),
        ("José María", "José María"),
        ("O'Brien", "O'Brien"),
        ("J.R. Tolkien", "J.R. Tolkien"),
        ("Visit https://evil.example/login now", "Visit now"),
        ("evil.com", None),
        ("Ada evil[.]com", "Ada"),
        ("ＥＶＩＬ．ＣＯＭ Ada", "Ada"),  # fullwidth look-alikes fold first
        ("www.x", None),
        ("bit.ly/x Ada", "Ada"),
        ("mail me a@b.com", "mail me"),
        ("\u202eAda\u202c", "Ada"),  # bidi override
        ("Ada\u200b.com", "Ada com"),  # a zero-width space splits, it does not join
        ("Ada\r\nSubject: hi", "Ada Subject hi"),
        ("Call 1-800-555-0100", "Call"),
        ("<script>", "script"),
        ("...", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_safe_name(given, shown):
    assert safe_name(given) == shown


def test_a_long_name_is_cut_at_a_word_within_the_bound():
    name = safe_name("Alexandria " * 20)
    assert name is not None and len(name) <= MAX_LENGTH and name.endswith("Alexandria")
    assert len(safe_name("x" * 500)) == MAX_LENGTH
