"""What the sandbox tests share: a manager per test with a uid range of its own, and session keys."""

from __future__ import annotations

import os
import pathlib
import uuid

from console.sandbox.service import SandboxManager

# One uid range per manager: ranges must never overlap, not even with a concurrent pytest run.
_UID_START = 200_000 + (os.getpid() % 5000) * 400
_uid_bases = iter(range(_UID_START, _UID_START + 400, 40))


def make_manager(tmp: pathlib.Path, python: pathlib.Path, **kw) -> SandboxManager:  # type: ignore[no-untyped-def]
    kw.setdefault("max_sessions", 8)
    return SandboxManager(tmp, python=python, uid_base=next(_uid_bases), **kw)


def new_key() -> str:
    return "thread_" + uuid.uuid4().hex
