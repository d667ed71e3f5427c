"""Schemathesis (4.x) against the 44 operations of the contract: no input makes the server answer 5xx.

Bounded (a fixed number of derandomized examples per operation, no shrinking), so it runs in both
database passes of `make test` in a few minutes at most. The spec is read where tests/contract.py
reads it. Every response must also be JSON in OpenAI's envelope when it is an error.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from tests.contract import SPEC_PATH

schema = schemathesis.openapi.from_path(SPEC_PATH)
# SCHEMATHESIS_EXAMPLES=200 for a longer run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))


def test_it_covers_all_44_operations() -> None:
    assert len(list(schema.get_all_operations())) == 44


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_it_never_answers_a_server_error(case, live_url, owner) -> None:
    response = case.call(
        base_url=f"{live_url}/v1",
        headers={"Authorization": f"Bearer {owner.key}", "OpenAI-Beta": "assistants=v2"},
        timeout=30,
    )
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, response.text
