"""Schemathesis (4.x) against the 14 Responses and Conversations operations of the contract
(docs/openapi/responses.yaml): no input makes the server answer 5xx, and every error is OpenAI's envelope.

Bounded as tests/api/test_schemathesis.py is. Responses are executed for real (worker and fake provider).
"""

from __future__ import annotations

import os

import pytest
import schemathesis

from tests.contract import RESPONSES_SPEC_PATH
from tests.fuzzing import bounded, check_answer

schema = schemathesis.openapi.from_path(RESPONSES_SPEC_PATH)
# Fewer than the Assistants file: generating bodies from these schemas (big unions) is slow.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))


def test_it_covers_all_14_operations() -> None:
    assert len(list(schema.get_all_operations())) == 14


@pytest.mark.timeout(300)
@schema.parametrize()
@bounded(EXAMPLES_PER_OPERATION)
def test_it_never_answers_a_server_error(case, live_url, owner, provider) -> None:
    check_answer(case, f"{live_url}/v1", {"Authorization": f"Bearer {owner.key}"})
