from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
