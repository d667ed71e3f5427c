// Drives one response through the official Node SDK and prints what it saw, as JSON on stdout
// (tests/responses/test_node_sdk_responses.py reads it).
//
//   OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-... SDK=openai6 \
//     node stream_response.mjs '{"model": "fake-model", "input": "Hi"}'
//
// It creates the response with responses.create, then streams a second one with
// responses.stream: its events, its text deltas and finalResponse().

const sdkName = process.env.SDK;
const { default: OpenAI } = await import(sdkName);
const body = JSON.parse(process.argv[2]);
const client = new OpenAI({ maxRetries: 0, timeout: 60_000 });

const created = await client.responses.create(body);
const seen = { created: { id: created.id, status: created.status, output_text: created.output_text } };

const stream = client.responses.stream(body);
const events = [];
let deltas = "";
stream.on("event", (event) => events.push([event.type, event.sequence_number]));
stream.on("response.output_text.delta", (event) => {
  deltas += event.delta;
});
const final = await stream.finalResponse();
seen.streamed = { events, deltas, id: final.id, status: final.status, output_text: final.output_text };
process.stdout.write(JSON.stringify(seen));
