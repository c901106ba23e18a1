"""URL fetching as an attacker would try it, all on loopback: 127.0.0.2 plays a public host (the policy under
test is told so), 127.0.0.1 the private one it must never reach."""
import ipaddress
import threading
import time

import pytest

from tests.helpers import QuietHandler, serve
from tts.errors import InputError
from tts.fetch import Fetcher, is_public, redact

PUBLIC = ipaddress.ip_address("127.0.0.2")


def stand_in_policy(ip) -> bool:
    """127.0.0.2 counts as public here; everything else by the real rule."""
    return ip == PUBLIC or is_public(ip)


class Recorder(QuietHandler):
    hits: list = []
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        Recorder.hits.append((self.server.server_address[0], self.path))
        status, headers, body = Recorder.routes.get(self.path, (404, {}, b""))
        self.reply(status, body, headers)


@pytest.fixture
def servers():
    """A "public" server on 127.0.0.2 and a private one on 127.0.0.1, both recording what they are asked."""
    Recorder.hits, Recorder.routes = [], {}
    with serve(Recorder) as private:
        import http.server

        public_server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Recorder)
        threading.Thread(target=public_server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.2:{public_server.server_address[1]}", private
        finally:
            public_server.shutdown()
            public_server.server_close()


def fetcher(**kw) -> Fetcher:
    return Fetcher(is_allowed=stand_in_policy, **kw)


def refused(fn, *args) -> str:
    with pytest.raises(InputError) as err:
        fn(*args)
    return str(err.value)


def test_a_public_file_is_fetched(servers):
    public, _ = servers
    Recorder.routes["/a.wav"] = (200, {}, b"RIFF1234")
    assert fetcher().get("audio_url", f"{public}/a.wav") == b"RIFF1234"


def test_a_redirect_to_a_private_address_is_refused_before_connecting(servers):
    public, private = servers
    Recorder.routes["/go"] = (302, {"Location": f"{private}/secret"}, b"")
    assert refused(fetcher().get, "audio_url", f"{public}/go") == (
        "audio_url: host '127.0.0.1' is a private or local address (127.0.0.1); only public hosts are contacted "
        "(set ALLOW_PRIVATE_URLS=1 to allow)")
    assert [h for h, _ in Recorder.hits] == ["127.0.0.2"]  # the private server was never asked


def test_redirects_are_followed_a_few_times_then_refused(servers):
    public, _ = servers
    Recorder.routes.update({"/1": (302, {"Location": "/2"}, b""), "/2": (301, {"Location": "/3"}, b""),
                            "/3": (307, {"Location": "/file"}, b""), "/file": (200, {}, b"ok"),
                            "/loop": (302, {"Location": "/loop"}, b""),
                            "/ftp": (302, {"Location": "ftp://127.0.0.2/x"}, b"")})
    assert fetcher().get("audio_url", f"{public}/1") == b"ok"
    assert refused(fetcher().get, "audio_url", f"{public}/loop").startswith("audio_url: more than 3 redirects")
    assert refused(fetcher().get, "audio_url", f"{public}/ftp") == \
        "audio_url: only http:// and https:// URLs are allowed; got ftp scheme"


def test_dns_rebinding_cannot_move_the_connection_to_a_private_address(servers):
    public, private = servers
    port = int(public.rsplit(":", 1)[1])
    Recorder.routes["/a.wav"] = (200, {}, b"from the checked address")
    answers = iter([["127.0.0.2"], ["127.0.0.1"]])  # public when checked, loopback on any second lookup
    f = fetcher(resolve=lambda host, port: next(answers))
    assert f.get("audio_url", f"http://rebind.test:{port}/a.wav") == b"from the checked address"
    assert [h for h, _ in Recorder.hits] == ["127.0.0.2"]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::127.0.0.1",
                                     "::ffff:127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "2002:7f00:1::",
                                     "2002:a00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe", "fe80::1", "fc00::1",
                                     "0.0.0.0", "100.64.0.1"])
def test_private_addresses_in_every_spelling_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"])
def test_public_addresses_are(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url, message", [
    ("http://h:99999/x", "audio_url: is not a valid URL: Port out of range 0-65535"),
    ("http://[::1/x", "audio_url: is not a valid URL: Invalid IPv6 URL"),
    ("file:///etc/passwd", "audio_url: only http:// and https:// URLs are allowed; got file scheme"),
    ("http://[::ffff:127.0.0.1]:9/x", "audio_url: host '::ffff:127.0.0.1' is a private or local address"),
    ("http://2130706433/x", "audio_url: host '2130706433' is a private or local address (127.0.0.1)"),
])
def test_malformed_and_disguised_urls_are_refused_without_a_connection(url, message):
    assert refused(Fetcher().get, "audio_url", url).startswith(message)


def test_a_server_that_trickles_is_cut_off_at_the_deadline():
    class Trickle(QuietHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(20):  # a byte every 0.5 s: each read is quick, the whole is not
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.5)

    with serve(Trickle) as url:
        t = time.monotonic()
        message = refused(Fetcher(allow_private=True, timeout_s=1.5).get, "audio_url", f"{url}/slow")
        took = time.monotonic() - t
    assert message == "audio_url: the download took longer than 2 s" and took < 4


def test_credentials_in_urls_never_reach_messages():
    assert redact("https://user:pass@host.example/a.wav?X-Amz-Signature=abc") == "https://host.example/a.wav"
    message = refused(Fetcher(allow_private=True, timeout_s=2).get, "audio_url",
                      "http://user:hunter2@127.0.0.1:9/a.wav?token=s3cret")
    assert "hunter2" not in message and "s3cret" not in message and message.startswith("audio_url: could not")
