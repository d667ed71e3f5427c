"""The OpenAI Agents SDK (openai-agents 0.24.0, the newest 0.x; it needs openai 3.x) on its default
model, which uses the Responses API, with set_default_openai_client(AsyncOpenAI(base_url=...))."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.fakeprovider import Call, Text, ToolCalls

if int(openai.__version__.split(".")[0]) < 3:
    pytest.skip("the Agents SDK needs openai 3.x", allow_module_level=True)

import agents  # noqa: E402
from agents import Agent, OpenAIConversationsSession, Runner, function_tool  # noqa: E402


@pytest.fixture
def run_agents(live_url, owner):  # type: ignore[no-untyped-def]
    """Runs fn(client) on a fresh event loop whose AsyncOpenAI client is the SDK's default."""

    def run(fn):  # type: ignore[no-untyped-def]
        async def main():  # type: ignore[no-untyped-def]
            client = openai.AsyncOpenAI(base_url=f"{live_url}/v1", api_key=owner.key, max_retries=0)
            agents.set_default_openai_client(client, use_for_tracing=False)
            agents.set_default_openai_api("responses")
            agents.set_tracing_disabled(True)
            try:
                return await fn(client)
            finally:
                await client.close()

        return asyncio.run(main())

    return run


def test_a_plain_agent_answers(run_agents, provider):
    provider.script(Text("Hello from an agent."))
    agent = Agent(name="Helper", instructions="Be brief.")
    result = run_agents(lambda client: Runner.run(agent, "Hi"))
    assert result.final_output == "Hello from an agent."
    sent = provider.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."} and sent[-1] == {
        "role": "user",
        "content": "Hi",
    }


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def test_an_agent_calls_a_function_tool(run_agents, provider):
    provider.script(ToolCalls([Call("get_weather", '{"city": "Nice"}')]), Text("It is sunny in Nice."))
    agent = Agent(name="Weather", instructions="Use tools.", tools=[get_weather])
    result = run_agents(lambda client: Runner.run(agent, "Weather in Nice?"))
    assert result.final_output == "It is sunny in Nice."
    assert provider.requests[-1]["messages"][-1]["content"] == "Sunny in Nice"
    assert provider.requests[0]["tools"][0]["function"]["name"] == "get_weather"


def test_a_streamed_run(run_agents, provider):
    provider.script(Text("Streamed agent text."))
    agent = Agent(name="Streamer")

    async def run(client: openai.AsyncOpenAI) -> tuple[str, str]:
        result = Runner.run_streamed(agent, "Stream please")
        deltas = ""
        async for event in result.stream_events():
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                deltas += event.data.delta
        return deltas, result.final_output

    deltas, final = run_agents(run)
    assert deltas == "Streamed agent text." and final == "Streamed agent text."


def test_a_conversations_session_keeps_the_history(run_agents, provider, api):
    provider.script(Text("Nice to meet you, Ada."), Text("You are Ada."))
    agent = Agent(name="Memory")

    async def run(client: openai.AsyncOpenAI) -> tuple[str, str, str]:
        session = OpenAIConversationsSession(openai_client=client)
        first = await Runner.run(agent, "I am Ada.", session=session)
        second = await Runner.run(agent, "Who am I?", session=session)
        return first.final_output, second.final_output, await session._get_session_id()

    first, second, conversation_id = run_agents(run)
    assert (first, second) == ("Nice to meet you, Ada.", "You are Ada.")
    history = [(m["role"], m["content"]) for m in provider.requests[-1]["messages"]]
    assert history[-3:] == [
        ("user", "I am Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "Who am I?"),
    ]
    # The session's conversation is a thread the Assistants API reads.
    messages = api.get(f"threads/{conversation_id}/messages", params={"order": "asc"}).json()["data"]
    assert [m["content"][0]["text"]["value"] for m in messages] == [
        "I am Ada.",
        "Nice to meet you, Ada.",
        "Who am I?",
        "You are Ada.",
    ]
