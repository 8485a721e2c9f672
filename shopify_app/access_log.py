"""Access-log lines without secrets.

The admin loads the app with `?id_token=…&hmac=…&session=…`, the OAuth callback carries
`code` and `state`, the app proxy `signature` and the shopper's `logged_in_customer_id`,
searches carry what staff typed. A query parameter's value is written to a log only when
its name is on `LOGGED_PARAMS` (harmless context: shop, paging, filters); every other value
becomes `[filtered]`, the name stays. The same goes for the `Referer` (an admin page's URL
holds its `id_token`), and the `Authorization` and `Cookie` headers are never written.

Used by gunicorn (`--logger-class shopify_app.access_log.GunicornLogger`, in the Procfile)
and by the development server (`referrals web`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from werkzeug.serving import WSGIRequestHandler

FILTERED = "[filtered]"
LOGGED_PARAMS = frozenset(
    {
        "shop",
        "host",
        "embedded",
        "locale",
        "timestamp",
        "sort",
        "after",
        "before",
        "shopify",
        "program",
        "status",
        "scope",
        "kind",
        "via",
        "path_prefix",
    }
)


def redact_query(query: str) -> str:
    """`a=1&id_token=eyJ…` -> `a=[filtered]&id_token=[filtered]`, values of `LOGGED_PARAMS` kept."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{quote(k, safe='[]')}={quote(v, safe='/:') if k in LOGGED_PARAMS else FILTERED}"
        for k, v in pairs
    )


def redact_target(target: str) -> str:
    """A request target or URL with its query redacted (and any fragment dropped)."""
    base, sep, query = (target or "").partition("?")
    return base + sep + redact_query(query.partition("#")[0]) if sep else target


try:
    from gunicorn.glogging import Logger
except ImportError:  # pragma: no cover - gunicorn is a dependency; not on every platform
    Logger = object  # type: ignore[assignment,misc]

_SECRET_ATOMS = ("{authorization}i", "{cookie}i", "{http_authorization}e", "{http_cookie}e")
_URL_ATOMS = ("f", "{referer}i", "{http_referer}e", "{raw_uri}e", "{request_uri}e")


class GunicornLogger(Logger):  # type: ignore[misc,valid-type]
    """gunicorn's logger with the request line, query and referer redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        target = redact_target(environ.get("RAW_URI") or "")
        atoms["r"] = f"{atoms['m']} {target} {atoms['H']}"
        atoms["q"] = redact_query(atoms.get("q") or "")
        atoms["{query_string}e"] = atoms["q"]
        for name in _URL_ATOMS:
            if name in atoms:
                atoms[name] = redact_target(atoms[name])
        for name in _SECRET_ATOMS:
            if name in atoms:
                atoms[name] = FILTERED
        return atoms


class DevRequestHandler(WSGIRequestHandler):
    """Werkzeug's development-server handler, logging the request line redacted."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", None)
        if path is None:
            return super().log_request(code, size)
        self.path = redact_target(path)
        try:
            super().log_request(code, size)
        finally:
            self.path = path
