"""Languages (G3): Flask-Babel's message catalogues, plural forms, dates, numbers and money.

Adding a language is adding a catalogue: `shopify_app/translations/<lang>/LC_MESSAGES/
messages.po` (`make translations` extracts the marked messages and updates every catalogue).
The app compiles the .po files in memory when it is built (`CompiledDomain`), so a fresh
clone needs no build step, and no .mo file is committed or written.

Which language a request speaks:
- the admin (embedded in Shopify): Shopify's `locale` query parameter (`fi`, `fi-FI`), kept on
  every link and GET form like `shop`/`host` (`app_url`, `embedded_fields`);
- the storefront (app proxy): the store's language folder in the signed `path_prefix`
  (`/fi/apps/referrals`), else a `locale` parameter, else the browser's Accept-Language;
- an email (no request): `email_locale(...)`, rendered under `flask_babel.force_locale`.
English is the default and the language of the source strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import support
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import Babel, Domain, get_locale, gettext
from markupsafe import escape

from .values import minor_units, money_text

DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# Requests from the storefront (the shopper's language); the admin follows Shopify's `locale`.
STOREFRONT_BLUEPRINTS = frozenset({"proxy", "storefront", "chat_proxy", "unsubscribe"})
_FOLDER = re.compile(r"(?:^|/)([a-z]{2,3}(?:-[a-zA-Z]{2,4})?)/apps/")


def available_locales() -> tuple[str, ...]:
    """English plus every language with a catalogue."""
    found = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())
    return (DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE])


def supported(tag: str | None) -> str | None:
    """`fi`, `fi-FI`, `fi_FI` -> "fi" when there is a catalogue for it; else None."""
    if not tag or not isinstance(tag, str) or len(tag) > 35:
        return None
    language = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
    return language if language in _locales() else None


def _locales() -> tuple[str, ...]:
    if has_app_context():
        cached = current_app.extensions.get("i18n_locales")
        if cached is not None:
            return cached
    return available_locales()


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = supported(request.args.get("locale"))
    if chosen:
        return chosen
    if request.blueprint in STOREFRONT_BLUEPRINTS:
        folder = _FOLDER.search(request.args.get("path_prefix", ""))
        chosen = supported(folder.group(1)) if folder else None
        if chosen:
            return chosen
        best = request.accept_languages.best_match(_locales())
        if best:
            return best
    return DEFAULT_LOCALE


def current_locale() -> str:
    """The language being rendered ("en" outside a request or `force_locale`)."""
    try:
        locale = get_locale()
    except RuntimeError:  # no app context
        return DEFAULT_LOCALE
    return locale.language if locale is not None else DEFAULT_LOCALE


def locale_param() -> str | None:
    """The admin's `locale` to keep on links, when it names a language other than English."""
    if not has_request_context():
        return None
    chosen = supported(request.args.get("locale"))
    return chosen if chosen and chosen != DEFAULT_LOCALE else None


# English keeps the app's own forms (2026-12-01, 19.90, "19.90 EUR"): what the existing pages,
# exports and tests show, and what a merchant types back into a form. Other languages use
# their CLDR formats (fi: 1.12.2026, 1 234,50, "1 234,50 €").
_DATE_FORMAT = {DEFAULT_LOCALE: "yyyy-MM-dd"}


def day_text(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    day = moment.date() if isinstance(moment, datetime) else moment
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return day.isoformat()  # = "yyyy-MM-dd", several times faster per table row
    return format_date(day, _DATE_FORMAT.get(locale, "medium"), locale=locale)


def long_day_text(moment: datetime | date | None) -> str:
    """A date written out: "05 December 2026", fi "5. joulukuuta 2026"."""
    if moment is None:
        return ""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return moment.strftime("%d %B %Y")
    return format_date(moment, "long", locale=locale)


def _decimal(minor: int, currency: str | None) -> Decimal:
    return Decimal(int(minor)).scaleb(-minor_units(currency))


def number_text(minor: int | None, currency: str | None) -> str:
    """An amount in minor units without its currency (a table column headed by it)."""
    if minor is None:
        return ""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return money_text(minor, currency)
    digits = minor_units(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(_decimal(minor, currency), pattern, locale=locale)


def amount_text(minor: int | None, currency: str | None) -> str:
    """An amount with its currency: "12.50 EUR" in English, "12,50 €" in Finnish."""
    if minor is None:
        return ""
    locale = current_locale()
    if locale == DEFAULT_LOCALE or not currency:
        return f"{money_text(minor, currency)} {currency or ''}".rstrip()
    return format_currency(_decimal(minor, currency), currency, locale=locale)


def integer_text(value: int | None) -> str:
    if value is None:
        return ""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return f"{int(value):,}"
    return format_decimal(int(value), locale=locale)


def email_locale(session: Any, shop: Any, customer: Any | None) -> str:
    """The language of an email to `customer`: the one they last bought in (Shopify's
    `customer_locale` on their orders, kept as `Customer.locale`), else the one they last
    chatted in on the storefront (the widget sends Shopify's `request.locale`), else the
    shop's primary language (`Shop.primary_locale`, from `shopLocales`: shopify_app/
    shop_locale.py), else English. Only a language with a catalogue is chosen ("fi-FI" is
    Finnish; "sv" falls through to the next)."""
    from sqlalchemy import select

    from .models import Conversation

    if customer is not None:
        chosen = supported(getattr(customer, "locale", None))
        if chosen:
            return chosen
        locale = session.scalar(
            select(Conversation.locale)
            .where(
                Conversation.shop_id == shop.id,
                Conversation.customer_id == customer.id,
                Conversation.locale.is_not(None),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        chosen = supported(locale)
        if chosen:
            return chosen
    return shop_locale(shop)


def shop_locale(shop: Any) -> str:
    """The shop's primary language when the app has a catalogue for it; else English."""
    return supported(getattr(shop, "primary_locale", None)) or DEFAULT_LOCALE


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark, do not translate yet")
    return message


# Words the code keeps in English (they are data too: CSV exports, the API, filters in URLs)
# and pages show through the `t` filter; marked here so `make translations` extracts them.
VOCABULARY = (
    N_("Member"),
    N_("Guest"),
    N_("Joined"),
    N_("Not joined"),
    N_("Subscribed"),
    N_("Not subscribed"),
    N_("Unsubscribed"),
    N_("Email marketing"),
    N_("SMS marketing"),
    N_("Shopify status"),
    N_("Program"),
    N_("Referrals"),
    N_("Has successful referrals"),
    N_("No successful referrals"),
    N_("Name"),
    N_("Customer since"),
    N_("Successful referrals"),
    N_("Referrer revenue"),
    N_("Referee revenue"),
    # shopify_app/referrals/vocabulary.py (the referral, reward and email states)
    N_("Being created"),
    N_("Issued"),
    N_("Used"),
    N_("Expired"),
    N_("Voided"),
    N_("Queued"),
    N_("Sending"),
    N_("Sent"),
    N_("Not delivered"),
    N_("Not sent"),
    N_("Delivered"),
    N_("Bounced"),
    N_("Complained"),
    N_("Pending"),
    N_("Completed"),
    N_("Blocked"),
    N_("Flagged"),
    N_("Awaiting approval"),
    N_("New"),
    # the Referrals page's tabs and attribution words, the Advocates page's ways of joining
    N_("All"),
    N_("Flagged for review"),
    N_("by discount code"),
    N_("by referral link"),
    N_("created by staff"),
    N_("by conversion event"),
    N_("On the storefront"),
    N_("From an invitation"),
    N_("Added by staff"),
    N_("Through the API"),
)


# English sentences the app keeps in the database (a fraud rule's explanation, a referral's
# reason, a reward's void reason): stored in English, as the API, exports and the history
# give them, and shown in the page's language by `stored_text` (the `stored` filter).
_STORED: dict[str, re.Pattern[str] | None] = {}
_NAMED = re.compile(r"%\((\w+)\)s")
_SENTENCE_BREAK = re.compile(r"(?<=[.;]) ")


def stored(message: str) -> str:
    """Register an English sentence (mark it with N_ too, for extraction) that is written to
    the database, with `%(name)s` placeholders filled in; returns it unchanged."""
    if message not in _STORED:
        _STORED[message] = _sentence_pattern(message) if _NAMED.search(message) else None
    return message


def _sentence_pattern(message: str) -> re.Pattern[str]:
    out, pos = [], 0
    for found in _NAMED.finditer(message):
        out.append(re.escape(message[pos : found.start()]))
        out.append(f"(?P<{found.group(1)}>.+?)")
        pos = found.end()
    out.append(re.escape(message[pos:]))
    return re.compile("".join(out) + r"\Z", re.S)


# The modules that register stored sentences (`stored(...)` at import): loaded before the
# first match, so a process that never ran the code that writes a sentence still reads it.
_STORED_IN = (
    "shopify_app.referrals.fraud",
    "shopify_app.referrals.states",
    "shopify_app.referrals.staff_actions",
    "shopify_app.referrals.rewards",
    "shopify_app.referrals.advocates",
    "shopify_app.referrals.conversions",
    "shopify_app.audit_undo",
    "shopify_app.outgoing.delivery",
    "shopify_app.admin.webhooks",
    "shopify_app.conversations.staff_chat",
)
_loaded = False


def _load_stored() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for module in _STORED_IN:
            importlib.import_module(module)
        _loaded = True


def _match_stored(text: str, *, nested: bool = True) -> str | None:
    if text in _STORED:
        return gettext(text)
    for message, pattern in _STORED.items():
        found = pattern.match(text) if pattern is not None else None
        if found:
            values = found.groupdict()
            if nested:  # a placeholder may hold stored sentences too ("Blocklisted: a; b")
                values = {k: _stored_value(v) for k, v in values.items()}
            else:  # or a stored word ("… matches email …")
                values = {k: gettext(v) if v in _STORED else v for k, v in values.items()}
            return gettext(message, **values)
    return None


def _stored_value(value: str) -> str:
    pieces = value.split("; ")
    shown = [_match_stored(piece, nested=False) for piece in pieces]
    return "; ".join(s if s is not None else p for s, p in zip(shown, pieces, strict=True))


def stored_text(text: Any) -> str:
    """A sentence read from the database, in the page's language when it is one the app
    wrote (`stored`): matched against the English messages, placeholders carried over. Several
    such sentences joined with spaces are translated one by one. Anything else (a reason staff
    typed) is shown as it is."""
    if text is None:
        return ""
    text = str(text)
    if not text or current_locale() == DEFAULT_LOCALE:
        return text
    _load_stored()
    whole = _match_stored(text)
    if whole is not None:
        return whole
    pieces = _SENTENCE_BREAK.split(text)
    if len(pieces) > 1:
        shown = [_match_stored(piece) for piece in pieces]
        if any(s is not None for s in shown):
            return " ".join(s if s is not None else p for s, p in zip(shown, pieces, strict=True))
    return text


# How a referral was attributed (`Referral.attribution`), as a page names it.
ATTRIBUTION_WORDS = {
    "discount_code": N_("discount code"),
    "link": N_("link"),
    "note_attribute": N_("note attribute"),
    "landing_site": N_("landing site"),
    "conversion": N_("conversion"),
    "manual": N_("manual"),
}


def attribution_word(value: str | None) -> str:
    """`discount_code` -> "discount code" (in English the key in words, as before)."""
    if not value:
        return ""
    if value in ATTRIBUTION_WORDS and current_locale() != DEFAULT_LOCALE:
        return gettext(ATTRIBUTION_WORDS[value])
    return value.replace("_", " ")


def translated(words: Callable[[Any], str]) -> Callable[[Any], str]:
    """A vocabulary filter whose English word is shown in the page's language."""

    def in_language(value: Any) -> str:
        return translate_word(words(value))

    return in_language


def status_word(status: str | None) -> str:
    """A state inside a sentence: "pending" in English (the stored word), "odottaa" in Finnish
    (the vocabulary's word, lowercase)."""
    if not status:
        return ""
    return gettext(status.replace("_", " ").capitalize()).lower()


def translate_word(word: str | None) -> str:
    """The `t` filter: a vocabulary word from the code in the page's language (plain text,
    escaped by the template like any value)."""
    return gettext(word) if word else ""


class CompiledDomain(Domain):
    """Flask-Babel's message domain, with every catalogue compiled in memory from its .po
    when the app is built: no .mo file is written or shipped, nothing to forget to compile."""

    def __init__(self) -> None:
        super().__init__(domain="messages")
        self.cache = {(DEFAULT_LOCALE, "messages"): support.Translations()}
        for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
            language = po.parent.parent.name
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            compiled = BytesIO()
            write_mo(compiled, catalog, use_fuzzy=False)
            compiled.seek(0)
            self.cache[(language, "messages")] = support.Translations(compiled)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.extensions["i18n_locales"] = available_locales()
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = CompiledDomain()  # a cached_property of Flask-Babel's
    app.jinja_env.filters["money"] = number_text
    app.jinja_env.filters["amount"] = amount_text
    app.jinja_env.filters["day"] = day_text
    app.jinja_env.filters["integer"] = integer_text
    app.jinja_env.filters["long_day"] = long_day_text
    app.jinja_env.filters["t"] = translate_word
    app.jinja_env.filters["stored"] = stored_text
    app.jinja_env.filters["status_word"] = status_word
    app.jinja_env.filters["attribution_word"] = attribution_word


def percent_text(value: int) -> str:
    """A whole percentage: "15%" in English, "15 %" in Finnish."""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return f"{value}%"
    return format_percent(Decimal(value) / 100, locale=locale)


class Discount:
    """A discount in words ("15% off", "10.00 EUR off"; fi "15 % alennus"), worded when it is
    shown: an email renders it in the recipient's language, a page in the request's."""

    __slots__ = ("kind", "value", "currency")

    def __init__(self, kind: str, value: int, currency: str) -> None:
        self.kind, self.value, self.currency = kind, value, currency

    def amount(self) -> str:
        if self.kind == "percentage":
            return percent_text(self.value)
        return amount_text(self.value, self.currency)

    def __str__(self) -> str:
        return gettext("%(amount)s off", amount=self.amount())

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __eq__(self, other: object) -> bool:
        return str(self) == other if isinstance(other, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))
