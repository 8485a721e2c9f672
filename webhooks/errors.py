"""What a handler raises for a delivery that can never succeed as sent."""

from __future__ import annotations


class PermanentDeliveryError(ValueError):
    """The delivery can never succeed as sent (malformed payload): it ends `dead` at once,
    without the retries a passing failure gets."""
