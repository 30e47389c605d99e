"""Small fixture files of the document and archive formats, written by the tests themselves: PDFs (plain,
scanned, encrypted, bombs), a Word file, WARC and ARC web archives, an mbox of newsletters, and news
sitemaps with a local HTTP server that serves them and their pages."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import io
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

PDF_PAGES = [
    [
        "Harbor strike ends after nine days",
        "March 5, 2024",
        "PORTVILLE, March 5 - Dock workers voted on Tuesday to end the strike that closed",
        "the port of Portville for nine days, the union said.",
        "The vote was 412 to 88.",
    ],
    [
        "The second page of the report says the container cranes restart on Monday,",
        "and the first ships are expected on Wednesday morning.",
    ],
]


def _pdf_object_bytes(objects: list[bytes], root: int, trailer_extra: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        trailer_extra,
        xref,
    )
    return bytes(out)


def make_pdf(
    pages: list[list[str]],
    info: dict[str, str] | None = None,
    *,
    encrypt: bool = False,
    page_count: int | None = None,
    contents: list[bytes] | None = None,
    repeat_contents: int = 1,
) -> bytes:
    """A PDF whose pages hold ``pages`` (lines of Helvetica text), or the raw content streams
    ``contents`` (no text layer when they draw no text); ``page_count`` repeats the first page that many
    times in the page tree; ``repeat_contents`` references each content stream that many times (a bomb);
    ``encrypt`` adds a standard security handler whose user password is not empty."""
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", b""]
    streams = list(contents or [])
    for lines in pages:
        ops = ["BT /F1 11 Tf 14 TL 72 720 Td"]
        ops += [
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
            for line in lines
        ]
        streams.append("\n".join([*ops, "ET"]).encode("latin-1"))
    kids = []
    for data in streams:
        packed = zlib.compress(data)
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
        )
        refs = b" ".join([b"%d 0 R" % len(objects)] * repeat_contents)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [" + refs + b"] "
            b"/Resources << /Font << /F1 1 0 R >> >> >>"
        )
        kids.append(len(objects))
    if page_count:
        kids = kids[:1] * page_count
    objects[1] = (
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    )
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    root = len(objects)
    extra = b""
    if info:
        objects.append(
            b"<< "
            + b" ".join(b"/%s (%s)" % (k.encode(), v.encode("latin-1")) for k, v in info.items())
            + b" >>"
        )
        extra += b" /Info %d 0 R" % len(objects)
    if encrypt:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>"
        )
        extra += (
            b" /Encrypt %d 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]"
            % len(objects)
        )
    return _pdf_object_bytes(objects, root, extra)


def write_docx(path: Path) -> Path:
    """A Word file: a Title-styled headline, a date line, a dateline paragraph, a table and an author."""
    import docx

    document = docx.Document()
    document.core_properties.author = "City Desk"
    document.add_heading("Council approves Eastwick library budget", level=0)
    document.add_paragraph("April 2, 2024")
    document.add_paragraph(
        "EASTWICK, April 2 - The town council approved 4.2 million euros on Monday for the new public "
        "library in Eastwick, which is to open in 2026."
    )
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Votes in favour"
    table.rows[0].cells[1].text = "17"
    document.add_paragraph("Construction starts in the autumn, the mayor said.")
    document.save(str(path))
    return path


def article_html(title: str, day: str, site: str, paragraphs: list[str]) -> bytes:
    """An article page with navigation and a footer around the story, as trafilatura meets them."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta property='og:site_name' content='{site}'>"
        f"<meta property='article:published_time' content='{day}T08:00:00Z'></head><body>"
        f"<nav>Home | News | Sport | Weather</nav><article><h1>{title}</h1>{body}</article>"
        f"<footer>Copyright {site}. Subscribe for more.</footer></body></html>"
    ).encode()


GLACIER = article_html(
    "Soltind glacier retreated 38 metres last summer",
    "2024-09-12",
    "Fjord Post",
    [
        "The Soltind glacier retreated 38 metres last summer, the largest loss since measurements began "
        "in 1961, researchers from the mountain institute said on Thursday.",
        "The team measured the front of the glacier with drones and satellite images.",
    ],
)
TRAM = article_html(
    "Tram fares frozen for another year",
    "2024-09-13",
    "Fjord Post",
    [
        "Tram fares in Bergvik will stay at 2.50 euros for another year, the transport board decided.",
        "The board said the freeze costs the city 3 million euros.",
    ],
)


def write_warc(path: Path, pages: list[tuple[str, bytes]] | None = None, *, gz: bool = True) -> Path:
    """A WARC written with warcio: two HTML responses (or ``pages``: (url, html)), a 404, an image, a
    request and a revisit record."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = pages or [("https://fjord.example/glacier", GLACIER), ("https://fjord.example/tram", TRAM)]
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=gz)

        def response(url: str, status: str, kind: str, body: bytes) -> None:
            http = StatusAndHeaders(status, [("Content-Type", kind)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )

        for url, html in pages:
            writer.write_record(
                writer.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
            )
            response(url, "200 OK", "text/html; charset=utf-8", html)
        response(
            "https://fjord.example/missing",
            "404 Not Found",
            "text/html",
            b"<html><body>Not found</body></html>",
        )
        response("https://fjord.example/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(200))
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        revisit = writer.create_revisit_record(
            pages[0][0], "sha1:AAAA", pages[0][0], "2024-09-12T10:00:00Z", http_headers=http
        )
        writer.write_record(revisit)
    return path


def write_arc(path: Path) -> Path:
    """An ARC file (gzipped record by record) with one HTML page."""
    body = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + article_html(
        "Lighthouse keeper retires after forty years",
        "2005-01-02",
        "Coast Weekly",
        ["The keeper of the Skarv lighthouse retired on Sunday after forty years at the light."],
    )
    version = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    head = b"filedesc://test.arc 0.0.0.0 20050101000000 text/plain %d\n" % len(version) + version + b"\n"
    record = (
        b"http://coast.example/lighthouse 10.0.0.1 20050102030405 text/html %d\n" % len(body) + body + b"\n"
    )
    path.write_bytes(gzip.compress(head) + gzip.compress(record))
    return path


def _newsletter(subject: str, sender: str, day: str, number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "reader@example.org"
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(email.utils.parsedate_to_datetime(day))
    message["Message-ID"] = f"<letter{number}@news.example>"
    return message


def newsletters() -> list[bytes]:
    """Three newsletters: HTML only, text only (with a quoted reply and a footer), ISO-8859-1."""
    html = _newsletter(
        "Orchard festival moves to Saturday",
        "Valley Weekly <news@valley.example>",
        "Mon, 06 May 2024 08:00:00 +0000",
        1,
    )
    html.set_content(
        "<html><body><h1>Orchard festival moves to Saturday</h1><p>The orchard festival in Lindholm will be "
        "held on Saturday instead of Sunday because of the storm warning, the organisers said.</p>"
        "<p>Cider tastings start at noon by the old mill.</p>"
        "<p><a href='https://valley.example/u'>Unsubscribe</a> | Manage preferences</p></body></html>",
        subtype="html",
    )
    plain = _newsletter(
        "Bakery wins regional prize", "news@bakers.example", "Tue, 07 May 2024 08:00:00 +0000", 2
    )
    plain.set_content(
        "The Hansen bakery in Lindholm won the regional rye bread prize on Monday.\n\n"
        "The judges praised its sourdough.\n\n"
        "On Mon, 6 May 2024, a reader wrote:\n> Is the bakery open on Sundays?\n> Thanks\n\n"
        "You are receiving this newsletter because you signed up.\nUnsubscribe: https://bakers.example/u\n"
    )
    latin = _newsletter(
        "Café Zürich reopens on Main Street",
        "Town Crier <crier@town.example>",
        "Wed, 08 May 2024 08:00:00 +0000",
        3,
    )
    latin.set_content(
        "Café Zürich reopened on Main Street after a fire, serving crème brûlée again.\n\n"
        "The owner thanked the neighbours who helped with the repairs.\n",
        charset="iso-8859-1",
        cte="quoted-printable",
    )
    return [m.as_bytes() for m in (html, plain, latin)]


def write_mbox(path: Path, messages: list[bytes] | None = None) -> Path:
    """An mbox file of ``messages`` (default: the three newsletters)."""
    chunks = []
    for data in messages or newsletters():
        body = data.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
        chunks.append(b"From news@example.org Mon May  6 08:00:00 2024\n" + body.rstrip(b"\n") + b"\n\n")
    path.write_bytes(b"".join(chunks))
    return path


def news_sitemap(base: str, pages: list[tuple[str, str, str]], publication: str = "Island Gazette") -> bytes:
    """A news sitemap of ``pages`` ((path, title, ISO date-time)) on ``base``."""
    urls = "".join(
        f"<url><loc>{base}{path}</loc><news:news><news:publication><news:name>{publication}</news:name>"
        f"<news:language>en</news:language></news:publication><news:publication_date>{when}"
        f"</news:publication_date><news:title>{title}</news:title></news:news></url>"
        for path, title, when in pages
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
    ).encode()


def sitemap_index(base: str, paths: list[str]) -> bytes:
    """A sitemap index listing ``paths`` on ``base``."""
    items = "".join(f"<sitemap><loc>{base}{p}</loc><lastmod>2024-06-01</lastmod></sitemap>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    ).encode()


FERRY = article_html(
    "Holm ferry leaves at 7:15 from June",
    "2024-05-20",
    "Island Gazette",
    [
        "The ferry to Holm island will leave the harbour at 7:15 every morning from June, the ferry company "
        "said, twenty minutes earlier than now.",
        "The evening ferry keeps its time.",
    ],
)


class Site:
    """What the local server serves (path -> (bytes, content type), or a function of the base URL giving
    them) and how often each path was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes | Callable[[str], bytes], str]] = {}
        self.base = ""
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base + path

    def serve(
        self, path: str, body: bytes | Callable[[str], bytes], kind: str = "text/html; charset=utf-8"
    ) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        self.routes[path] = (body, kind)
        return self.url(path)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        """Serve a route, with an ETag (304 when it matches), or 404."""
        site: Site = self.server.site  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        with site.lock:
            site.counts[path] += 1
        route = site.routes.get(path)
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        body, kind = route
        data = body(site.base) if callable(body) else body
        tag = f'"{hashlib.sha1(data).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.end_headers()
            return
        self.send_response(200)
        for name, value in (("Content-Type", kind), ("Content-Length", str(len(data))), ("ETag", tag)):
            self.send_header(name, value)
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)


@contextmanager
def local_site() -> Iterator[Site]:
    """A ThreadingHTTPServer on 127.0.0.1 serving a :class:`Site` for the block."""
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.site = site  # type: ignore[attr-defined]
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
