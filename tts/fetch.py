"""Downloads of request audio (audio_url, voice_file_url), the address policy for any host a request names
(s3Config.endpointUrl too), and the pinned, deadline-bound HTTP connections that downloads and bucket uploads
(tts.upload) use.

Each hop is resolved once, every address it resolves to is checked, and the connection goes to the checked
address (pinned), so DNS rebinding between check and connect cannot reach a private host. Redirects are
followed by hand, at most MAX_REDIRECTS, each hop checked the same way. One wall-clock deadline covers the
whole transfer: name lookup, connect, TLS handshake, request, status line, headers and body of every hop. It is
not a timeout per read (a server that sends a byte just before each read's timeout would restart it forever):
every socket operation may wait only for what is left of the deadline. Private addresses are refused unless
the worker allows them, and so are multicast, reserved and site-local ones and every IPv6 form that carries an
IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo, ISATAP): a network or the kernel may deliver
those to the IPv4 host inside."""
from __future__ import annotations

import concurrent.futures
import http.client
import io
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from tts.audio_input import MAX_BYTES
from tts.errors import InputError

TIMEOUT_S = 20.0
MAX_REDIRECTS = 3
_READ_BLOCK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")   # RFC 8215: the IPv4 part's place depends on the network
_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(ip: Address) -> bool:
    """A globally routable unicast address that is not an IPv6 form of an IPv4 address."""
    return not_public(ip) is None


def not_public(ip: Address) -> str | None:
    """None for an address this worker may contact without ALLOW_PRIVATE_URLS; else what it is, for a message."""
    if isinstance(ip, ipaddress.IPv6Address):
        inside = _carried_ipv4(ip)
        if inside is not None:
            return f"an IPv6 form of {inside}" if isinstance(inside, ipaddress.IPv4Address) else inside
    if ip.is_loopback or ip.is_unspecified:
        return "a private or local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if not ip.is_global:
        return "a private or local address"
    return None


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | str | None:
    """The IPv4 address an IPv6 address carries (or what kind of carrier it is, when the place of the IPv4 part
    is the network's choice); None for a plain IPv6 address."""
    n = int(ip)
    low = ipaddress.IPv4Address(n & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:                           # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if n >> 32 == 0xFFFF0000:                                # ::ffff:0:a.b.c.d (IPv4-translated, SIIT)
        return low
    if n >> 32 == 0 and n > 1:                               # ::a.b.c.d (IPv4-compatible, deprecated)
        return low
    if ip in _NAT64:                                         # 64:ff9b::a.b.c.d
        return low
    if ip in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    if ip.sixtofour is not None:                             # 2002:aabb:ccdd::/48
        return ip.sixtofour
    if ip.teredo is not None:                                # 2001::/32: (server, client)
        return ip.teredo[1]
    if (n >> 32) & 0xFDFFFFFF == 0x00005EFE:                 # ISATAP interface id ...:0:5efe:a.b.c.d
        return low
    return None


def redact(url: str) -> str:
    """The URL without credentials: no user:password@, no query string (presigned URLs carry keys there)."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<a malformed URL>"


@dataclass(frozen=True)
class Deadline:
    """When a transfer must be over (time.monotonic()), and how to say so in an error."""
    at: float
    seconds: float      # what it allowed when it was set
    job: bool           # set by what was left of the job's budget (MAX_JOB_SECONDS), not the transfer's own limit

    @classmethod
    def within(cls, own_s: float, job_deadline: float | None) -> Deadline:
        now = time.monotonic()
        if job_deadline is not None and job_deadline < now + own_s:
            return cls(job_deadline, max(0.0, job_deadline - now), True)
        return cls(now + own_s, own_s, False)

    def left(self) -> float:
        """Seconds left; TimeoutError when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def __str__(self) -> str:
        seconds = f"{round(self.seconds, 1):g} s"
        return f"{seconds} (what was left of the job's MAX_JOB_SECONDS budget)" if self.job else seconds


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

    def check_host(self, field: str, url: str, deadline: float | None = None) -> str:
        """The address to connect to for `url`'s host, refused unless this worker may contact it (used for
        s3Config.endpointUrl: the upload connects to this address, never to a second lookup's)."""
        _, host, port, _ = split_url(field, url)
        return self.address(field, host, port, Deadline.within(self.timeout_s, deadline))

    def get(self, field: str, url: str, deadline: float | None = None) -> bytes:
        """GET an http(s) URL: at most max_bytes, within timeout_s (or `deadline`, if sooner) all told."""
        limit = Deadline.within(self.timeout_s, deadline)
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, target = split_url(field, url)
            address = self.address(field, host, port, limit)
            status, location, body = self._request(field, url, scheme, host, port, address, target, limit)
            if status not in _REDIRECTS:
                return body
            if not location:
                raise InputError(field, f"the server answered HTTP {status} without a Location for {redact(url)}")
            url = urllib.parse.urljoin(url, location)
        raise InputError(field, f"more than {MAX_REDIRECTS} redirects, last to {redact(url)}")

    def address(self, field: str, host: str, port: int, limit: Deadline) -> str:
        """The one address to connect to: every address the host resolves to must be allowed."""
        try:
            ip = ipaddress.ip_address(host)
            addresses = [str(ip)]
        except ValueError:
            future = _resolver_pool.submit(self._resolve, host, port)
            try:
                addresses = future.result(timeout=max(0.0, limit.at - time.monotonic()))
            except concurrent.futures.TimeoutError:
                raise InputError(field, f"resolving host {host!r} did not finish within {limit}") from None
            except (OSError, UnicodeError) as e:
                raise InputError(field, f"cannot resolve host {host!r}: {getattr(e, 'strerror', None) or e}") \
                    from None
        if not addresses:
            raise InputError(field, f"host {host!r} has no address")
        if not self.allow_private:
            for addr in addresses:
                ip = ipaddress.ip_address(addr.split("%", 1)[0])
                if not self._is_allowed(ip):
                    what = not_public(ip) or "a private or local address"
                    raise InputError(field, f"host {host!r} is {what} ({ip}); only public hosts are contacted "
                                            "(set ALLOW_PRIVATE_URLS=1 to allow)")
        return addresses[0]

    def _request(self, field: str, url: str, scheme: str, host: str, port: int, address: str, target: str,
                 limit: Deadline) -> tuple[int, str | None, bytes]:
        conn, resp = connection(scheme, host, port, address, limit), None
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
            body = read_body(resp, self.max_bytes)
            if body is None:
                raise InputError(field, f"the file is over the {self.max_bytes / 1e6:.0f} MB limit")
            return resp.status, None, body
        except TimeoutError:
            raise InputError(field, f"the download of {redact(url)} did not finish within {limit}") from None
        except (OSError, http.client.HTTPException, ValueError) as e:
            if isinstance(e, InputError):
                raise
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or type(e).__name__
            raise InputError(field, f"could not download {redact(url)}: {reason}") from None
        finally:
            if resp is not None:
                resp.close()
            conn.close()


def split_url(field: str, url: str) -> tuple[str, str, int, str]:
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


def connection(scheme: str, host: str, port: int, address: str, limit: Deadline) -> http.client.HTTPConnection:
    """An HTTP(S) connection to `host` that connects to `address` (the checked one) and gives up at `limit`:
    TimeoutError from any of its calls once the deadline has passed. TLS verifies the certificate for `host`."""
    return (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(host, port, address, limit)


def read_body(resp: http.client.HTTPResponse, max_bytes: int) -> bytes | None:
    """The response's body, or None once it passes max_bytes."""
    chunks, total = [], 0
    while block := resp.read1(_READ_BLOCK):
        total += len(block)
        if total > max_bytes:
            return None
        chunks.append(block)
    return b"".join(chunks)


class _DeadlineSocket:
    """A connected socket whose every operation waits only for what is left of the deadline. http.client sends
    through sendall() and reads the response through makefile(); nothing else of a socket is used. Like a
    socket and its makefile(), the connection is closed once the socket and every reader made from it are:
    http.client closes the socket when it hands a response that will close to the caller."""

    def __init__(self, sock: socket.socket, limit: Deadline):
        self._sock = sock
        self._limit = limit
        self._refs = 1

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._sock.settimeout(self._limit.left())
            view = view[self._sock.send(view):]

    def recv_into(self, buffer) -> int:
        self._sock.settimeout(self._limit.left())
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"only binary reads go through this socket, not {mode!r}")
        self._refs += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        self._refs -= 1
        if self._refs == 0:
            self._sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.close()
        super().close()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: str, limit: Deadline):
        super().__init__(host, port)
        self._address = address
        self._limit = limit

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), self._limit.left())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self) -> None:
        self.sock = _DeadlineSocket(self._connect(), self._limit)


class _PinnedHTTPS(_PinnedHTTP):
    """Connects to the checked address; TLS still verifies the certificate for the host name (SNI too)."""

    def connect(self) -> None:
        sock = self._connect()
        try:
            sock.settimeout(self._limit.left())  # the handshake as a whole waits at most this long
            tls = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(tls, self._limit)
