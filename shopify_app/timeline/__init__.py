"""The customer timeline: one append-only stream of facts from Shopify, the app and the API."""
