"""Every admin page, seeded (admin_story.py), in the devstore's admin frame in Chromium
(issue 21, items 1 and 2):

- at 1280, 1440 and 1920 px (and the narrow 800 and 1024) the page never scrolls sideways, nothing
  sticks out of its card, and the tables of Referrals and Advocates fit without scrolling;
  a screenshot of each page at each width goes to tests/e2e/screenshots/ (look at them);
- what a merchant reads holds no rule id, action key, Python literal or internal id.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from shopify_app.referrals.fraud import RULES
from shopify_app.wording import ACTIONS
from tests.e2e.admin_story import admin_pages, seed

WIDTHS = (800, 1024, 1280, 1440, 1920)
# Pages whose tables must fit their card at 1280 px and wider, with no scrolling inside.
MUST_FIT = {"referrals", "referrals-blocked", "advocates", "audit", "blocklist"}

# Run in the app's frame (the file's leading comment lines say what it measures).
OVERFLOW = "\n".join(
    line
    for line in (Path(__file__).parent / "overflow.js").read_text().splitlines()
    if not line.startswith("//")
)


def _open(page, live, path: str):
    page.goto(live.admin_url("alpha-shop") + path)
    app = page.frame_locator("#app-frame")
    expect(app.locator("main#page")).to_be_visible(timeout=15000)
    frame = page.frame(name="app-iframe")
    frame.wait_for_load_state("load")
    return app, frame


def _whole_frame(page, frame) -> None:
    """The admin's frame as tall as the app's page, so the screenshot shows all of it."""
    height = frame.evaluate("() => document.documentElement.scrollHeight")
    page.evaluate(
        "(h) => { document.getElementById('app-frame').style.height = h + 'px'; }", height
    )


def test_every_admin_page_fits_its_width_without_sideways_scrolling(live, browser, screenshots_dir):
    story = seed(live)
    failures = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        try:
            for name, path in admin_pages(story).items():
                _app, frame = _open(page, live, path)
                _whole_frame(page, frame)
                page.screenshot(
                    path=str(screenshots_dir / f"layout-{name}-{width}.png"), full_page=True
                )
                found = frame.evaluate(OVERFLOW)
                failures += [f"{name} at {width} px: {p}" for p in found["problems"]]
                if width >= 1280 and name in MUST_FIT and found["scrolling"]:
                    failures.append(
                        f"{name} at {width} px: {found['scrolling']} scroll inside the card"
                    )
        finally:
            context.close()
    assert not failures, "\n".join(failures)


# Rule ids that are not plain words (`caps`, `blocklist` are words too).
RULE_IDS = sorted(
    (r.rule_id for r in RULES if "." in r.rule_id or "_" in r.rule_id), key=len, reverse=True
)
KEYS = [
    (
        "an action key",
        re.compile(r"(?<![\w.@/])(" + "|".join(map(re.escape, ACTIONS)) + r")(?![\w.])"),
    ),
    (
        "a rule id",
        re.compile(r"(?<![\w.@/])(" + "|".join(map(re.escape, RULE_IDS)) + r")(?![\w.])"),
    ),
]
RAW = [
    # "None yet" is English; a lone None, True or False is Python.
    (
        "a Python literal",
        re.compile(r"\b(True|False|None)\b(?!\s+[a-z])|\[\]|\{\}|\{'|\['|\[\{|\[\["),
    ),
    ("a staff id", re.compile(r"\bstaff:\d+|\bcustomer:\d+")),
    ("an arrow between ids", re.compile(r"\d+\s*->\s*\d+")),
    (
        "an internal id",
        re.compile(
            r"\b(customer|advocate|bulk[_ ]job|reward|entry|endpoint|job|email|key|"
            r"blocklist_entry|webhook_endpoint|api_key|program)\s*#\d+",
            re.IGNORECASE,
        ),
    ),
    ("a stray shop parameter", re.compile(r"\?shop=")),
]
SNAKE = re.compile(r"^[a-z]+(_[a-z]+)+$")


def raw_forms(text: str, literals: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What in `text` is the engine's internal form rather than words for a merchant.
    `literals` are the texts of the page's <code> elements (a code, a link, an event name a
    developer types): identifiers on purpose, left out of the key checks, as is a “quoted”
    value."""
    found = [f"{what}: {m.group(0)!r}" for what, pattern in RAW for m in pattern.finditer(text)]
    text = re.sub(r"“[^”]*”", " ", text)  # a quoted value is shown as a value
    for literal in sorted(literals, key=len, reverse=True):
        if literal.strip():
            text = text.replace(literal, " ")
    found += [f"{what}: {m.group(0)!r}" for what, pattern in KEYS for m in pattern.finditer(text)]
    for token in re.findall(r"[\w.@/+-]+", text):
        if "@" in token or "/" in token:
            continue  # an address or a link says what it is
        if SNAKE.match(token.strip(".:")):
            found.append(f"a snake_case key: {token!r}")
    return found


def test_raw_forms_are_caught():
    """The check itself: each internal form fails it, sentences pass."""
    for raw in (
        "advocate.joined customer #10",
        "bulk_job #2",
        "self_referral.email v1",
        "True",
        "[{'entry_id': 1}]",
        "[]",
        "staff:70000001",
        "reassigned:1->2",
        "attributed:discount_code",
        "https://app.example/r/CODE?shop=alpha",
    ):
        assert raw_forms(raw), raw
    assert not raw_forms(
        "Ada Lovelace (ada.l@gmail.com) gave Referral #3 to Ben Bishop: Pending → Completed."
        " Last order: None yet."
    )
    assert not raw_forms("Events: referral.created", literals=["referral.created"])


def test_no_admin_page_shows_internal_keys_ids_or_python_values(live, page, screenshots_dir):
    story = seed(live)
    failures = []
    for name, path in admin_pages(story).items():
        app, frame = _open(page, live, path)
        # What a merchant can unfold counts too (a timeline event's details), not the
        # engineers' disclosure.
        frame.evaluate(
            "() => document.querySelectorAll('details:not(.internal)')"
            ".forEach((d) => { d.open = true; })"
        )
        text, literals = frame.evaluate(
            "() => [document.body.innerText,"
            " Array.from(document.querySelectorAll('code'), (c) => c.innerText)]"
        )
        failures += [f"{name}: {problem}" for problem in raw_forms(text, literals)]
    # The internal form stays available to engineers, folded away.
    app, frame = _open(page, live, "/portal/audit")
    expect(app.locator("#audit details.internal").first).to_be_attached()
    assert not failures, "\n".join(failures)
