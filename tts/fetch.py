"""Downloads of request audio (audio_url, voice_file_url), and the address policy for any host a request names
(s3Config.endpointUrl too).

Each hop is resolved once, every address it resolves to is checked, and the connection goes to the checked
address (pinned), so DNS rebinding between check and connect cannot reach a private host. Redirects are
followed by hand, at most MAX_REDIRECTS, each hop checked the same way. One wall-clock deadline covers the
whole download, redirects and slow servers included. Private addresses are refused unless the worker allows
them; IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by it."""
from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable

from tts.audio_input import MAX_BYTES
from tts.errors import InputError

TIMEOUT_S = 20.0
MAX_REDIRECTS = 3
_READ_BLOCK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(ip: Address) -> bool:
    """A globally routable address, judging IPv6 forms that embed an IPv4 address by that address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(ip in net for net in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if int(ip) >> 32 == 0 and int(ip) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some)
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(e is not None and not e.is_global for e in embedded):
            return False
    return ip.is_global


def redact(url: str) -> str:
    """The URL without credentials: no user:password@, no query string (presigned URLs carry keys there)."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<a malformed URL>"


def _resolve_system(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


class Fetcher:
    def __init__(self, allow_private: bool = False, max_bytes: int = MAX_BYTES, timeout_s: float = TIMEOUT_S,
                 resolve: Callable[[str, int], list[str]] = _resolve_system,
                 is_allowed: Callable[[Address], bool] = is_public):
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._resolve = resolve          # tests pass a resolver and a policy for their loopback hosts
        self._is_allowed = is_allowed

    def check_host(self, field: str, url: str, deadline: float | None = None) -> None:
        """Refuse a URL whose host is not one this worker may contact (used for s3Config.endpointUrl)."""
        scheme, host, port, _ = _split(field, url)
        self._address(field, host, port, _deadline(deadline, self.timeout_s))

    def get(self, field: str, url: str, deadline: float | None = None) -> bytes:
        """GET an http(s) URL: at most max_bytes, within timeout_s (or `deadline`, if sooner) all told."""
        deadline = _deadline(deadline, self.timeout_s)
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, target = _split(field, url)
            address = self._address(field, host, port, deadline)
            status, location, body = self._request(field, url, scheme, host, port, address, target, deadline)
            if status not in _REDIRECTS:
                return body
            if not location:
                raise InputError(field, f"the server answered HTTP {status} without a Location for {redact(url)}")
            url = urllib.parse.urljoin(url, location)
        raise InputError(field, f"more than {MAX_REDIRECTS} redirects, last to {redact(url)}")

    def _address(self, field: str, host: str, port: int, deadline: float) -> str:
        """The one address to connect to: every address the host resolves to must be allowed."""
        try:
            ip = ipaddress.ip_address(host)
            addresses = [str(ip)]
        except ValueError:
            future = _resolver_pool.submit(self._resolve, host, port)
            try:
                addresses = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                raise InputError(field, f"resolving host {host!r} took too long") from None
            except (OSError, UnicodeError) as e:
                raise InputError(field, f"cannot resolve host {host!r}: {getattr(e, 'strerror', None) or e}") \
                    from None
        if not addresses:
            raise InputError(field, f"host {host!r} has no address")
        if not self.allow_private:
            for addr in addresses:
                ip = ipaddress.ip_address(addr.split("%", 1)[0])
                if not self._is_allowed(ip):
                    raise InputError(field, f"host {host!r} is a private or local address ({ip}); only public "
                                            "hosts are contacted (set ALLOW_PRIVATE_URLS=1 to allow)")
        return addresses[0]

    def _request(self, field: str, url: str, scheme: str, host: str, port: int, address: str, target: str,
                 deadline: float) -> tuple[int, str | None, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise InputError(field, f"the download took longer than {self.timeout_s:.0f} s")
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = cls(host, port, address, remaining)
        try:
            conn.request("GET", target, headers={"User-Agent": "runpod-tts-worker", "Accept-Encoding": "identity"})
            resp = conn.getresponse()
            if resp.status in _REDIRECTS:
                return resp.status, resp.getheader("Location"), b""
            if resp.status != 200:
                raise InputError(field, f"the server answered HTTP {resp.status} for {redact(url)}")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise InputError(field, f"the file is {int(declared) / 1e6:.1f} MB, "
                                        f"over the {self.max_bytes / 1e6:.0f} MB limit")
            chunks, total = [], 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise InputError(field, f"the download took longer than {self.timeout_s:.0f} s")
                conn.pinned_sock.settimeout(remaining)  # each read waits only for what is left of the deadline
                block = resp.read1(_READ_BLOCK)
                if not block:
                    return resp.status, None, b"".join(chunks)
                total += len(block)
                if total > self.max_bytes:
                    raise InputError(field, f"the file is over the {self.max_bytes / 1e6:.0f} MB limit")
                chunks.append(block)
        except TimeoutError:
            raise InputError(field, f"the download took longer than {self.timeout_s:.0f} s") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            if isinstance(e, InputError):
                raise
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or type(e).__name__
            raise InputError(field, f"could not download {redact(url)}: {reason}") from None
        finally:
            conn.close()


def _deadline(deadline: float | None, timeout_s: float) -> float:
    own = time.monotonic() + timeout_s
    return own if deadline is None else min(own, deadline)


def _split(field: str, url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target) of an http(s) URL, or InputError."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:  # a port out of range or not a number, a broken IPv6 literal
        raise InputError(field, f"is not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(field, f"only http:// and https:// URLs are allowed; got {parts.scheme or 'no'} scheme")
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), target


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        # Kept apart from .sock, which http.client clears when it hands the socket to a closing response.
        self.sock = self.pinned_sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to the checked address; TLS still verifies the certificate for the host name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self.pinned_sock = self._context.wrap_socket(sock, server_hostname=self.host)
