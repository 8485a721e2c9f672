"""The API blueprint with every resource's routes: what the app factory registers. A new
resource is a module that adds routes to `blueprint.bp`, imported here, and its own
`spec/<resource>.yaml`."""

from __future__ import annotations

from . import customers, events, program_views  # noqa: F401  (each adds its routes to bp)
from .blueprint import bp

__all__ = ["bp"]
