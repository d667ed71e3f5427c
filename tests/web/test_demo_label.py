"""The console says when the built-in demo model answers, and suggests model names, never paths."""

from __future__ import annotations

from console.web import demo
from tests.web.conftest import client_for


def test_it_suggests_model_names_only():
    listed = [
        "gpt-4o",
        "/root/.cache/smollm2-135m.gguf",
        "meta-llama/Llama-3.1-8B",
        "C:\\models\\x.bin",
        "m.gguf",
    ]
    assert demo.model_names(listed) == ["gpt-4o", "meta-llama/Llama-3.1-8B"]


def test_it_labels_the_assistant_answered_by_the_demo_model(people, owner, api, provider, settings):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Greeter"}).json()
    url = f"/p/{owner.project.pk}/assistants/{assistant['id']}"
    assert "built-in demo model (toy quality)" not in client_for(people.viewer).get(url).content.decode()
    settings.DEMO_MODEL_BASE_URL = provider.base_url  # the route for "gpt-4o" goes there
    assert "built-in demo model (toy quality)" in client_for(people.viewer).get(url).content.decode()
    page = client_for(people.editor).get(f"/p/{owner.project.pk}/playground").content.decode()
    assert "Greeter · built-in demo model (toy quality)" in page
