// Drives one streamed run through the official Node SDK's AssistantStream and prints what its
// listeners and helpers saw, as JSON on stdout (tests/node/test_node_sdk_streams.py reads it).
//
//   OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-... SDK=openai6 \
//     node stream_run.mjs '{"mode": "run", "thread_id": "thread_...", "assistant_id": "asst_..."}'
//
// SDK names the package alias in package.json (openai4 = 4.86.2, openai6 = 6.49.0). The scenario:
//   mode            "run" (runs.stream) or "create_and_run" (threads.createAndRunStream)
//   thread_id       the thread (mode "run"); "thread" is the new thread's body (mode "create_and_run")
//   assistant_id    the assistant; "params" adds run parameters
//   outputs         {function name: output}: a run that requires action is answered with
//                   submitToolOutputsStream, and the continuation is a second segment
//   cancel          cancel the run after its first text delta

const sdkName = process.env.SDK;
const { default: OpenAI } = await import(sdkName);
const major = Number((await import(`${sdkName}/version.js`)).VERSION.split(".")[0]);
const scenario = JSON.parse(process.argv[2]);
const client = new OpenAI({ maxRetries: 0, timeout: 60_000 });
const runs = client.beta.threads.runs;

function watch(stream) {
  const seen = {
    events: [],
    textCreated: 0,
    textDeltas: {},
    textDone: [],
    imageFileDone: [],
    toolCallCreated: [],
    toolCallDeltas: {},
    toolCallDone: [],
  };
  let cancelled = false;
  // The message snapshots the helper builds (what finalMessages() returns), kept in case the
  // helper cannot finish: 4.86.2 does not know thread.run.incomplete as a final event.
  const snapshots = new Map();
  seen.snapshots = () => [...snapshots.values()];
  stream.on("event", (event) => seen.events.push(event.event));
  stream.on("messageCreated", (message) => snapshots.set(message.id, message));
  stream.on("messageDelta", (delta, snapshot) => snapshots.set(snapshot.id, snapshot));
  stream.on("textCreated", () => (seen.textCreated += 1));
  stream.on("textDelta", (delta, snapshot) => {
    const key = String(seen.textCreated - 1);
    seen.textDeltas[key] = (seen.textDeltas[key] || "") + (delta.value || "");
    if (scenario.cancel && !cancelled) {
      cancelled = true;
      const run = stream.currentRun();
      if (major >= 5) runs.cancel(run.id, { thread_id: run.thread_id });
      else runs.cancel(run.thread_id, run.id);
    }
  });
  stream.on("textDone", (text) => seen.textDone.push(text));
  stream.on("imageFileDone", (image) => seen.imageFileDone.push(image));
  stream.on("toolCallCreated", (call) => seen.toolCallCreated.push(JSON.parse(JSON.stringify(call))));
  stream.on("toolCallDelta", (delta) => {
    const key = String(delta.index);
    const piece =
      delta.type === "function"
        ? delta.function?.arguments || ""
        : delta.type === "code_interpreter"
          ? delta.code_interpreter?.input || ""
          : "";
    seen.toolCallDeltas[key] = (seen.toolCallDeltas[key] || "") + piece;
  });
  stream.on("toolCallDone", (call) => seen.toolCallDone.push(JSON.parse(JSON.stringify(call))));
  return seen;
}

async function finish(stream, seen) {
  try {
    seen.finalRun = await stream.finalRun();
    seen.finalMessages = await stream.finalMessages();
    seen.finalRunSteps = await stream.finalRunSteps();
    seen.error = null;
  } catch (error) {
    seen.error = String(error && error.message ? error.message : error);
    seen.currentRun = stream.currentRun() || null;
    seen.finalMessages = seen.snapshots();
  }
  delete seen.snapshots;
  return seen;
}

function start() {
  const params = { assistant_id: scenario.assistant_id, ...(scenario.params || {}) };
  if (scenario.mode === "create_and_run") {
    return client.beta.threads.createAndRunStream({ ...params, thread: scenario.thread });
  }
  return runs.stream(scenario.thread_id, params);
}

const segments = [];
let stream = start();
for (;;) {
  const seen = await finish(stream, watch(stream));
  segments.push(seen);
  const run = seen.finalRun;
  if (seen.error || !run || run.status !== "requires_action" || !scenario.outputs) break;
  const tool_outputs = run.required_action.submit_tool_outputs.tool_calls.map((call) => ({
    tool_call_id: call.id,
    output: scenario.outputs[call.function.name],
  }));
  stream =
    major >= 5
      ? runs.submitToolOutputsStream(run.id, { thread_id: run.thread_id, tool_outputs })
      : runs.submitToolOutputsStream(run.thread_id, run.id, { tool_outputs });
}
process.stdout.write(JSON.stringify({ sdk: sdkName, major, segments }));
