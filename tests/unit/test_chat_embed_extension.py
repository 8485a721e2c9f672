"""`extensions/chat-embed` passes what `shopify app deploy` checks of a theme app extension
(Shopify CLI `extensions/specifications/theme.ts`, shopify-platform.md § 11.1): only the
allowed folders, flat, with the allowed file types; the whole extension within 10 MB, its
Liquid within 500 KB, at most 30 blocks, locale files within 15 KB; and what the block needs:
an app embed schema whose script and stylesheet are in assets/, every translated key in both
languages, no script from elsewhere, a small script."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from devstore.theme import SCHEMA_TAG

ROOT = Path(__file__).parents[2]
EXTENSION = ROOT / "extensions" / "chat-embed"
ALLOWED = {
    "assets": (".jpg", ".jpeg", ".json", ".js", ".css", ".png", ".svg", ".wasm"),
    "blocks": (".liquid",),
    "snippets": (".liquid",),
    "locales": (".json",),
}
KB, MB = 1024, 1024 * 1024


def files() -> list[Path]:
    return [p for p in EXTENSION.rglob("*") if p.is_file() and p.name != "shopify.extension.toml"]


def schema() -> dict:
    return json.loads(SCHEMA_TAG.search((EXTENSION / "blocks" / "chat.liquid").read_text())[1])


def test_the_extension_is_declared_as_a_theme_extension_the_app_deploys():
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    assert config == {"name": "chat-embed", "type": "theme"}
    app = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    assert EXTENSION.parent.relative_to(ROOT).as_posix() + "/*" in app["extension_directories"]
    assert app["app_proxy"]["subpath"] == schema()["settings"][-1]["default"] == "referrals"


def test_only_the_folders_and_file_types_the_cli_allows():
    assert files()
    for path in files():
        folder = path.parent.relative_to(EXTENSION).as_posix()
        assert folder in ALLOWED, f"{path}: files in {folder}/ abort `shopify app deploy`"
        assert path.name.endswith(ALLOWED[folder]), f"{path}: not a type {folder}/ allows"


def test_within_the_cli_size_limits():
    assert sum(p.stat().st_size for p in files()) <= 10 * MB
    liquid = [p for p in files() if p.parent.name in ("blocks", "snippets")]
    assert sum(p.stat().st_size for p in liquid) <= 500 * KB
    assert len(list((EXTENSION / "blocks").glob("*.liquid"))) <= 30
    for locale in (EXTENSION / "locales").glob("*.json"):
        assert locale.stat().st_size <= 15 * KB, locale
    # Ours, not the CLI's: the widget stays small (theme-check suggests small scripts).
    assert (EXTENSION / "assets" / "chat.js").stat().st_size < 30 * KB
    assert (EXTENSION / "assets" / "chat.css").stat().st_size < 100_000


def test_the_block_is_an_app_embed_whose_assets_exist():
    block = schema()
    assert block["target"] == "body"
    assert (EXTENSION / "assets" / block["javascript"]).is_file()
    assert (EXTENSION / "assets" / block["stylesheet"]).is_file()
    ids = [s["id"] for s in block["settings"]]
    assert len(ids) == len(set(ids)) and {"accent", "greeting"} <= set(ids)
    assert block["name"] and len(block["name"]) <= 25  # the theme editor's limit for names


def test_every_string_the_block_translates_is_in_english_and_finnish():
    locales = {
        p.name: json.loads(p.read_text())["chat"] for p in (EXTENSION / "locales").glob("*.json")
    }
    english = locales.pop("en.default.json")
    assert "fi.json" in locales
    liquid = (EXTENSION / "blocks" / "chat.liquid").read_text()
    keys = re.search(r"assign strings = '([^']+)' \| split", liquid)[1].split(",")
    assert set(keys) == set(english)
    script = (EXTENSION / "assets" / "chat.js").read_text()
    used = set(re.findall(r"\bt\('(\w+)'", script))
    assert used <= set(keys), used - set(keys)
    for name, strings in locales.items():
        assert strings.keys() == english.keys(), name
        for key, text in english.items():  # the same placeholders in every language
            assert re.findall(r"{\w+}", text) == re.findall(r"{\w+}", strings[key]), (name, key)


def test_the_script_loads_nothing_from_elsewhere_and_shows_text_as_text():
    script = (EXTENSION / "assets" / "chat.js").read_text()
    assert not re.search(r"https?://|['\"]//", script)
    assert "import(" not in script and "createElement('script')" not in script
    # innerHTML only for the two fixed icons; message text goes through textContent.
    assigned = re.findall(r"\.innerHTML\s*=\s*([^;]+);", script, re.S)
    assert len(assigned) == 2 and all(v.lstrip().startswith("'<svg") for v in assigned)
    assert "eval(" not in script and "new Function" not in script


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_widgets_colours_meet_wcag_aa_contrast():
    css = (EXTENSION / "assets" / "chat.css").read_text()
    colours = dict(re.findall(r"--rc-([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    text_pairs = [  # (text, background), 4.5:1 for text
        ("text", "surface"),
        ("muted", "surface"),
        ("text", "bubble"),
        ("muted", "bubble"),
        ("error", "surface"),
        ("on-accent", "accent"),
    ]
    for fg, bg in text_pairs:
        assert contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg)
    badge = re.search(r"\.rc-chat__badge \{[^}]*background: (#\w{6});[^}]*color: (#\w{6})", css)
    assert contrast(badge[1], badge[2]) >= 4.5
    # Field borders and the focus ring against the page: 3:1 for UI components.
    assert contrast(colours["border"], colours["surface"]) >= 3
    assert contrast(colours["focus"], "#ffffff") >= 3
