#!/usr/bin/env bash
# Synthesize with curl: examples/curl.sh "Text to speak" [out.mp3]
#   RunPod:    RUNPOD_ENDPOINT_ID=... RUNPOD_API_KEY=... examples/curl.sh "Hello" hello.mp3
#   Local API: BASE_URL=http://localhost:8000 LOCAL=1 examples/curl.sh "Hello" hello.wav
#   MODE=run   queue with /run, then poll /status/<id> (GET on RunPod; the SDK's local API wants POST)
# Needs curl and python3 (for JSON). The output file's extension picks the format.
set -euo pipefail
text=${1:?usage: $0 "text" [out.mp3]}
out=${2:-speech.mp3}
format=${out##*.}
base=${BASE_URL:-https://api.runpod.ai/v2/${RUNPOD_ENDPOINT_ID:?set RUNPOD_ENDPOINT_ID or BASE_URL}}
status_method=GET
[ "${LOCAL:-0}" = 1 ] && status_method=POST

api() {  # api METHOD PATH [JSON]
  curl -sS --fail-with-body -X "$1" "$base$2" -H "Content-Type: application/json" \
    ${RUNPOD_API_KEY:+-H "Authorization: Bearer $RUNPOD_API_KEY"} ${3:+-d "$3"}
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

body=$(python3 -c 'import json, sys; print(json.dumps({"input": {"text": sys.argv[1], "format": sys.argv[2]}}))' \
  "$text" "$format")
reply=$(mktemp)
trap 'rm -f "$reply"' EXIT
if [ "${MODE:-runsync}" = run ]; then
  id=$(api POST /run "$body" | field id)
  # No body on status calls, even POST: a server that does not read one may reset the connection.
  api "$status_method" "/status/$id" > "$reply"
  # Poll until the job is no longer queued or running.
  while [[ $(field status < "$reply") =~ ^(IN_QUEUE|IN_PROGRESS)$ ]]; do
    sleep 1
    api "$status_method" "/status/$id" > "$reply"
  done
else
  api POST /runsync "$body" > "$reply"
fi

python3 - "$reply" "$out" <<'PY'
import base64, json, sys, urllib.request
reply = json.load(open(sys.argv[1]))
if reply.get("status") != "COMPLETED":
    sys.exit(f"{reply.get('status')}: {reply.get('error')}")
out = reply["output"]
data = base64.b64decode(out["audio_base64"]) if "audio_base64" in out else urllib.request.urlopen(out["audio_url"]).read()
open(sys.argv[2], "wb").write(data)
print(f"{sys.argv[2]}: {out['duration_ms'] / 1000:.1f} s of {out['format']}")
PY
