"""console.settings with only the middleware /v1 needs; measures what the console's middleware costs /v1."""

from console.settings import *  # noqa: F403

MIDDLEWARE = ["console.api.middleware.ApiErrorMiddleware", "django.middleware.common.CommonMiddleware"]
