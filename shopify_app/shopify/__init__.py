"""Shopify's contracts: ID tokens, HMACs, OAuth and token exchange, the GraphQL Admin API."""
