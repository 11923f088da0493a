"""app.providers.download.downloader against real HTTP(S) servers on 127.0.0.1 (no internet, no database).

The "Replicate" server plays the allowed origin; a second server plays the admin (or any
internal service) that a redirect must never reach; a TLS server with a certificate for
a made-up name checks that connections go to the vetted address while TLS still checks
the name.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import zlib
from pathlib import Path

import pytest

from app.providers.download.downloader import (
    MAX_OUTPUT_BYTES,
    DownloadFailed,
    DownloadRefused,
    SafeDownloader,
    address_refusal,
)
from app.storage.local import MediaStorage
from tests.download_server import (  # noqa: F401 (certificate: the TLS certificate fixture)
    GIF,
    HTML,
    JPEG,
    MB,
    PNG,
    WEBP,
    FakeDNS,
    LoopbackIsPublic,
    Server,
    body,
    certificate,
    image_bytes,
    lazy_stream,
    png_declaring,
    redirect,
    short_body,
    slow_drip,
)


@pytest.fixture(scope="module")
def admin_server():
    """Stands for the admin itself (or any internal service) on another port."""
    server = Server({"/": body(HTML, "text/html"), "/secret.png": body(PNG)})
    yield server
    server.close()


@pytest.fixture
def admin(admin_server):
    return admin_server.reset()


@pytest.fixture
def replicate(replicate_server):
    return replicate_server.reset()


@pytest.fixture(scope="module")
def replicate_server(admin_server):
    admin = admin_server
    ref: list = []
    routes = {
        "/out.png": body(PNG),
        "/out.jpg": body(JPEG, "image/jpeg"),
        "/out.webp": body(WEBP, "image/webp"),
        "/jpeg-named.png": body(JPEG, "application/octet-stream"),
        "/page.png": body(HTML, "text/html; charset=utf-8"),
        "/untyped.png": body(HTML, "image/png"),
        "/anim.gif": body(GIF, "image/gif"),
        "/truncated.png": body(PNG[: len(PNG) * 2 // 3]),
        "/corrupt.png": body(PNG[:100] + bytes(b ^ 0xFF for b in PNG[100:140]) + PNG[140:]),
        "/truncated.jpg": body(JPEG[:-200], "image/jpeg"),
        "/bomb.png": body(png_declaring(20000, 20000)),
        "/bomb-warning.png": body(png_declaring(10000, 10000)),
        "/empty.png": body(b""),
        "/gzip.png": body(zlib.compress(PNG), headers={"Content-Encoding": "gzip"}),
        "/huge.png": lazy_stream(ref, "/huge.png", 100 * MB, content_length=False),
        "/declared-huge.png": lazy_stream(ref, "/declared-huge.png", 100 * MB, content_length=True),
        "/short.png": short_body,
        "/slow.png": slow_drip,
        "/status/500": body(b"oops", "text/plain", 500),
        "/status/503": body(b"busy", "text/plain", 503),
        "/status/404": body(b"not yet", "text/plain", 404),
        "/status/429": body(b"slow down", "text/plain", 429),
        "/status/403": body(b"forbidden", "text/plain", 403),
        "/to-out": redirect("/out.png"),
        "/to-admin-http": redirect(f"http://127.0.0.1:{admin.port}/secret.png"),
        "/to-admin-https": redirect(f"https://127.0.0.1:{admin.port}/secret.png"),
        "/to-localhost": redirect(f"http://localhost:{admin.port}/secret.png"),
        "/to-private": redirect("https://10.0.0.1/latest"),
        "/to-metadata": redirect("https://metadata.test/latest/meta-data/", 307),
        "/to-mapped": redirect("https://[::ffff:169.254.169.254]/latest"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-malformed": redirect("http://[::1/x"),
        "/to-self": redirect("/to-self"),
        "/to-nowhere": redirect("", 301),
        "/set-cookie": redirect("/check-cookie.png", headers={"Set-Cookie": "session=abc123; Path=/"}),
        "/check-cookie.png": body(PNG, headers={"Set-Cookie": "second=xyz; Path=/"}),
    }
    server = Server(routes)
    ref.append(server)
    yield server
    server.close()


class ConnectSpy:
    """Records every outgoing TCP connect (httpcore uses socket.create_connection)."""

    def __init__(self, monkeypatch):
        self.addresses: list[tuple] = []
        real = socket.create_connection

        def create_connection(address, *args, **kwargs):
            self.addresses.append(tuple(address))
            return real(address, *args, **kwargs)

        monkeypatch.setattr(socket, "create_connection", create_connection)

    def hosts(self) -> set:
        return {address[0] for address in self.addresses}


@pytest.fixture
def work_dir():
    path = Path(tempfile.mkdtemp(prefix="downloads-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def downloader(replicate, work_dir):
    dns = FakeDNS({"metadata.test": ["169.254.169.254"], "internal.test": ["10.0.0.1"]})
    return SafeDownloader(replicate.origin, resolver=dns, temp_dir=work_dir / "tmp", timeout=5.0)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def store(downloader: SafeDownloader, url: str, storage: MediaStorage, stem: str) -> str:
    """How the worker is meant to use the module."""
    with downloader.download(url) as image:
        key = f"examples/{stem}.{image.extension}"
        storage.save_stream(key, image.chunks())
    return key


# -- allowed origin: the happy path --------------------------------------------------


@pytest.mark.parametrize(
    "path, data, fmt, extension, mime",
    [
        ("/out.png", PNG, "png", "png", "image/png"),
        ("/out.jpg", JPEG, "jpeg", "jpg", "image/jpeg"),
        ("/out.webp", WEBP, "webp", "webp", "image/webp"),
        ("/jpeg-named.png", JPEG, "jpeg", "jpg", "image/jpeg"),  # the URL's extension is ignored
    ],
)
def test_images_from_the_allowed_origin_are_stored_with_the_detected_format(
    downloader, replicate, work_dir, path, data, fmt, extension, mime
):
    storage = MediaStorage(work_dir / "media")
    key = store(downloader, replicate.url(path), storage, "model-0")
    assert key == f"examples/model-0.{extension}"
    assert (work_dir / "media" / key).read_bytes() == data
    assert leftovers(work_dir / "tmp") == []
    with downloader.download(replicate.url(path)) as image:
        assert (image.format, image.extension, image.content_type, image.size) == (fmt, extension, mime, len(data))
        assert image.read_bytes() == data
    assert not image.path.exists()


def test_redirect_within_the_allowed_origin_is_followed(downloader, replicate):
    with downloader.download(replicate.url("/to-out")) as image:
        assert image.format == "png"
        assert image.url == replicate.url("/out.png")


# -- URLs refused before any connection -------------------------------------------------


@pytest.mark.parametrize(
    "url, reason",
    [
        ("file:///etc/passwd", "file: URLs are not allowed"),
        # a data: URI is decoded, never fetched (issue 35): a PNG signature alone is no image
        ("data:image/png;base64,iVBORw0KGgo=", "not an image"),
        ("data:text/html;base64,PGh0bWw+", "not an image: a data: URI of text/html"),
        ("ftp://example.com/out.png", "ftp: URLs are not allowed"),
        ("http://[::1/x", "malformed URL"),
        ("http://example.com/out.png", "plain http is allowed only from the configured origin"),
        ("http://127.0.0.1:1/out.png", "plain http is allowed only from the configured origin"),
        ("https:///out.png", "no host"),
        ("/out.png", "scheme-less URLs are not allowed"),
        ("https://user:secret@example.com/out.png", "credentials"),
        ("https://example.com:99999/out.png", "invalid port"),
        ("https://exa mple.com/out.png", "invalid host name"),
        ("https://0x7f.1/out.png", "ambiguous numeric host"),
        ("https://example.com/" + "a" * 5000, "longer than"),
        ("https://127.0.0.1/out.png", "loopback"),
        ("https://[::1]/out.png", "loopback"),
        ("https://10.0.0.1/out.png", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::ffff:10.0.0.1]/out.png", "private"),
        ("https://0.0.0.0/out.png", "unspecified"),
        ("https://224.0.0.1/out.png", "multicast"),
        ("", "no URL"),
    ],
)
def test_bad_urls_are_refused_without_connecting(downloader, monkeypatch, url, reason):
    spy = ConnectSpy(monkeypatch)
    with pytest.raises(DownloadRefused, match=reason):
        downloader.download(url)
    assert spy.addresses == []


def test_non_string_url_is_refused(downloader):
    with pytest.raises(DownloadRefused):
        downloader.download(None)  # type: ignore[arg-type]


@pytest.mark.fast
def test_https_host_resolving_to_loopback_or_private_is_refused(work_dir, monkeypatch):
    spy = ConnectSpy(monkeypatch)
    dns = FakeDNS(
        {
            "images.test": ["127.0.0.1"],
            "mixed.test": ["93.184.216.34", "10.1.2.3"],  # one bad address is enough
            "v6.test": ["fd00::1"],
            "mapped.test": ["::ffff:127.0.0.1"],
            "sixtofour.test": ["2002:a9fe:a9fe::1"],  # 6to4 wrapping 169.254.169.254
        }
    )
    downloader = SafeDownloader(None, resolver=dns, temp_dir=work_dir)
    for host, reason in [
        ("images.test", "images.test resolves to 127.0.0.1, a loopback address"),
        ("mixed.test", "10.1.2.3, a private address"),
        ("v6.test", "private"),
        ("mapped.test", "loopback"),
        ("sixtofour.test", "link-local"),
    ]:
        with pytest.raises(DownloadRefused, match=reason):
            downloader.download(f"https://{host}/out.png")
    assert spy.addresses == []
    assert leftovers(work_dir) == []


@pytest.mark.fast
def test_unresolvable_host_is_a_transient_failure(work_dir):
    downloader = SafeDownloader(None, resolver=FakeDNS({}), temp_dir=work_dir)
    with pytest.raises(DownloadFailed, match="cannot resolve"):
        downloader.download("https://replicate.delivery/out.png")


@pytest.mark.fast
def test_address_policy():
    import ipaddress

    public = ["93.184.216.34", "2606:4700::1111", "1.1.1.1"]
    internal = [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ]
    for address in public:
        assert address_refusal(ipaddress.ip_address(address)) is None, address
    for address in internal:
        assert address_refusal(ipaddress.ip_address(address)), address


# -- redirects: every hop gets the same checks ------------------------------------------


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/to-admin-http", "plain http is allowed only from the configured origin"),
        ("/to-admin-https", "loopback"),
        ("/to-localhost", "plain http is allowed only from the configured origin"),
        ("/to-private", "10.0.0.1 is a private address"),
        ("/to-metadata", "metadata.test resolves to 169.254.169.254, a link-local address"),
        ("/to-mapped", "link-local"),
        ("/to-file", "file: URLs are not allowed"),
        ("/to-malformed", "malformed URL"),
        ("/to-self", "more than 5 redirects"),
        ("/to-nowhere", "without a Location"),
    ],
)
def test_bad_redirects_are_refused_without_connecting(downloader, replicate, admin, monkeypatch, path, reason):
    spy = ConnectSpy(monkeypatch)
    with pytest.raises(DownloadRefused, match=reason):
        downloader.download(replicate.url(path))
    assert spy.hosts() <= {"127.0.0.1"}
    assert {port for _, port in spy.addresses} == {replicate.port}
    assert admin.requests == []


# -- size cap -----------------------------------------------------------------------------


def test_endless_body_is_cut_at_the_cap_and_nothing_is_left_behind(downloader, replicate, work_dir):
    storage = MediaStorage(work_dir / "media")
    assert downloader.max_bytes == MAX_OUTPUT_BYTES == 25 * MB
    with pytest.raises(DownloadRefused, match="too large"):
        store(downloader, replicate.url("/huge.png"), storage, "big")
    assert replicate.wait_finished("/huge.png")
    assert replicate.sent["/huge.png"] < 40 * MB  # reading stopped: cap + socket buffers
    assert leftovers(work_dir) == []


def test_content_length_over_the_cap_is_refused_before_reading(replicate, work_dir):
    downloader = SafeDownloader(replicate.origin, max_bytes=1 * MB, temp_dir=work_dir)
    with pytest.raises(DownloadRefused, match="Content-Length 104857600 bytes is over the 1048576 byte limit"):
        downloader.download(replicate.url("/declared-huge.png"))
    assert replicate.wait_finished("/declared-huge.png")
    assert replicate.sent["/declared-huge.png"] < 30 * MB
    assert leftovers(work_dir) == []


def test_small_cap_applies_to_real_images(replicate, work_dir):
    downloader = SafeDownloader(replicate.origin, max_bytes=len(PNG) - 1, temp_dir=work_dir)
    with pytest.raises(DownloadRefused, match="too large"):
        downloader.download(replicate.url("/out.png"))
    assert leftovers(work_dir) == []


# -- content checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/page.png", r"not an image: looks like text/html \(server said text/html; charset=utf-8\)"),
        ("/untyped.png", "not an image: looks like text/html"),
        ("/anim.gif", "GIF image, which is not an allowed format"),
        ("/truncated.png", "corrupt or truncated PNG"),
        ("/corrupt.png", "corrupt or truncated PNG"),
        ("/truncated.jpg", "corrupt or truncated JPEG"),
        ("/bomb.png", "decompression bomb|image too large"),
        ("/bomb-warning.png", "decompression bomb|image too large"),
        ("/empty.png", "empty"),
        ("/gzip.png", "compressed response"),
    ],
)
def test_bodies_that_are_not_a_sound_image_are_refused_and_not_stored(downloader, replicate, work_dir, path, reason):
    storage = MediaStorage(work_dir / "media")
    with pytest.raises(DownloadRefused, match=reason):
        store(downloader, replicate.url(path), storage, "x")
    assert leftovers(work_dir) == []


def test_pixel_limit(replicate, work_dir):
    downloader = SafeDownloader(replicate.origin, max_pixels=640 * 480 - 1, temp_dir=work_dir)
    with pytest.raises(DownloadRefused, match="640x480 pixels is over the 307199 pixel limit"):
        downloader.download(replicate.url("/out.png"))


# -- statuses and network errors ------------------------------------------------------------


@pytest.mark.parametrize(
    "path, error",
    [
        ("/status/500", DownloadFailed),
        ("/status/503", DownloadFailed),
        ("/status/404", DownloadFailed),
        ("/status/429", DownloadFailed),
        ("/status/403", DownloadRefused),
        ("/short.png", DownloadFailed),
    ],
)
def test_status_codes_and_cut_connections(downloader, replicate, work_dir, path, error):
    with pytest.raises(error):
        downloader.download(replicate.url(path))
    assert leftovers(work_dir) == []


def test_overall_deadline_stops_a_slow_drip(replicate, work_dir):
    downloader = SafeDownloader(replicate.origin, temp_dir=work_dir, timeout=2.0, total_timeout=0.3)
    with pytest.raises(DownloadFailed, match="took longer than 0.3 s"):
        downloader.download(replicate.url("/slow.png"))
    assert leftovers(work_dir) == []


@pytest.mark.fast
def test_connection_refused_is_a_transient_failure(work_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    downloader = SafeDownloader(f"http://127.0.0.1:{port}", temp_dir=work_dir, timeout=2.0)
    with pytest.raises(DownloadFailed, match="cannot connect"):
        downloader.download(f"http://127.0.0.1:{port}/out.png")


# -- cookies --------------------------------------------------------------------------------


def test_cookies_are_never_sent_back(downloader, replicate):
    with downloader.download(replicate.url("/set-cookie")) as image:
        assert image.format == "png"
    with downloader.download(replicate.url("/check-cookie.png")):
        pass
    with downloader.download(replicate.url("/set-cookie")):
        pass
    assert replicate.paths() == [
        "/set-cookie",
        "/check-cookie.png",
        "/check-cookie.png",
        "/set-cookie",
        "/check-cookie.png",
    ]
    assert [headers.get("cookie") for _, headers in replicate.requests] == [None] * 5


# -- DNS rebinding: connect to the vetted address, keep the name for TLS ----------------------


@pytest.fixture
def cdn(certificate):  # noqa: F811 (the fixture imported above)
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server({"/out.png": body(PNG), "/to-internal": redirect("https://internal.test/x")}, tls=context)
    yield server
    server.close()


def test_connection_goes_to_the_vetted_address_even_if_dns_changes(cdn, certificate, work_dir, monkeypatch):  # noqa: F811
    spy = ConnectSpy(monkeypatch)
    # First answer is what we check; a rebinding DNS would answer 10.0.0.1 the next time.
    dns = FakeDNS({"cdn.test": [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]], "internal.test": ["10.0.0.1"]})
    client_tls = ssl.create_default_context(cafile=str(certificate[0]))
    downloader = LoopbackIsPublic(None, resolver=dns, temp_dir=work_dir, ssl_context=client_tls, timeout=5.0)

    url = f"https://cdn.test:{cdn.port}/out.png"
    with downloader.download(url) as image:
        assert image.format == "png" and image.read_bytes() == PNG
    assert dns.queries == ["cdn.test"]  # resolved once, by us
    assert spy.addresses == [("127.0.0.1", cdn.port)]  # connected to the checked address
    assert cdn.requests[0][1]["host"] == f"cdn.test:{cdn.port}"  # the name is kept

    # Second download: DNS now says 10.0.0.1, so it is refused, not fetched.
    with pytest.raises(DownloadRefused, match="10.0.0.1, a private address"):
        downloader.download(url)
    assert len(spy.addresses) == 1

    # A redirect from the public host to an internal name is refused the same way.
    dns.answers["cdn.test"] = ["127.0.0.1"]
    with pytest.raises(DownloadRefused, match="internal.test resolves to 10.0.0.1"):
        downloader.download(f"https://cdn.test:{cdn.port}/to-internal")


def test_tls_certificate_is_checked_for_the_name_not_the_address(cdn, certificate, work_dir):  # noqa: F811
    dns = FakeDNS({"other.test": ["127.0.0.1"]})
    client_tls = ssl.create_default_context(cafile=str(certificate[0]))
    downloader = LoopbackIsPublic(None, resolver=dns, temp_dir=work_dir, ssl_context=client_tls, timeout=5.0)
    with pytest.raises(DownloadFailed, match="cannot connect"):
        downloader.download(f"https://other.test:{cdn.port}/out.png")
    assert cdn.requests == []
    assert leftovers(work_dir) == []
