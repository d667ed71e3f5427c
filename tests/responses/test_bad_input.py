from __future__ import annotations

from console.responses.models import Response


def _error(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == 400, r.text
    return r.json()["error"]


def test_it_refuses_unknown_parameters(api):
    error = _error(api.post("responses", json={"model": "fake-model", "input": "x", "bogus": 1}))
    assert error["message"] == "Unrecognized request argument supplied: bogus"
    error = _error(api.post("conversations", json={"bogus": 1}))
    assert error["message"] == "Unrecognized request argument supplied: bogus"
    assert not Response.objects.exists()


def test_it_refuses_previous_response_id_with_conversation(api):
    cid = api.post("conversations", json={}).json()["id"]
    error = _error(
        api.post(
            "responses",
            json={"model": "fake-model", "input": "x", "previous_response_id": "resp_x", "conversation": cid},
        )
    )
    assert error["code"] == "mutually_exclusive_parameters"


def test_it_refuses_an_unknown_previous_response(api):
    error = _error(
        api.post("responses", json={"model": "fake-model", "input": "x", "previous_response_id": "resp_nope"})
    )
    assert error == {
        "message": "Previous response with id 'resp_nope' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


def test_it_refuses_an_output_without_its_call(api):
    error = _error(
        api.post(
            "responses",
            json={
                "model": "fake-model",
                "input": [{"type": "function_call_output", "call_id": "call_q", "output": "x"}],
            },
        )
    )
    assert error["message"] == "No tool call found for function call output with call_id call_q."


def test_it_refuses_the_null_character(api):
    error = _error(api.post("responses", json={"model": "fake-model", "input": "a\u0000b"}))
    assert error["param"] == "input" and "U+0000" in error["message"]
    error = _error(api.post("conversations", json={"metadata": {"k": "a\u0000"}}))
    assert error["param"] == "metadata.k"


def test_it_needs_a_model_and_input(api):
    error = _error(api.post("responses", json={"input": "x"}))
    assert error["param"] == "model"
    error = _error(api.post("responses", json={"model": "fake-model"}))
    assert error["param"] == "input"


def test_it_refuses_a_bad_item(api):
    error = _error(
        api.post("responses", json={"model": "fake-model", "input": [{"role": "robot", "content": "x"}]})
    )
    assert error["param"].startswith("input[0]")


def test_it_refuses_an_unknown_include(api):
    error = _error(api.post("responses", json={"model": "fake-model", "input": "x", "include": ["nope"]}))
    assert error["param"] == "include"


def test_an_unknown_conversation_is_not_found(api):
    r = api.post("responses", json={"model": "fake-model", "input": "x", "conversation": "thread_nope"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "No conversation found with id 'thread_nope'."
