"""Normalised forms of what identifies a person, for matching (fraud rules, the blocklist).

Emails are compared the way their provider delivers them: Gmail ignores dots and `+tags`,
several others ignore `+tags`; phones are compared in E.164; addresses by their lowercased,
punctuation-free line, postcode and country.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import phonenumbers

# Providers that deliver `name+anything@` to `name@`; Gmail also ignores dots.
PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "fastmail.com",
        "proton.me",
        "protonmail.com",
    }
)
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def canonical_email(email: Any) -> str | None:
    """`J.Doe+1@GoogleMail.com` -> `jdoe@gmail.com`; other domains keep dots and tags."""
    if not isinstance(email, str) or email.count("@") != 1:
        return None
    local, domain = email.strip().lower().split("@")
    if not local or not domain:
        return None
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def canonical_phone(phone: Any, region: str | None = None) -> str | None:
    """E.164 (`+358401234567`), or None when it is not a possible number."""
    if not isinstance(phone, str) or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def canonical_address(address: Any) -> str | None:
    """One comparable string for a shipping address: street line, postcode, country."""
    if not isinstance(address, dict):
        return None
    parts = [
        address.get("address1"),
        address.get("address2"),
        address.get("zip"),
        address.get("country_code") or address.get("country"),
    ]
    text = " ".join(str(p) for p in parts if p)
    text = re.sub(r"[^\w]+", " ", text.lower()).strip()
    return text or None


def canonical_ip(ip: Any) -> str | None:
    if not isinstance(ip, str):
        return None
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None
