"""The message catalogues (shopify_app/translations/<lang>/LC_MESSAGES/messages.po) against the
messages marked in the code and templates now: a message missing from a catalogue, fuzzy or
untranslated fails (`make translations` merges the new ones in), and a translation must keep
its message's placeholders, markup and plural forms."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from shopify_app.config import PROJECT_ROOT
from shopify_app.i18n import TRANSLATIONS, available_locales

SKIP_DIRS = {".venv", ".git", "node_modules", "instance", "tests", "extensions", "static"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
TAG = re.compile(r"</?([a-z]+)")
ATTRIBUTE = re.compile(r'\s(\w[\w-]*)="')


@cache
def marked() -> dict[str, tuple[str, ...]]:
    """msgid -> (msgid, msgid_plural?) for every marked message, as `make translations` sees
    them (babel.cfg, the keywords plus `_l`)."""
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT),
        method_map,
        options_map,
        keywords=keywords,
        directory_filter=lambda path: Path(path).name not in SKIP_DIRS,
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


def catalogue(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


TRANSLATED = [code for code in available_locales() if code != "en"]


def test_there_is_a_finnish_catalogue_and_messages_are_marked():
    assert "fi" in TRANSLATED
    messages = marked()
    assert "Refer a friend to %(shop)s" in messages  # the storefront page
    assert "Your reward: %(value)s your next order." in messages  # the reward email


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_message_is_translated(language):
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue(language) if m.id}
    problems = []
    for msgid in sorted(marked()):
        entry = entries.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif not all(entry.string if isinstance(entry.string, tuple) else (entry.string,)):
            problems.append(f"untranslated: {msgid!r}")
    assert not problems, f"{language} catalogue (run `make translations`):\n" + "\n".join(problems)


def entry_problems(entry, code_ids: tuple[str, ...], num_plurals: int) -> list[str]:
    """What is wrong with one translation: a placeholder, tag or attribute added or lost, or
    the wrong number of plural forms."""
    sources = entry.id if isinstance(entry.id, tuple) else (entry.id,)
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    name, problems = repr(sources[0]), []
    if len(sources) != len(code_ids):
        problems.append(f"{name}: singular/plural differs from the code")
    if len(sources) > 1 and len(strings) != num_plurals:
        problems.append(f"{name}: {len(strings)} plural forms, not {num_plurals}")
    for string in strings:
        for pattern in (PLACEHOLDER, TAG, ATTRIBUTE):
            want = set(pattern.findall(sources[-1]))
            got = set(pattern.findall(string))
            # a plural form may leave out the count (Finnish "yhdelle ystävälle")
            optional = {"num"} if len(sources) > 1 and pattern is PLACEHOLDER else set()
            if got - want or want - got - optional:
                problems.append(f"{name}: {string!r} has {sorted(got)}, not {sorted(want)}")
    return problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_placeholders_markup_and_plural_forms(language):
    messages = marked()
    catalog = catalogue(language)
    expected = get_plural(Locale.parse(language))
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr.replace(" ", "") == expected.plural_expr.replace(" ", "")
    problems = [f"{m.id!r}: {errors}" for m, errors in catalog.check() if errors]
    for entry in catalog:
        key = entry.id if isinstance(entry.id, str) else entry.id[0]
        if key in messages:
            problems += entry_problems(entry, messages[key], catalog.num_plurals)
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_lost_placeholder_a_lost_tag_and_missing_plural_forms():
    """The checks above are not vacuous."""
    from babel.messages.catalog import Message

    lost = Message("Refer a friend to %(shop)s", "Suosittele kauppaa")
    assert entry_problems(lost, (lost.id,), 2)
    tag = Message('<a href="%(url)s">Log in</a>', "Kirjaudu %(url)s")
    assert entry_problems(tag, (tag.id,), 2)
    plural = Message(("%(num)d friend", "%(num)d friends"), ("%(num)d ystävä",))
    assert entry_problems(plural, plural.id, 2)
    good = Message(("%(num)d friend", "%(num)d friends"), ("yksi ystävä", "%(num)d ystävää"))
    assert not entry_problems(good, good.id, 2)
