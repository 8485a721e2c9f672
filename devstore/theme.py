"""The online store theme as far as apps reach it: the app embeds of theme app extensions.

Shopify renders an app embed block (a `blocks/*.liquid` of a theme app extension whose schema
targets `body` or `head`) on every storefront page once the merchant has switched it on in the
theme editor (Theme settings > App embeds); after install every embed is off, and no API
switches one on. The devstore reads the project's `extensions/` as `shopify app deploy` would
upload them and renders the enabled embeds with Liquid: `shop`, `customer`, `request.locale`,
`routes.root_url`, `block.settings`, the `t` filter over the extension's `locales/` and
`asset_url` for its `assets/`, served from the devstore's stand-in for Shopify's CDN
(`/cdn/extensions/<extension>/assets/<file>`). The schema's `javascript` and `stylesheet` are
added as Shopify adds them: the script deferred, the stylesheet linked.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from liquid import Environment
from liquid.filter import with_context
from markupsafe import Markup

from .app_config import PROJECT_ROOT

EXTENSIONS_ROOT = PROJECT_ROOT / "extensions"
EMBED_TARGETS = ("body", "head", "compliance_head")
SCHEMA_TAG = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class AppEmbedState:
    """One app embed in the shop's theme (Shopify keeps it in `config/settings_data.json`)."""

    enabled: bool = False
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppEmbed:
    extension: ThemeExtension
    handle: str  # the block's file name: what `activateAppId=<api_key>/<handle>` names
    schema: dict[str, Any]
    source: str  # the Liquid without its schema

    @property
    def name(self) -> str:
        return str(self.schema.get("name") or self.handle)

    @property
    def settings_schema(self) -> list[dict[str, Any]]:
        return [s for s in self.schema.get("settings", []) if isinstance(s, dict) and s.get("id")]

    def settings(self, saved: dict[str, str] | None) -> dict[str, Any]:
        """The block's settings: the merchant's values over the schema's defaults."""
        values = {s["id"]: s.get("default") for s in self.settings_schema}
        values.update({k: v for k, v in (saved or {}).items() if k in values})
        return values

    def clean_settings(self, form: dict[str, str]) -> dict[str, str]:
        """What the theme editor keeps of the posted values (as its inputs allow)."""
        cleaned: dict[str, str] = {}
        for setting in self.settings_schema:
            value = (form.get(setting["id"]) or "").strip()
            kind = setting.get("type")
            if kind == "color" and not HEX_COLOUR.match(value):
                continue
            options = {o.get("value") for o in setting.get("options", [])}
            if kind == "select" and value not in options:
                continue
            cleaned[setting["id"]] = value[:500]
        return cleaned


@dataclass(frozen=True)
class ThemeExtension:
    name: str
    directory: Path
    locales: dict[str, dict[str, Any]]
    default_locale: str
    embeds: dict[str, AppEmbed] = field(default_factory=dict, compare=False, hash=False)

    def translate(self, key: str, locale: str, values: dict[str, Any]) -> str:
        for code in (locale, locale.split("-")[0], self.default_locale):
            found: Any = self.locales.get(code)
            for part in key.split("."):
                found = found.get(part) if isinstance(found, dict) else None
            if isinstance(found, str):
                return re.sub(
                    r"{{\s*(\w+)\s*}}",
                    lambda m: str(values.get(m.group(1), m.group(0))),
                    found,
                )
        return f"translation missing: {locale}.{key}"

    def asset_version(self, filename: str) -> str:
        path = self.directory / "assets" / filename
        return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


@cache
def load_extensions(root: Path = EXTENSIONS_ROOT) -> dict[str, ThemeExtension]:
    """The theme app extensions under `root` (`type = "theme"` in shopify.extension.toml)."""
    import tomllib

    extensions: dict[str, ThemeExtension] = {}
    for toml_path in sorted(root.glob("*/shopify.extension.toml")):
        config = tomllib.loads(toml_path.read_text())
        if config.get("type") != "theme":
            continue
        directory = toml_path.parent
        locales: dict[str, dict[str, Any]] = {}
        default = "en"
        for path in sorted((directory / "locales").glob("*.json")):
            code = path.name.removesuffix(".json")
            if code.endswith(".schema"):
                continue
            if code.endswith(".default"):
                code = default = code.removesuffix(".default")
            locales[code] = json.loads(path.read_text())
        extension = ThemeExtension(config.get("name", directory.name), directory, locales, default)
        for block in sorted((directory / "blocks").glob("*.liquid")):
            text = block.read_text()
            match = SCHEMA_TAG.search(text)
            schema = json.loads(match.group(1)) if match else {}
            if schema.get("target") in EMBED_TARGETS:
                extension.embeds[block.stem] = AppEmbed(
                    extension, block.stem, schema, SCHEMA_TAG.sub("", text)
                )
        extensions[directory.name] = extension
    return extensions


def app_embeds(root: Path = EXTENSIONS_ROOT) -> dict[str, AppEmbed]:
    """Every app embed of the app, by block handle."""
    return {h: e for ext in load_extensions(root).values() for h, e in ext.embeds.items()}


@with_context
def _t(key: object, *, context, **values: Any) -> str:
    extension: ThemeExtension = context.globals["_extension"]
    return extension.translate(str(key), context.globals["_locale"], values)


@with_context
def _asset_url(filename: object, *, context) -> str:
    extension: ThemeExtension = context.globals["_extension"]
    return asset_url(context.globals["_cdn"], extension, str(filename))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


@cache
def _environment() -> Environment:
    env = Environment()
    env.filters["t"] = _t
    env.filters["asset_url"] = _asset_url
    env.filters["json"] = _json
    return env


def asset_url(cdn: str, extension: ThemeExtension, filename: str) -> str:
    name = extension.directory.name
    return f"{cdn}/extensions/{name}/assets/{filename}?v={extension.asset_version(filename)}"


def render_embeds(
    states: dict[str, AppEmbedState],
    *,
    shop: dict[str, Any],
    customer: dict[str, Any] | None,
    locale: dict[str, Any],
    root_url: str,
    cdn: str,
    root: Path = EXTENSIONS_ROOT,
) -> Markup:
    """The HTML of the enabled app embeds, for the end of a storefront page's body."""
    parts: list[Markup] = []
    for handle, embed in app_embeds(root).items():
        state = states.get(handle)
        if state is None or not state.enabled:
            continue
        extension = embed.extension
        template = _environment().from_string(
            embed.source,
            globals={"_extension": extension, "_locale": locale["iso_code"], "_cdn": cdn},
        )
        html = template.render(
            shop=shop,
            customer=customer,
            request={"locale": locale, "design_mode": False},
            routes={"root_url": root_url},
            block={"id": f"{extension.name}-{handle}", "settings": embed.settings(state.settings)},
        )
        if stylesheet := embed.schema.get("stylesheet"):
            url = asset_url(cdn, extension, stylesheet)
            parts.append(Markup('<link rel="stylesheet" href="{}" media="all">').format(url))
        # The block's own HTML is what its Liquid made (Liquid escapes where it says so).
        block = Markup(html)  # noqa: S704
        parts.append(
            Markup(
                '<div id="shopify-block-{}-{}" class="shopify-block shopify-app-block">{}</div>'
            ).format(extension.name, handle, block)
        )
        if javascript := embed.schema.get("javascript"):
            url = asset_url(cdn, extension, javascript)
            parts.append(Markup('<script src="{}" defer></script>').format(url))
    return Markup("\n").join(parts)
