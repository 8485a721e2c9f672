"""Webhook intake: verify, store in the inbox, enqueue. Nothing else happens in the request."""
