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
    # static/inbox.js: messages of other kinds (product, discount, cart, image), the pickers,
    # the conversation's details (assignee, status, archive)
    N_("Open the image in full size in a new tab"),
    N_("Image from %(name)s"),
    N_("Shared a product"),
    N_("The link the shopper gets: applies %(code)s to their cart"),
    N_("Ends %(moment)s"),
    N_("a product"),
    N_("Subtotal %(amount)s"),
    N_("the upload did not reach the server"),
    N_("Image not sent: only PNG, JPEG, WebP or GIF images can be sent."),
    N_("Image not sent: images can be at most %(size)s MB."),
    N_("Image sent"),
    N_("Image not sent: %(error)s"),
    N_("Searching…"),
    N_("%(count)s product"),
    N_("%(count)s products"),
    N_("No products on the Online Store match."),
    N_("Could not search: %(error)s"),
    N_("Send"),
    N_("Send %(title)s, %(price)s %(currency)s"),
    N_("Loading active codes…"),
    N_("Active codes: choose one or type a code."),
    N_("No active codes; type one to send it."),
    N_("Could not load the codes: %(error)s"),
    N_("Use %(code)s, %(summary)s"),
    N_("Use %(code)s"),
    N_("Sending…"),
    N_("%(name)s (no chat permission)"),
    N_("A staff member"),
    N_("Restore"),
    N_("Archive"),
    N_("Archived"),
    N_("Inactive"),
    N_("%(what)s not changed: %(error)s"),
    N_("Assignment"),
    N_("Unassigned."),
    N_("Assigned to %(name)s."),
    N_("Status"),
    N_("Marked inactive."),
    N_("Marked active."),
    N_("Archived: it shows only under Archived and in search, until the shopper writes again."),
    N_("Restored to the inbox."),
    N_("Added %(product)s to the cart"),
    N_("Removed %(product)s from the cart"),
    N_("Viewed the cart"),
    # static/notify.js (every admin page): the live line, toasts, desktop notifications
    N_("Dismiss"),
    N_("Open"),
    N_(
        "This browser cannot show desktop notifications; new messages show in the app "
        "(the count and a toast)."
    ),
    N_(
        "Desktop notifications are on in this browser: a new message shows one while the app "
        "is in a background tab."
    ),
    N_(
        "The browser does not allow notifications here (blocked in its site settings, or "
        "refused to apps shown inside the Shopify admin). New messages still show in the app."
    ),
    N_("Desktop notifications are off in this browser."),
    N_("Saved: the assignee is emailed about a message unread for %(minutes)s minutes."),
    N_("Saved: no emails about unread messages."),
    N_("Notification settings saved"),
    N_("a shopper"),
    N_("New message from %(name)s: %(text)s"),
    N_("New message from %(name)s"),
)


def js_messages() -> dict[str, str]:
    """The scripts' sentences in the request's language ({} in English: the keys are it)."""
    if current_locale() == DEFAULT_LOCALE:
        return {}
    return {message: gettext(message) for message in MESSAGES}
