"""A local directory answered in the URL shapes huggingface_hub's snapshot_download uses, so the real download
code runs offline. Optionally gated: without the right token it answers like a gated repo."""
from __future__ import annotations

import hashlib
import json
import os

from tools.harness import QuietHandler

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_handler(directory: str, repo_id: str, token: str | None = None) -> type[QuietHandler]:
    """A handler class for tools.harness.serve."""

    class Hub(QuietHandler):
        def _json(self, obj, head):
            self.reply(200, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head)

        def _answer(self, head: bool):
            path = self.path.split("?", 1)[0]
            if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
                msg = b'{"error": "Access to model is restricted. You must have access to it and be authenticated."}'
                return self.reply(401, msg, {"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"}, head)
            files = sorted(f for f in os.listdir(directory) if os.path.isfile(os.path.join(directory, f)))
            if path.startswith(f"/api/models/{repo_id}/tree/"):
                return self._json([{"type": "file", "path": f, "size": os.path.getsize(os.path.join(directory, f)),
                                    "oid": hashlib.sha1(_read(directory, f)).hexdigest()} for f in files], head)
            if path.startswith(f"/api/models/{repo_id}"):
                return self._json({"id": repo_id, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}, head)
            prefix = f"/{repo_id}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                if name in files:
                    data = _read(directory, name)
                    return self.reply(200, data, {"ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                                                  "X-Repo-Commit": COMMIT}, head)
            return self.reply(404, b'{"error": "not found"}', {"X-Error-Code": "EntryNotFound"}, head)

        def do_GET(self):  # noqa: N802
            self._answer(False)

        def do_HEAD(self):  # noqa: N802
            self._answer(True)

    return Hub


def _read(directory: str, name: str) -> bytes:
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()
