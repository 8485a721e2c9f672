"""Embedded auth (App Bridge ID tokens) and the authorization-code OAuth fallback."""
