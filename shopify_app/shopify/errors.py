"""One error tree for everything that talks to Shopify; callers catch by class."""

from __future__ import annotations


class ShopifyError(Exception):
    """Root of every Shopify-related failure."""


class InvalidShopDomain(ShopifyError):
    pass


class InvalidIdToken(ShopifyError):
    """The App Bridge ID token is missing, malformed, forged, expired or for another app."""


class InvalidHmac(ShopifyError):
    pass


class TokenEndpointError(ShopifyError):
    """`/admin/oauth/access_token` answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error


class InvalidSubjectToken(TokenEndpointError):
    """Token exchange refused the ID token (Shopify: 400 `invalid_subject_token`)."""


class InvalidGrant(TokenEndpointError):
    """A refresh token or authorization code is invalid, expired or revoked."""


class InvalidClient(TokenEndpointError):
    """Bad client credentials, or the app is no longer installed on the shop."""


class ReauthorizationRequired(ShopifyError):
    """No usable offline token: the merchant must open the app so a token exchange can run."""


class RetryableError(ShopifyError):
    """A network error or a 5xx that a later attempt may get past."""


class ThrottledError(RetryableError):
    """The Admin API kept answering THROTTLED for longer than the client is willing to wait."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class InvalidAccessToken(ShopifyError):
    """The Admin API rejected the access token (HTTP 401)."""


class GraphQLError(ShopifyError):
    def __init__(self, message: str, errors: list | None = None):
        super().__init__(message)
        self.errors = errors or []


class UserErrors(ShopifyError):
    """A mutation answered with `userErrors` (HTTP 200): the input was refused."""

    def __init__(self, operation: str, errors: list[dict]):
        self.operation = operation
        self.errors = errors
        self.codes = [str(e.get("code") or "") for e in errors]
        text = "; ".join(f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors)
        super().__init__(f"{operation} refused: {text}")
