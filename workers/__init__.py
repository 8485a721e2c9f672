"""The worker and scheduler processes, and thin job entry points: each takes ids, opens the
session and calls the domain or the webhook inbox. Nothing outside the CLI imports this
package; the domain names its jobs through `shopify_app.jobs`."""
