"""Schemathesis (4.x) against the 44 operations of the contract: no input makes the server answer 5xx.

Bounded (a fixed number of derandomized examples per operation, no shrinking), so it runs in both
database passes of `make test` in a few minutes at most. The spec is read where tests/contract.py
reads it. Every response must also be JSON in OpenAI's envelope when it is an error.
"""

from __future__ import annotations

import os

import pytest
import schemathesis

from tests.contract import SPEC_PATH
from tests.fuzzing import bounded, check_answer

schema = schemathesis.openapi.from_path(SPEC_PATH)
# SCHEMATHESIS_EXAMPLES=200 for a longer run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))


def test_it_covers_all_44_operations() -> None:
    assert len(list(schema.get_all_operations())) == 44


@pytest.mark.timeout(300)
@schema.parametrize()
@bounded(EXAMPLES_PER_OPERATION)
def test_it_never_answers_a_server_error(case, live_url, owner) -> None:
    headers = {"Authorization": f"Bearer {owner.key}", "OpenAI-Beta": "assistants=v2"}
    check_answer(case, f"{live_url}/v1", headers)
