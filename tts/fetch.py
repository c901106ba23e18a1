"""Downloads of request audio (audio_url, voice_file_url): http(s) only, public hosts only unless the worker
allows private ones, bounded in size and time."""
from __future__ import annotations

import ipaddress
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from tts.audio_input import MAX_BYTES
from tts.errors import InputError

TIMEOUT_S = 20.0
_READ_BLOCK = 64 * 1024


class Fetcher:
    def __init__(self, allow_private: bool = False, max_bytes: int = MAX_BYTES, timeout_s: float = TIMEOUT_S):
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def get(self, field: str, url: str) -> bytes:
        """GET an http(s) URL: at most max_bytes, in at most timeout_s seconds all told."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(field, f"only http:// and https:// URLs are allowed; got {parts.scheme or 'no'} scheme")
        if not self.allow_private:
            _refuse_private_host(field, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        limit, timeout_s = self.max_bytes, self.timeout_s
        deadline = time.monotonic() + timeout_s
        request = urllib.request.Request(url, headers={"User-Agent": "runpod-tts-worker"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise InputError(field, f"the file is {int(declared) / 1e6:.1f} MB, "
                                            f"over the {limit / 1e6:.0f} MB limit")
                chunks, total = [], 0
                while block := resp.read1(_READ_BLOCK):  # read1: returns per recv, so the deadline holds
                    total += len(block)
                    if total > limit:
                        raise InputError(field, f"the file is over the {limit / 1e6:.0f} MB limit")
                    if time.monotonic() > deadline:
                        raise InputError(field, f"the download took longer than {timeout_s:.0f} s")
                    chunks.append(block)
        except urllib.error.HTTPError as e:
            raise InputError(field, f"the server answered HTTP {e.code} for {_safe(url)}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise InputError(field, f"could not download {_safe(url)}: {reason}") from None
        return b"".join(chunks)


def _refuse_private_host(field: str, host: str, port: int) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as e:
        raise InputError(field, f"cannot resolve host {host!r}: {e.strerror}") from None
    for addr in addresses:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
        if not ip.is_global:
            raise InputError(field, f"host {host!r} is a private or local address ({ip}); only public hosts are "
                                    "fetched (set ALLOW_PRIVATE_URLS=1 to allow)")


def _safe(url: str) -> str:
    """The URL without its query string: presigned URLs carry credentials there."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
