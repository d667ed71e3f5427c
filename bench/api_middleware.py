"""The sync-and-async ApiErrorMiddleware measured in docs/benchmarks.md.

That version is now console.api.middleware.ApiErrorMiddleware itself; the name is kept so the
bench settings modules that refer to it still load.
"""

from console.api.middleware import ApiErrorMiddleware as DualApiErrorMiddleware

__all__ = ["DualApiErrorMiddleware"]
