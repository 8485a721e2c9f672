"""The sentences the admin's scripts show (static/*.js), marked for the message catalogue.

A page in another language than English carries their translations as JSON
(`<script type="application/json" id="i18n">`, templates/base.html); static/i18n.js's
`t(message, params)` reads them, and falls back to the English message (the key) when the
page has none. A script's new sentence is added here, then `make translations`.
"""

from __future__ import annotations

from flask_babel import gettext

from shopify_app.i18n import DEFAULT_LOCALE, N_, current_locale

MESSAGES = (
    # static/forms.js (every admin page)
    N_("Could not save: %(error)s. Try again."),
    N_("Copied"),
    N_("Referral link copied"),
    N_("Select the link and copy it"),
    # static/customers.js
    N_("Loading…"),
    N_("Could not load this view: %(error)s."),
    N_("the server answered %(status)s"),
    N_("unexpected answer"),
    N_("Try again"),
    N_("Select customers first, or choose “All matching”."),
    N_("Downloading…"),
    N_("Could not download the export: %(error)s"),
    # static/inbox.js
    N_("Staff"),
    N_("Private note"),
    N_("Private note · %(name)s"),
    N_("Notice"),
    N_("Could not load new messages: %(error)s."),
    N_("Online: your reply appears in their chat."),
    N_(
        "Not in the store now: your reply will be emailed to %(email)s, the address given at "
        "the start of the chat."
    ),
    N_("Online"),
    N_("Away: a reply goes by email"),
    N_("%(name)s is typing…"),
    N_("%(count)s / %(max)s characters"),
    N_("Write the note first."),
    N_("Write a reply first."),
    N_("Note added"),
    N_("Reply sent"),
    N_("Note not added: %(error)s"),
    N_("Not sent: %(error)s"),
    N_("Not sent: %(error)s."),
    N_("Delete saved reply %(title)s"),
    N_("Delete"),
    N_("Give the saved reply a title and a text."),
    N_("Saved reply added"),
    N_("Not saved: %(error)s"),
    N_("The server answered %(status)s."),
    N_("Could not open this view: %(error)s."),
    N_("Could not refresh the list: %(error)s."),
    N_("Connecting for live updates…"),
    N_("Live updates are off: %(error)s."),
    N_("Live updates are not configured; reload to see new messages."),
    N_("Live: new messages appear as they arrive."),
    N_("Reconnecting for live updates…"),
    N_("Not deleted: %(error)s"),
)


def js_messages() -> dict[str, str]:
    """The scripts' sentences in the request's language ({} in English: the keys are it)."""
    if current_locale() == DEFAULT_LOCALE:
        return {}
    return {message: gettext(message) for message in MESSAGES}
