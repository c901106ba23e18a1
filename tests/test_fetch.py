"""URL fetching as an attacker would try it, all on loopback: 127.0.0.2 plays a public host (the policy under
test is told so), 127.0.0.1 the private one it must never reach."""
import io
import ipaddress
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from cache import AudioCache
from tests.helpers import QuietHandler, files_handler, make_settings, serve
from tools.harness import drip_server, https_server, make_certificate, silent_server
from tts.doors.queue import queue_job
from tts.errors import InputError
from tts.fetch import Fetcher, is_public, redact
from tts.request import AudioSource
from tts.resolve import Resolver
from tts.service import TTSService
from tts.voices import VoiceLibrary

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


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2001:4860:4860::8888"])
def test_public_addresses_are(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("literal, what", [
    ("224.0.0.1", "a multicast address"), ("239.255.255.250", "a multicast address"),
    ("[ff02::1]", "a multicast address"), ("[ff0e::1]", "a multicast address"),
    ("240.0.0.1", "a reserved address"), ("255.255.255.255", "a reserved address"), ("[100::1]", "a reserved address"),
    ("[fec0::1]", "a site-local address"), ("[feff::1]", "a site-local address"),
    # Every IPv6 form that carries an IPv4 address, whatever the IPv4 address: a network or the kernel may
    # deliver it to the IPv4 host inside.
    ("[::ffff:0:7f00:1]", "an IPv6 form of 127.0.0.1"),            # IPv4-translated (SIIT)
    ("[::ffff:0:8.8.8.8]", "an IPv6 form of 8.8.8.8"),
    ("[::ffff:127.0.0.1]", "an IPv6 form of 127.0.0.1"),           # IPv4-mapped
    ("[::ffff:8.8.8.8]", "an IPv6 form of 8.8.8.8"),
    ("[::10.0.0.1]", "an IPv6 form of 10.0.0.1"),                  # IPv4-compatible
    ("[64:ff9b::7f00:1]", "an IPv6 form of 127.0.0.1"),            # NAT64
    ("[64:ff9b::808:808]", "an IPv6 form of 8.8.8.8"),
    ("[64:ff9b:1::a00:1]", "a local-use NAT64 address"),
    ("[2002:a9fe:a9fe::]", "an IPv6 form of 169.254.169.254"),     # 6to4
    ("[2002:808:808::1]", "an IPv6 form of 8.8.8.8"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "an IPv6 form of 127.0.0.1"),  # Teredo (client address inverted)
    ("[2001:4860::5efe:a00:1]", "an IPv6 form of 10.0.0.1"),       # ISATAP interface id
    ("127.0.0.1", "a private or local address"), ("0.0.0.0", "a private or local address"),
    ("[::1]", "a private or local address"), ("[fe80::1]", "a private or local address"),
])
def test_every_literal_form_of_a_non_public_address_is_refused_naming_what_it_is(literal, what):
    host = literal.strip("[]")
    ip = ipaddress.ip_address(host)
    assert refused(Fetcher().get, "audio_url", f"http://{literal}:8/x.wav") == (
        f"audio_url: host '{host}' is {what} ({ip}); only public hosts are contacted (set ALLOW_PRIVATE_URLS=1 to "
        "allow)")
    assert Fetcher(allow_private=True).check_host("s3Config.endpointUrl", f"http://{literal}/") == str(ip)


@pytest.mark.parametrize("url, message", [
    ("http://h:99999/x", "audio_url: is not a valid URL: Port out of range 0-65535"),
    ("http://[::1/x", "audio_url: is not a valid URL: Invalid IPv6 URL"),
    ("file:///etc/passwd", "audio_url: only http:// and https:// URLs are allowed; got file scheme"),
    ("http://[::ffff:127.0.0.1]:9/x", "audio_url: host '::ffff:127.0.0.1' is an IPv6 form of 127.0.0.1"),
    ("http://2130706433/x", "audio_url: host '2130706433' is a private or local address (127.0.0.1)"),
])
def test_malformed_and_disguised_urls_are_refused_without_a_connection(url, message):
    assert refused(Fetcher().get, "audio_url", url).startswith(message)


@pytest.mark.parametrize("head, drip", [
    (b"", b"H"),                                                          # a status line that never ends
    (b"HTTP/1.0 200 OK\r\nX-Drip: ", b"a"),                               # a header that never ends
    (b"HTTP/1.0 200 OK\r\n", b"X-A: b\r\n"),                              # headers that never end
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"0"),     # a chunk-size line that never ends
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x"),           # a body that never ends
])
def test_a_server_that_drips_any_part_of_its_answer_is_cut_off_at_the_deadline(head, drip):
    # A byte every 0.2 s: each read is quick, the whole is not. The deadline is wall-clock, not per read.
    with drip_server(head, drip, every_s=0.2, for_s=30) as url:
        t = time.monotonic()
        message = refused(Fetcher(allow_private=True, timeout_s=1.5).get, "audio_url", f"{url}/slow?token=s3cret")
        took = time.monotonic() - t
    assert message == f"audio_url: the download of {url}/slow did not finish within 1.5 s"
    assert 1.4 < took < 2.5


def test_the_deadline_covers_every_redirect():
    class Slow(Recorder):
        def do_GET(self):  # noqa: N802
            time.sleep(0.4)  # each hop is quick; the four together are not
            super().do_GET()

    Recorder.routes = {"/1": (302, {"Location": "/2"}, b""), "/2": (302, {"Location": "/3"}, b""),
                       "/3": (302, {"Location": "/4"}, b""), "/4": (200, {}, b"late")}
    with serve(Slow) as url:
        t = time.monotonic()
        message = refused(Fetcher(allow_private=True, timeout_s=1.0).get, "audio_url", f"{url}/1")
        took = time.monotonic() - t
    assert message.startswith("audio_url: the download of ") and message.endswith(" did not finish within 1 s")
    assert took < 1.8


def test_a_job_deadline_sooner_than_the_fetch_limit_is_the_one_kept():
    # What the resolver passes from the job's budget (MAX_JOB_SECONDS) ends the download, and says so.
    resolver = Resolver("csm", 24000, None, Fetcher(allow_private=True), None)
    with drip_server() as url:
        t = time.monotonic()
        message = refused(resolver.audio, AudioSource("audio_url", url=f"{url}/a.wav"), time.monotonic() + 1.0)
        took = time.monotonic() - t
    assert message == (f"audio_url: the download of {url}/a.wav did not finish within 1 s (what was left of the "
                       "job's MAX_JOB_SECONDS budget)")
    assert took < 2.0


@pytest.mark.parametrize("scheme", ["http", "https"])  # https: a TLS handshake that never completes
def test_a_silent_server_is_cut_off_at_the_deadline(scheme):
    with silent_server() as url:
        url = url.replace("http:", f"{scheme}:")
        t = time.monotonic()
        message = refused(Fetcher(allow_private=True, timeout_s=1.0).get, "voice_file_url", f"{url}/v.wav")
        took = time.monotonic() - t
    assert message == f"voice_file_url: the download of {url}/v.wav did not finish within 1 s" and took < 2.0


def test_credentials_in_urls_never_reach_messages():
    assert redact("https://user:pass@host.example/a.wav?X-Amz-Signature=abc") == "https://host.example/a.wav"
    message = refused(Fetcher(allow_private=True, timeout_s=2).get, "audio_url",
                      "http://user:hunter2@127.0.0.1:9/a.wav?token=s3cret")
    assert "hunter2" not in message and "s3cret" not in message and message.startswith("audio_url: could not")


def test_https_connects_to_the_checked_address_and_verifies_the_certificate_for_the_host(tmp_path, monkeypatch):
    Recorder.hits, Recorder.routes = [], {"/a.wav": (200, {}, b"over TLS")}
    ca, cert, key = make_certificate(tmp_path, "files.test")
    monkeypatch.setenv("SSL_CERT_FILE", ca)  # the default context trusts this CA (and nothing else) here
    pinned = fetcher(resolve=lambda host, port: ["127.0.0.2"])
    with https_server(Recorder, cert, key, "127.0.0.2") as port:
        assert pinned.get("audio_url", f"https://files.test:{port}/a.wav") == b"over TLS"
        # The same server reached under a name its certificate does not carry is refused.
        assert refused(pinned.get, "audio_url", f"https://other.test:{port}/a.wav") == \
            f"audio_url: could not download https://other.test:{port}/a.wav: CERTIFICATE_VERIFY_FAILED"
    assert Recorder.hits == [("127.0.0.2", "/a.wav")]


@pytest.fixture(scope="module")
def tiny_csm(tmp_path_factory):
    from tools.tiny_csm import build_tiny_csm
    from tts.engines import load_engine

    return load_engine("csm", make_settings(model_id=build_tiny_csm(str(tmp_path_factory.mktemp("csm"))),
                                            device="cpu"))


def test_upload_voice_from_a_server_dripping_its_headers_fails_in_time_and_the_worker_lives_on(tiny_csm, tmp_path):
    # The repro: "HTTP/1.0 200 OK\r\nX-Drip: " then a byte at a time held the job past 75 s.
    svc = TTSService(tiny_csm, AudioCache(str(tmp_path / "cache"), 0), make_settings(allow_private_urls=True),
                     VoiceLibrary(str(tmp_path / "voices"), tiny_csm.sample_rate))
    svc.resolver.fetcher = Fetcher(allow_private=True, timeout_s=2.0)  # the service's own, with a shorter limit
    wav = io.BytesIO()
    sf.write(wav, 0.2 * np.sin(np.arange(24000) / 8).astype(np.float32), 24000, format="WAV")
    with drip_server(every_s=0.5) as url, serve(files_handler({"/v.wav": wav.getvalue()})) as files:
        t = time.monotonic()
        out = queue_job(svc, {"action": "upload_voice", "name": "x", "audio_url": f"{url}/slow-headers",
                              "text": "hi"})
        took = time.monotonic() - t
        assert out == {"error": f"audio_url: the download of {url}/slow-headers did not finish within 2 s"}
        assert took < 3.0
        saved = queue_job(svc, {"action": "upload_voice", "name": "y", "audio_url": f"{files}/v.wav", "text": "hi"})
    assert saved["voice"]["name"] == "y" and saved["voice"]["seconds"] == 1.0, saved
    assert [v["name"] for v in queue_job(svc, {"action": "list_voices"})["voices"] if v["stored"]] == ["y"]
