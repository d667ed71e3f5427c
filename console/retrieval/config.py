"""Retrieval's knobs: a Django setting when one is defined, else the environment variable."""

from __future__ import annotations

import os

from django.conf import settings


def setting(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value).strip()


def int_setting(name: str, default: int) -> int:
    value = setting(name)
    return int(value) if value else default
