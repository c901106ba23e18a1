// Request logic for the TTS worker, runtime-agnostic: global fetch, AbortController and atob only, so the
// same module runs in Deno (Supabase edge functions), Node 18+ and browsers.

export interface TtsConfig {
  /** https://api.runpod.ai/v2/<endpoint id>, or http://localhost:8000 for the SDK's local API. */
  baseUrl: string;
  apiKey?: string;
  /** RunPod serves GET /status/<id>; the SDK's local API wants POST. */
  statusMethod?: "GET" | "POST";
  /** Give up after this long, /runsync and polling together (default 120 s). */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

export interface TtsRequest {
  text: string;
  voice?: string;
  format?: "wav" | "mp3" | "ogg" | "flac" | "pcm";
}

export interface TtsAudio {
  bytes: Uint8Array;
  contentType: string;
  output: Record<string, unknown>;
}

/** A failure with the HTTP status an edge function should answer with. */
export class TtsError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "TtsError";
  }
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);

export async function synthesize(config: TtsConfig, request: TtsRequest): Promise<TtsAudio> {
  const deadline = Date.now() + (config.timeoutMs ?? 120_000);
  const input: Record<string, unknown> = { text: request.text, format: request.format ?? "mp3" };
  if (request.voice) input.voice = request.voice;
  let reply = await call(config, "POST", "/runsync", { input }, deadline);
  // /runsync hands back the job id when its own wait ends first: keep polling the job.
  while (!TERMINAL.has(String(reply.status))) {
    await sleep(Math.min(config.pollIntervalMs ?? 1000, Math.max(0, deadline - Date.now())));
    // No body, even for POST: a server that does not read one may reset the connection.
    reply = await call(config, config.statusMethod ?? "GET", `/status/${reply.id}`, undefined, deadline);
  }
  if (reply.status !== "COMPLETED") {
    const message = errorMessage(reply.error) ?? `job ${reply.status}`;
    throw new TtsError(message, isInputError(message) ? 400 : 502);
  }
  const output = reply.output as Record<string, unknown> | undefined;
  if (!output || typeof output !== "object") {
    throw new TtsError("the job completed with no output (result over RunPod's size limit?)", 502);
  }
  const contentType = String(output.mimetype ?? "application/octet-stream");
  if (typeof output.audio_base64 === "string") {
    return { bytes: fromBase64(output.audio_base64), contentType, output };
  }
  const audio = await fetch(String(output.audio_url), { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
  if (!audio.ok) throw new TtsError(`could not fetch audio_url: HTTP ${audio.status}`, 502);
  return { bytes: new Uint8Array(await audio.arrayBuffer()), contentType, output };
}

async function call(config: TtsConfig, method: string, path: string, body: unknown, deadline: number) {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new TtsError("timed out waiting for the TTS endpoint", 504);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (config.apiKey) headers.Authorization = `Bearer ${config.apiKey}`;
  let response: Response;
  try {
    response = await fetch(config.baseUrl.replace(/\/+$/, "") + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(remaining),
    });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
    throw new TtsError(timedOut ? "timed out waiting for the TTS endpoint" : `TTS endpoint unreachable: ${e}`,
      timedOut ? 504 : 502);
  }
  if (!response.ok) {
    const detail = (await response.text()).slice(0, 300);
    throw new TtsError(`TTS endpoint answered HTTP ${response.status}: ${detail}`, response.status === 429 ? 429 : 502);
  }
  return await response.json() as Record<string, unknown>;
}

/** The worker's error: a plain string, or the SDK's JSON string with error_message. */
export function errorMessage(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  if (typeof error !== "string") return JSON.stringify(error);
  try {
    const parsed = JSON.parse(error);
    if (parsed && typeof parsed === "object" && "error_message" in parsed) return String(parsed.error_message);
  } catch {
    // a plain string
  }
  return error;
}

// The worker's input errors read "<field>: ...": the caller sent something wrong.
function isInputError(message: string): boolean {
  return /^[a-z_]+(\[\d+\])?(\.[a-zA-Z_]+)?: /.test(message) && !/^(engine|internal|output): /.test(message);
}

function fromBase64(b64: string): Uint8Array {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
