"""What the schemathesis tests share: bounded, derandomized examples and the check every answer gets."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error


def bounded(examples: int) -> Any:
    """A fixed number of derandomized examples per operation, no shrinking: minutes, not hours."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def check_answer(case: Any, base_url: str, headers: dict[str, str]) -> None:
    """No server error, and every error in OpenAI's envelope."""
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, response.text
