// Supabase edge function: POST {"text", "voice"?, "format"?} -> the audio bytes, with their content type.
// Secrets: supabase secrets set RUNPOD_ENDPOINT_ID=... RUNPOD_API_KEY=...  (RUNPOD_BASE_URL overrides the URL)
import { synthesize, TtsError } from "./tts_client.ts";

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
};
const FORMATS = new Set(["wav", "mp3", "ogg", "flac", "pcm"]);

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...CORS, "Content-Type": "application/json" } });
}

Deno.serve(async (req: Request) => {
  if (req.method === "OPTIONS") return new Response(null, { headers: CORS });
  if (req.method !== "POST") return json({ error: 'POST {"text": "...", "voice"?, "format"?}' }, 405);
  let body: { text?: unknown; voice?: unknown; format?: unknown };
  try {
    body = await req.json();
  } catch {
    return json({ error: "the body must be JSON" }, 400);
  }
  if (typeof body?.text !== "string" || !body.text.trim()) return json({ error: "text: required" }, 400);
  if (body.voice !== undefined && typeof body.voice !== "string") return json({ error: "voice: must be a string" }, 400);
  if (body.format !== undefined && !FORMATS.has(String(body.format))) {
    return json({ error: `format: one of ${[...FORMATS].join(", ")}` }, 400);
  }
  const baseUrl = Deno.env.get("RUNPOD_BASE_URL") ?? `https://api.runpod.ai/v2/${Deno.env.get("RUNPOD_ENDPOINT_ID")}`;
  try {
    const audio = await synthesize(
      { baseUrl, apiKey: Deno.env.get("RUNPOD_API_KEY"), timeoutMs: 120_000 },
      { text: body.text, voice: body.voice as string | undefined, format: body.format as "mp3" | undefined },
    );
    return new Response(audio.bytes, {
      headers: { ...CORS, "Content-Type": audio.contentType, "Cache-Control": "public, max-age=86400" },
    });
  } catch (e) {
    if (e instanceof TtsError) return json({ error: e.message }, e.status);
    console.error("tts function failed", e);
    return json({ error: "internal error" }, 500);
  }
});
