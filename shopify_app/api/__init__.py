"""The public REST API (`/api/v1`): keys, the guard, errors, the OpenAPI document that
validates every request and response, idempotency, rate limits and the resources.

Importing the package loads nothing: the blueprint (`api.views`) is imported by the app
factory, the key service (`api.keys`) by the Settings page too.
"""
