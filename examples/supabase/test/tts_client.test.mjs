// Runs the compiled tts_client against the SDK's local API: TTS_BASE_URL=http://127.0.0.1:<port> npm test
import assert from "node:assert/strict";
import { test } from "node:test";
import { synthesize, TtsError, errorMessage } from "../build/tts_client.js";

const config = { baseUrl: process.env.TTS_BASE_URL, statusMethod: "POST", timeoutMs: 60_000 };

test("synthesizes real audio with its content type", async () => {
  const audio = await synthesize(config, { text: "Hello from the edge function.", format: "wav" });
  assert.equal(audio.contentType, "audio/wav");
  assert.equal(new TextDecoder().decode(audio.bytes.slice(0, 4)), "RIFF");
  assert.equal(audio.bytes.length, audio.output.size_bytes);
  assert.ok(audio.output.duration_ms > 1000);
});

test("mp3 by default", async () => {
  const audio = await synthesize(config, { text: "Default format." });
  assert.equal(audio.contentType, "audio/mpeg");
  assert.ok(audio.bytes.length > 1000);
});

test("a FAILED job becomes a 400 with the worker's message", async () => {
  await assert.rejects(synthesize(config, { text: "Hi", voice: "nobody" }), (e) => {
    assert.ok(e instanceof TtsError);
    assert.equal(e.status, 400);
    assert.match(e.message, /^voice: unknown voice 'nobody'/);
    return true;
  });
});

test("an unreachable endpoint and a timeout are 502 and 504", async () => {
  await assert.rejects(synthesize({ baseUrl: "http://127.0.0.1:9" }, { text: "Hi" }), (e) => e.status === 502);
  await assert.rejects(synthesize({ ...config, timeoutMs: 1 }, { text: "A timeout." }), (e) => e.status === 504);
});

test("errors are read from strings and from the SDK's JSON strings", () => {
  assert.equal(errorMessage("speed: too fast"), "speed: too fast");
  assert.equal(errorMessage(JSON.stringify({ error_type: "ValueError", error_message: "boom" })), "boom");
  assert.equal(errorMessage(undefined), undefined);
});
