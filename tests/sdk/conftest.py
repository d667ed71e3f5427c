"""SDK clients beyond the shared `sdk` fixture, and the one place the two pinned SDKs are told apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

# The suite runs under both pinned SDKs (DESIGN.md): 1.65.5 in .venv-openai1 and 3.57.0 in .venv.
SDK_MAJOR = int(openai.__version__.split(".")[0])


@pytest.fixture
def make_client(live_url: str) -> Iterator[Callable[[str], openai.OpenAI]]:
    """Builds extra SDK clients on the live server (other keys), closing them afterwards."""
    clients: list[openai.OpenAI] = []

    def make(key: str) -> openai.OpenAI:
        client = openai.OpenAI(base_url=f"{live_url}/v1", api_key=key, max_retries=0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def outsider_sdk(make_client, outsider):  # type: ignore[no-untyped-def]
    return make_client(outsider.key)


@pytest.fixture
def image_file(sdk):  # type: ignore[no-untyped-def]
    """An uploaded image, for image_file content parts."""
    return sdk.files.create(file=("pixel.png", PNG_PIXEL, "image/png"), purpose="vision")


@pytest.fixture
def data_file(sdk):  # type: ignore[no-untyped-def]
    """An uploaded file, for code_interpreter tool resources and attachments."""
    return sdk.files.create(file=("data.csv", b"a,b\n1,2\n", "text/csv"), purpose="assistants")


# A 1x1 transparent PNG.
PNG_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


def strictly(obj):  # type: ignore[no-untyped-def]
    """Re-validates an SDK object. The SDK builds responses leniently (a missing or mistyped field only
    shows up when read), so this is what catches a shape the SDK's types do not accept."""
    return type(obj).model_validate(obj.to_dict(mode="json"))
