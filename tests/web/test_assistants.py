"""Assistant pages: list, search, create, edit in place with the API's messages, duplicate, delete."""

from __future__ import annotations

import json

from console.web.models import AuditLog
from tests.web.conftest import client_for, htmx


def _url(owner, suffix=""):
    return f"/p/{owner.project.pk}/assistants{suffix}"


def _functions(*rows):  # type: ignore[no-untyped-def]
    """Function rows as the formset posts them (prefix "functions")."""
    data = {"functions-TOTAL_FORMS": str(len(rows)), "functions-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        data.update({f"functions-{i}-{k}": v for k, v in row.items()})
    return data


def _form(**overrides):
    data = {
        "model": "gpt-4o",
        "name": "Support bot",
        "description": "",
        "instructions": "Be kind.",
        "temperature": "",
        "top_p": "",
        "response_format_type": "auto",
        "metadata-TOTAL_FORMS": "1",
        "metadata-INITIAL_FORMS": "0",
        "metadata-0-key": "team",
        "metadata-0-value": "support",
        **_functions(),
    }
    data.update(overrides)
    return data


def test_it_lists_and_searches(people, owner, api):
    for name in ("Billing helper", "Travel agent"):
        api.post("assistants", json={"model": "gpt-4o", "name": name})
    client = client_for(people.viewer)
    page = client.get(_url(owner)).content.decode()
    assert "Billing helper" in page and "Travel agent" in page and "<html" in page
    partial = htmx(client, "get", _url(owner), {"q": "travel"}).content.decode()
    assert "Travel agent" in partial and "Billing helper" not in partial and "<html" not in partial


def test_it_pages_with_load_more(people, owner, api):
    for i in range(23):
        api.post("assistants", json={"model": "gpt-4o", "name": f"A{i:02d}"})
    client = client_for(people.viewer)
    first = client.get(_url(owner)).content.decode()
    assert "Load more" in first and first.count("<tr>") == 21  # header + 20 rows
    after = api.get("assistants", params={"limit": 20}).json()["last_id"]
    rest = htmx(client, "get", _url(owner), {"after": after}).content.decode()
    assert "<table" not in rest and rest.count("<tr>") == 3 and "Load more" not in rest


def test_it_shows_a_useful_empty_state(people, owner):
    assert b"No assistants yet" in client_for(people.editor).get(_url(owner)).content


def test_it_creates_an_assistant(people, owner, api):
    response = htmx(client_for(people.editor), "post", _url(owner, "/new"), _form())
    assert response.status_code == 200
    created = api.get("assistants").json()["data"][0]
    assert response["HX-Redirect"] == _url(owner, f"/{created['id']}")
    assert created["name"] == "Support bot" and created["metadata"] == {"team": "support"}
    assert AuditLog.objects.filter(
        action="assistant.create", object_id=created["id"], username="eddie-editor"
    ).exists()


def test_it_offers_the_models_of_the_providers_and_takes_any_name(people, owner, api, provider):
    page = client_for(people.editor).get(_url(owner, "/new")).content.decode()
    assert 'list="f-model-names"' in page
    for name in ("fake-model", "gpt-4o-mini", "gpt-4o"):
        assert f'<option value="{name}"></option>' in page
    response = htmx(client_for(people.editor), "post", _url(owner, "/new"), _form(model="my-own-model"))
    assert response.status_code == 200
    assert api.get("assistants").json()["data"][0]["model"] == "my-own-model"


def test_it_keeps_viewers_from_creating_or_editing(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Locked"}).json()
    viewer = client_for(people.viewer)
    assert viewer.post(_url(owner, "/new"), _form()).status_code == 403
    assert viewer.post(_url(owner, f"/{assistant['id']}"), _form(name="Changed")).status_code == 403
    assert api.get(f"assistants/{assistant['id']}").json()["name"] == "Locked"
    page = viewer.get(_url(owner, f"/{assistant['id']}")).content.decode()
    assert "<fieldset disabled>" in page and "Save changes" not in page


def test_it_edits_in_place(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Old"}).json()
    tool = {
        **_functions(
            {
                "name": "get_weather",
                "description": "Weather",
                "parameters": json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}),
            }
        ),
        "code_interpreter": "1",
        "temperature": "0.5",
        "top_p": "0.9",
        "response_format_type": "json_object",
    }
    response = htmx(
        client_for(people.editor), "post", _url(owner, f"/{assistant['id']}"), _form(name="New", **tool)
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith('<form id="assistant-form"') and "Saved." in body
    stored = api.get(f"assistants/{assistant['id']}").json()
    assert stored["name"] == "New" and stored["temperature"] == 0.5 and stored["top_p"] == 0.9
    assert [t["type"] for t in stored["tools"]] == ["code_interpreter", "function"]
    assert stored["tools"][1]["function"]["parameters"]["properties"]["city"] == {"type": "string"}
    assert stored["response_format"] == {"type": "json_object"}
    assert AuditLog.objects.filter(action="assistant.update", object_id=assistant["id"]).exists()


def test_it_shows_the_apis_message_next_to_the_field(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Keep"}).json()
    response = htmx(
        client_for(people.editor), "post", _url(owner, f"/{assistant['id']}"), _form(temperature="5")
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="e-temperature"' in body and "temperature" in body.split('id="e-temperature"')[1][:300].lower()
    assert api.get(f"assistants/{assistant['id']}").json()["name"] == "Keep"


def test_it_checks_function_schemas_before_saving(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Keep"}).json()
    bad = _functions({"name": "f", "parameters": '{"type": "nonsense"}'})
    response = htmx(client_for(people.editor), "post", _url(owner, f"/{assistant['id']}"), _form(**bad))
    assert response.status_code == 422
    assert "Not a valid JSON Schema" in response.content.decode()
    broken = _functions({"name": "f", "parameters": '{"type": '})
    response = htmx(client_for(people.editor), "post", _url(owner, f"/{assistant['id']}"), _form(**broken))
    assert "Not valid JSON" in response.content.decode()
    assert api.get(f"assistants/{assistant['id']}").json()["tools"] == []


def test_it_duplicates(people, owner, api):
    assistant = api.post(
        "assistants", json={"model": "gpt-4o", "name": "Orig", "instructions": "X", "metadata": {"a": "b"}}
    ).json()
    response = client_for(people.editor).post(_url(owner, f"/{assistant['id']}/duplicate"))
    assert response.status_code == 302
    names = {a["name"]: a for a in api.get("assistants").json()["data"]}
    assert names["Orig (copy)"]["instructions"] == "X" and names["Orig (copy)"]["metadata"] == {"a": "b"}


def test_it_lets_only_admins_delete(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Doomed"}).json()
    url = _url(owner, f"/{assistant['id']}/delete")
    assert client_for(people.editor).post(url).status_code == 403
    admin = client_for(people.admin)
    assert b"cannot be undone" in admin.get(url).content
    assert admin.post(url).status_code == 302
    assert api.get(f"assistants/{assistant['id']}").status_code == 404
    assert AuditLog.objects.filter(action="assistant.delete", object_id=assistant["id"]).exists()


def test_it_answers_404_for_an_unknown_assistant(people, owner):
    assert client_for(people.viewer).get(_url(owner, "/asst_nope")).status_code == 404


def test_it_starts_a_new_assistant_with_empty_optional_fields(people, owner):
    page = client_for(people.editor).get(_url(owner, "/new")).content.decode()
    assert 'value="None"' not in page and 'name="functions-TOTAL_FORMS" value="0"' in page
    assert "functions-__prefix__-name" in page  # the template a new function row is made from
