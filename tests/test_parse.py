"""Feed parsing: the third-party corpus in tests/feeds/ (one case per MANIFEST row) and quirks.

Each manifest row says what the source project asserts about a file. Where that is a
feedparser-internal fact (bozo, encoding, a dict key) or a policy we decided differently,
``EXPECT`` / ``OVERRIDES`` below state what it means for our ParsedFeed; docs/feeds.md has
the same decisions for readers.
"""

from __future__ import annotations

import csv
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from bot.errors import FeedParseError
from bot.feeds.charset import decode_document
from bot.feeds.entries import UNTITLED
from bot.feeds.parse import parse_feed
from bot.feeds.text import html_to_text
from bot.models import ParsedFeed

FEEDS = Path(__file__).parent / "feeds"
DEFAULT_URL = "https://feeds.example/"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Row:
    file: str
    quirk: str
    expected: list[tuple[str, str]]

    def get(self, key: str) -> str | None:
        return next((value for k, value in self.expected if k == key), None)


def _unescape(value: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value)


def _load_manifest() -> list[Row]:
    with (FEEDS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = []
    for record in records:
        field = record["expected"]
        pairs: list[tuple[str, str]] = []
        head, sep, expect = field.partition("expect=")  # expect= is always last
        for part in head.split(" | "):
            key, eq, value = part.strip().partition("=")
            if eq:
                pairs.append((key, _unescape(value)))
        if sep:
            pairs.append(("expect", expect))
        rows.append(Row(record["file"], record["quirk"], pairs))
    return rows


ROWS = _load_manifest()


def _headers(row: Row) -> dict[str, str]:
    headers: dict[str, str] = {}
    if content_type := row.get("http_content_type"):
        headers["Content-Type"] = content_type
    if raw := row.get("http_headers"):
        for header in raw.split(" && "):
            name, _, value = header.partition(": ")
            headers[name] = value
    # feedparser's harness serves files named *http* as text/xml by default.
    if row.file.startswith("feedparser/") and "http" in Path(row.file).name:
        headers.setdefault("Content-type", "text/xml")
    return headers


def _parse_row(row: Row) -> ParsedFeed:
    body = (FEEDS / row.file).read_bytes()
    return parse_feed(body, url=row.get("base") or DEFAULT_URL + row.file, headers=_headers(row))


def _all_text(feed: ParsedFeed) -> str:
    parts = [feed.title or "", feed.link or ""]
    for story in feed.stories:
        parts += [story.title, story.link or "", story.author or "", story.summary, story.content]
    return "\n".join(parts)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# Where our Story deliberately differs from what the source project asserts. Every entry
# is a decision listed in docs/feeds.md; the value is what we assert instead.
OVERRIDES: dict[tuple[str, str], object] = {
    # Titles are plain text: the tags of an HTML title are markup, not words.
    ("miniflux/inline/TestParseEntryWithHTMLTitle.atom.xml", "entries[0].title"): "Code Test",
    # "Name (mailto:address)" is shown as the name.
    (
        "miniflux/inline/TestParseRDFSampleWithDublinCore.rdf.xml",
        "entries[0].author",
    ): "Simon St.Laurent",
    # miniflux substitutes now(); feedparser reads "20-04-10T05:00:00+00:00" as a
    # two-digit-year date, which is a plausible reading, so we keep it.
    ("miniflux/inline/TestParseItemWithInvalidDublicCoreDate.rdf.xml", "entries[0].date"): _utc(
        2020, 4, 10, 5, 0, 0
    ),
}

# Keys we do not model in Story; the row's other keys are still checked.
NOT_MODELLED = re.compile(r"^entries\[\d+\]\.enclosures")
INFORMATIONAL = {"note", "bozo", "skip_unless", "http_content_type", "http_headers", "base"}


def _check_key(row: Row, feed: ParsedFeed, key: str, value: str) -> None:
    expected: object = OVERRIDES.get((row.file, key), value)
    if key == "entries":
        assert len(feed.stories) == int(value)
        return
    if key == "feed.title":
        assert feed.title == expected
        return
    if key == "feed.link":
        assert feed.link == expected
        return
    if key == "text_contains":
        assert value in _all_text(feed)
        return
    match = re.fullmatch(r"entries\[(\d+)\]\.(\w+)", key)
    assert match, f"unknown manifest key {key!r}: teach this test what it means"
    story = feed.stories[int(match.group(1))]
    field = match.group(2)
    if field == "date":
        if (row.file, key) not in OVERRIDES and value != "NOW":
            expected = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert story.published == expected
    elif field == "content":
        # The source asserts HTML; our content is the plain text of that HTML.
        assert story.content == html_to_text(value)
    elif field in ("title", "link", "author"):
        assert getattr(story, field) == expected
    else:
        raise AssertionError(f"unknown entry field {field!r}")


def _text_of(path: str, codec: str) -> str:
    return (FEEDS / path).read_bytes().decode(codec)


def _raises(row: Row) -> None:
    with pytest.raises(FeedParseError, match="not a feed: broken XML"):
        _parse_row(row)


def _decodes_to(codec: str) -> Callable[[Row, ParsedFeed], None]:
    """The decoded text equals the declared charset's reading of the bytes."""

    def check(row: Row, feed: ParsedFeed) -> None:
        body = (FEEDS / row.file).read_bytes()
        text, _ = decode_document(body)
        assert text.lstrip("\ufeff") == body.decode(codec).lstrip("\ufeff")
        assert feed.stories == []

    return check


# feedparser's Expect: expressions, as checks on our ParsedFeed (None: the parse raises).
EXPECT: dict[str, Callable[[Row, ParsedFeed], None] | None] = {
    "feedparser/encoding/utf-8-bom.xml": _decodes_to("utf-8-sig"),
    "feedparser/encoding/utf-16le-bom.xml": _decodes_to("utf-16"),
    "feedparser/encoding/no_content_type_encoding.xml": _decodes_to("iso-8859-1"),
    "feedparser/encoding/http_text_xml_default.xml": _decodes_to("us-ascii"),
    "feedparser/encoding/http_text_xml_charset_2.xml": lambda row, feed: _eq(
        feed.stories[0].summary, "This is a \xa3\u201ctest.\u201d"
    ),
    # feedparser flags text/xml's us-ascii default as overridden; we read the UTF-8.
    "feedparser/encoding/bozo_http_i18n.xml": lambda row, feed: _eq(
        feed.title, "Iñtërnâtiônàlizætiøn"
    ),
    # An unknown label is ignored; the (ASCII) document parses.
    "feedparser/encoding/bozo_bogus_encoding.xml": _decodes_to("utf-8"),
    "feedparser/encoding/demoronize-1.xml": lambda row, feed: _eq(
        feed.stories[0].summary, "don\u2019t"
    ),
    "feedparser/encoding/double-encoded-html.xml": lambda row, feed: _eq(
        feed.stories[0].summary, "\u2026"
    ),
    # feedparser asserts mojibake ("â€™â€\x9dŠ"); the bytes are UTF-8 ’ and ” plus one
    # stray windows-1252 byte (©), and that is what a reader wants to see.
    "feedparser/encoding/bozo_linenoise.xml": lambda row, feed: _eq(
        feed.stories[0].summary, "\u2019\u201d\xa9"
    ),
    "feedparser/encoding/euc-kr.xml": lambda row, feed: _eq(feed.title, "\ub144"),
    "feedparser/illformed/aaa_illformed.xml": None,
    "feedparser/illformed/rss_item_link_corrupted_ampersands.xml": lambda row, feed: _eq(
        feed.stories[0].link, "http://link/get?a=1&b=2"
    ),
    # Ill-formed but usable: channel kept, the item cut off inside CDATA has nothing left.
    "feedparser/illformed/rss_incomplete_cdata.xml": lambda row, feed: _eq(
        (feed.title, feed.link, feed.stories),
        ("can feedparser read this xml", "http://adcdefgh.com", []),
    ),  # fmt: skip
    "feedparser/illformed/undeclared_namespace.xml": None,
    "feedparser/illformed/always_strip_doctype.xml": lambda row, feed: _eq(feed.title, "found"),
    # "Expect: 1" = no crash on a Greek-month pubDate (channel level, so no story).
    "feedparser/illformed/http_high_bit_date.xml": lambda row, feed: _eq(feed.stories, []),
    "feedparser/illformed/chardet/koi8r.xml": lambda row, feed: _eq(
        feed.stories[0].title, "Как пережить новогоднюю ночь"
    ),
    "feedparser/entities/nbsp.xml": lambda row, feed: _eq(feed.title, "testing \xa0 entity"),
    "feedparser/entities/attr_amp.xml": lambda row, feed: _eq(feed.link, "http://domain/?a=1&b=2"),
    "feedparser/wellformed/rss/item_guid_map_link.xml": lambda row, feed: _eq(
        feed.stories[0].link, "http://guid.example.com/"
    ),
    "feedparser/wellformed/rss/item_guid_not_permalink.xml": lambda row, feed: _eq(
        (feed.stories[0].link, feed.stories[0].uid), (None, "http://guid.example.com/")
    ),
    "feedparser/wellformed/rss/item_pubDate_map_updated_parsed.xml": lambda row, feed: _eq(
        feed.stories[0].published, _utc(2004, 1, 1, 19, 48, 21)
    ),
    "feedparser/wellformed/rss/item_dc_date_parsed.xml": lambda row, feed: _eq(
        feed.stories[0].published, _utc(2003, 12, 31, 10, 14, 55)
    ),
    "feedparser/wellformed/rss/item_content_encoded.xml": lambda row, feed: _eq(
        feed.stories[0].content, "Example content"
    ),
    # Enclosures are not part of Story; the item itself must survive.
    "feedparser/wellformed/rss/item_enclosure_multiple.xml": lambda row, feed: _eq(
        [s.link for s in feed.stories], ["http://example.com/"]
    ),
    "feedparser/wellformed/rss/entity_in_doctype.xml": lambda row, feed: _eq(
        feed.stories[0].uid, "tag:example.com,2006-05-04:/blog/"
    ),
    "feedparser/wellformed/rss/rss_version_missing.xml": lambda row, feed: _eq(
        (feed.title, feed.stories), (None, [])
    ),
    "feedparser/wellformed/rdf/rss_version_10_not_default_ns.xml": lambda row, feed: _eq(
        (feed.title, feed.stories), (None, [])
    ),
    "feedparser/wellformed/atom10/entry_content_inline_markup.xml": lambda row, feed: _eq(
        feed.stories[0].content, "Example Atom"
    ),
    "feedparser/wellformed/atom10/entry_title_escaped_markup.xml": lambda row, feed: _eq(
        feed.stories[0].title, "Example Atom"
    ),
    "feedparser/wellformed/atom10/relative_uri_inherit.xml": lambda row, feed: _eq(
        feed.title, "Example test"
    ),
    "feedparser/wellformed/atom10/entry_link_no_href_link_priority.xml": lambda row, feed: _eq(
        [s.link for s in feed.stories], ["http://www.example.com/alternate"] * 2
    ),
    "feedparser/wellformed/base/http_channel_link_base_content_location.xml": lambda row, feed: _eq(
        feed.link, "http://example.com/relative/uri"
    ),
    # media:thumbnail is not part of Story; the entry is.
    "feedparser/wellformed/media-rss/media_thumbnail.xml": lambda row, feed: _eq(
        [s.title for s in feed.stories], ["Example Atom"]
    ),
    "feedparser/json/example.json": lambda row, feed: _eq(
        (feed.title, len(feed.stories)), ("My Example Feed", 2)
    ),
}

# Benchmark fixtures have no assertions upstream; we pin the entry counts.
BENCHMARK_COUNTS = {
    "miniflux/small_atom.xml": 20,
    "miniflux/large_rss.xml": 25,
    "miniflux/single_quote_xml_encoding.xml": 21,
}


def _eq(actual: object, expected: object) -> None:
    assert actual == expected


@pytest.mark.parametrize("row", ROWS, ids=[row.file for row in ROWS])
def test_manifest_row(row: Row) -> None:
    expect = row.get("expect")
    if expect is not None:
        assert row.file in EXPECT, f"no translation of feedparser's Expect: {expect}"
        if EXPECT[row.file] is None:
            _raises(row)
            return
    feed = _parse_row(row)
    checked = 0
    for key, value in row.expected:
        if key in INFORMATIONAL or key == "expect" or NOT_MODELLED.match(key):
            continue
        _check_key(row, feed, key, value)
        checked += 1
    if expect is not None:
        check = EXPECT[row.file]
        assert check is not None
        check(row, feed)
        checked += 1
    if row.file in BENCHMARK_COUNTS:
        assert len(feed.stories) == BENCHMARK_COUNTS[row.file]
        checked += 1
    assert checked, f"row {row.file} checks nothing"
    # Whatever the row asserts, every story must meet the Story contract.
    for story in feed.stories:
        assert story.uid and story.title
        assert story.link is None or story.link.startswith(("http://", "https://"))
        assert story.published is None or story.published.tzinfo is UTC
    assert len({story.uid for story in feed.stories}) == len(feed.stories)


def test_every_corpus_file_has_a_manifest_row() -> None:
    listed = {row.file for row in ROWS}
    on_disk = {
        str(path.relative_to(FEEDS))
        for path in FEEDS.rglob("*")
        if path.is_file() and path.name not in ("MANIFEST.tsv", "README.md")
    }
    assert on_disk == listed


def test_every_override_and_expect_names_a_manifest_row() -> None:
    listed = {row.file for row in ROWS}
    assert {file for file, _ in OVERRIDES} <= listed
    assert set(EXPECT) <= listed


# --------------------------------------------------------------------------- helpers


def rss(items: str, channel: str = "<title>T</title><link>https://site.example/</link>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}'
        f"{items}</channel></rss>"
    ).encode()


def item(title: str = "A", link: str = "https://site.example/a", guid: str | None = None) -> str:
    guid_xml = f"<guid isPermaLink='false'>{guid}</guid>" if guid else ""
    return f"<item><title>{title}</title><link>{link}</link>{guid_xml}</item>"


def parse(body: bytes, **kwargs: object) -> ParsedFeed:
    return parse_feed(body, url=str(kwargs.pop("url", "https://feeds.example/rss")), **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- uid


def test_uid_is_the_guid_and_survives_title_edits() -> None:
    before = parse(rss(item(title="Old headline", guid="g-1")))
    after = parse(rss(item(title="New headline, corrected", guid="g-1")))
    assert before.stories[0].uid == after.stories[0].uid == "g-1"


def test_uid_without_guid_is_the_canonical_link() -> None:
    feed = parse(rss(item(link="https://Site.Example:443/a?utm_source=rss&amp;id=3")))
    assert feed.stories[0].uid == "https://site.example/a?id=3"
    # The displayed link stays as the feed wrote it.
    assert feed.stories[0].link == "https://Site.Example:443/a?utm_source=rss&id=3"


def test_uid_keeps_fragments_that_tell_items_on_one_page_apart() -> None:
    feed = parse(
        rss(item(link="https://site.example/log#v1") + item(link="https://site.example/log#v2"))
    )
    assert [s.uid for s in feed.stories] == [
        "https://site.example/log#v1",
        "https://site.example/log#v2",
    ]


def test_uid_without_guid_or_link_hashes_title_and_date() -> None:
    def doc(title: str) -> bytes:
        return rss(
            f"<item><title>{title}</title><pubDate>Tue, 03 Jun 2003 09:39:21 GMT</pubDate></item>"
        )

    first, again, other = parse(doc("Quake")), parse(doc("Quake")), parse(doc("Flood"))
    assert first.stories[0].uid.startswith("sha256:")
    assert first.stories[0].uid == again.stories[0].uid != other.stories[0].uid


def test_duplicate_guid_items_are_not_collapsed() -> None:
    body = (
        FEEDS / "miniflux/inline/TestParseEntriesWithDuplicateGUIDAndDistinctLinks.rss.xml"
    ).read_bytes()
    uids = [s.uid for s in parse(body).stories]
    assert uids == [
        "dup-guid|https://example.org/a",
        "dup-guid|https://example.org/b",
        "dup-guid|https://example.org/a#2",
    ]


def test_duplicate_guid_uids_are_stable_when_an_item_is_prepended() -> None:
    old = [item("A", "https://s.example/a", "same"), item("B", "https://s.example/b", "same")]
    first = parse(rss("".join(old)))
    second = parse(rss(item("C", "https://s.example/c", "same") + "".join(old)))
    assert {s.uid for s in first.stories} < {s.uid for s in second.stories}


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("mailto:a@b.example", None),
        ("ftp://files.example/x", None),
        ("/news/1", "https://site.example/news/1"),
        ("  https://site.example/padded  ", "https://site.example/padded"),
        ("//cdn.example/x", "https://cdn.example/x"),
    ],
)
def test_entry_links_are_absolute_http_or_none(link: str, expected: str | None) -> None:
    assert parse(rss(item(link=link))).stories[0].link == expected


def test_relative_link_without_site_link_resolves_against_the_fetch_url() -> None:
    feed = parse(
        rss(item(link="a.html"), channel="<title>T</title>"), url="https://f.example/x/rss"
    )
    assert feed.stories[0].link == "https://f.example/x/a.html"


def test_atom_xml_base_wins_over_the_feed_url() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/dir/">
      <title>T</title><entry><title>E</title><id>e1</id><link href="page.html"/></entry></feed>"""
    assert parse(body, url="https://other.example/feed").stories[0].link == (
        "https://base.example/dir/page.html"
    )


def test_relative_content_location_resolves_against_the_fetch_url() -> None:
    body = rss(item(link="b.html"), channel="<link>/site/</link>")
    feed = parse(body, url="https://f.example/feeds/x.xml", headers={"content-location": "/other/"})
    assert feed.link == "https://f.example/site/"
    assert feed.stories[0].link == "https://f.example/other/b.html"


def test_feedburner_original_link_wins() -> None:
    body = (FEEDS / "miniflux/inline/TestParseEntryWithFeedBurnerLink.rss.xml").read_bytes()
    assert parse(body).stories[0].link == "http://example.org/original"


# --------------------------------------------------------------------------- dates and authors


@pytest.mark.parametrize(
    ("date_xml", "expected"),
    [
        ("<pubDate>Tue, 03 Jun 2003 09:39:21 +0200</pubDate>", _utc(2003, 6, 3, 7, 39, 21)),
        ("<pubDate>yesterday-ish</pubDate>", None),
        ("<pubDate></pubDate>", None),
        ("<pubDate>Mon, 99 Foo 99999 99:99:99 GMT</pubDate>", None),
        ("", None),
    ],
)
def test_published_is_utc_or_none(date_xml: str, expected: datetime | None) -> None:
    body = rss(f"<item><title>A</title>{date_xml}</item>")
    assert parse(body).stories[0].published == expected


def test_published_falls_back_to_updated() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
      <entry><title>E</title><id>e</id><updated>2024-03-12T05:30:27+01:00</updated></entry></feed>"""
    assert parse(body).stories[0].published == _utc(2024, 3, 12, 4, 30, 27)


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("jo@example.org (Jo Doe)", "Jo Doe"),
        ("Jo Doe <jo@example.org>", "Jo Doe"),
        ("jo@example.org", "jo@example.org"),
    ],
)
def test_entry_author_forms(author: str, expected: str) -> None:
    body = rss(f"<item><title>A</title><author>{author.replace('<', '&lt;')}</author></item>")
    assert parse(body).stories[0].author == expected


def test_feed_author_is_inherited_but_a_desk_mailbox_is_not() -> None:
    atom = (FEEDS / "miniflux/inline/TestParseAtomSample.atom.xml").read_bytes()
    assert parse(atom).stories[0].author == "John Doe"
    sample = (FEEDS / "miniflux/inline/TestParseRss2Sample.rss.xml").read_bytes()
    # managingEditor is editor@example.com: not who wrote the story.
    assert all(story.author is None for story in parse(sample).stories)


# --------------------------------------------------------------------------- text


def test_titles_and_bodies_are_plain_text() -> None:
    body = rss(
        "<item><title>&lt;b&gt;Big&lt;/b&gt; news &amp;amp; more</title>"
        "<description><![CDATA[<p>One &amp; two.</p><script>evil()</script>"
        "<p>Three&nbsp;four</p>]]>"
        "</description></item>"
    )
    story = parse(body).stories[0]
    assert story.title == "Big news & more"
    assert story.summary == "One & two.\n\nThree\xa0four"


def test_missing_title_is_the_first_sentence_trimmed() -> None:
    long_sentence = "word " * 40 + "end. Second sentence."
    story = parse(rss(f"<item><description>{long_sentence}</description></item>")).stories[0]
    assert story.title.endswith("…") and len(story.title) <= 101
    assert "Second" not in story.title


def test_an_entry_with_nothing_at_all_is_dropped_and_a_bare_guid_is_untitled() -> None:
    feed = parse(rss("<item></item><item><guid>x-1</guid></item>"))
    assert [(s.uid, s.title) for s in feed.stories] == [("x-1", UNTITLED)]


# --------------------------------------------------------------------------- charsets


def test_utf8_mislabelled_as_windows_1252_is_read_as_utf8() -> None:
    body = (
        '<?xml version="1.0" encoding="windows-1252"?>'
        '<rss version="2.0"><channel><title>Zürich – €</title></channel></rss>'
    ).encode()
    assert parse(body).title == "Zürich – €"


def test_http_charset_reads_latin1_bytes_without_declaration() -> None:
    body = '<rss version="2.0"><channel><title>Café “x”</title></channel></rss>'.encode("cp1252")
    feed = parse(body, headers={"Content-Type": "application/rss+xml; charset=ISO-8859-1"})
    assert feed.title == "Café “x”"


def test_koi8r_without_any_declaration_is_detected() -> None:
    title = "Правительство утвердило новый порядок выплат пенсионерам и семьям с детьми"
    body = f'<rss version="2.0"><channel><title>{title}</title></channel></rss>'.encode("koi8-r")
    assert parse(body).title == title


def test_utf8_with_one_stray_legacy_byte_keeps_the_utf8() -> None:
    body = (
        '<rss version="2.0"><channel><title>naïve “quote” '.encode()
        + b"\xe9t\xe9</title></channel></rss>"
    )
    assert parse(body).title == "naïve “quote” été"


def test_a_wrong_utf16_header_falls_back_to_the_declaration_or_detection() -> None:
    title = "Café au lait à Zürich, « prix » 5 €"
    document = (
        f'<?xml version="1.0"{{}}?><rss version="2.0"><channel><title>{title}</title>'
        f"<item><guid>1</guid><title>{title}</title></item></channel></rss>"
    )
    headers = {"Content-Type": "application/rss+xml; charset=utf-16"}
    declared = parse(document.format(' encoding="iso-8859-1"').encode("cp1252"), headers=headers)
    assert (declared.title, declared.stories[0].title) == (title, title)
    # Without a declaration the guess decides; the feed is read, not refused.
    guessed = parse(document.format("").encode("cp1252"), headers=headers)
    assert guessed.stories[0].uid == "1" and "Zürich" in guessed.stories[0].title


# A windows-1252 page template with news text pasted in as UTF-8: whole lines of it,
# and one line that holds both.
CP1252_WITH_UTF8 = (
    "<rss version='2.0'><channel><title>Actualités – Europe</title>\n".encode("cp1252")
    + "<item><guid>1</guid><title>Łukaszenka: więźniowie</title>\n".encode()
    + "<description>Réaction à Minsk ".encode("cp1252")
    + "— Łukaszenka ".encode()
    + "“cité”</description></item>\n".encode("cp1252")
    + "<item><guid>2</guid><title>Sécurité énergétique à Genève</title></item>\n".encode("cp1252")
    + b"</channel></rss>"
)


@pytest.mark.parametrize(
    "content_type", ["application/rss+xml; charset=windows-1252", "application/rss+xml"]
)
def test_windows_1252_with_utf8_pasted_in_is_read_line_by_line(content_type: str) -> None:
    feed = parse(CP1252_WITH_UTF8, headers={"Content-Type": content_type})
    first, second = feed.stories
    assert feed.title == "Actualités – Europe"
    assert first.title == "Łukaszenka: więźniowie"
    assert first.summary == "Réaction à Minsk — Łukaszenka “cité”"
    assert second.title == "Sécurité énergétique à Genève"


def test_windows_1251_with_a_utf8_line_keeps_both() -> None:
    body = (
        '<?xml version="1.0" encoding="windows-1251"?><rss version="2.0"><channel>\n'
        "<title>Навіны Беларусі і свету</title>\n".encode("cp1251")
        + "<item><guid>1</guid><title>Łukaszenka ў Мінску</title></item>\n".encode()
        + "<item><guid>2</guid><title>Рэкорд: ёсць і будзе</title></item>\n".encode("cp1251")
        + b"</channel></rss>"
    )
    feed = parse(body)
    assert feed.title == "Навіны Беларусі і свету"
    assert [s.title for s in feed.stories] == ["Łukaszenka ў Мінску", "Рэкорд: ёсць і будзе"]


# --------------------------------------------------------------------------- JSON Feed


def test_json_feed_1_1_fields() -> None:
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J",
      "home_page_url": "https://j.example/", "authors": [{"name": "Desk"}],
      "items": [
        {"id": 7, "url": "/p/7", "title": "Seven", "summary": "<b>S</b>",
         "content_html": "<p>Body &amp; more</p>", "date_published": "2024-01-02T03:04:05+01:00"},
        {"id": "8", "external_url": "https://other.example/8", "content_text": "Eight. More.",
         "date_modified": "2024-01-03T00:00:00Z", "authors": [{"name": "Ann"}, {"name": "Bo"}]},
        "not an item"
      ]}"""
    feed = parse(body, headers={"Content-Type": "application/feed+json"})
    first, second = feed.stories
    assert (feed.title, feed.link) == ("J", "https://j.example/")
    assert (first.uid, first.link, first.title) == ("7", "https://j.example/p/7", "Seven")
    assert (first.summary, first.content, first.author) == ("S", "Body & more", "Desk")
    assert first.published == _utc(2024, 1, 2, 2, 4, 5)
    assert (second.title, second.link, second.author) == (
        "Eight.",
        "https://other.example/8",
        "Ann, Bo",
    )
    assert second.published == _utc(2024, 1, 3)


@pytest.mark.parametrize("body", [b"{not json", b'{"version": "x"}', b"[1, 2]", b"[" * 100_000])
def test_bad_json_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse(body)


# --------------------------------------------------------------------------- hostile input

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>T &lol;</title>
<item><title>boom &lol9;</title><link>https://x.example/1</link></item></channel></rss>"""


def test_billion_laughs_is_not_expanded() -> None:
    started = time.monotonic()
    feed = parse(BILLION_LAUGHS)
    assert time.monotonic() - started < 2
    assert feed.title == "T lol"  # a plain entity is fine
    assert feed.stories[0].title == "boom"  # the nested one is refused


def test_quadratic_blowup_is_bounded() -> None:
    value = "x" * 250
    refs = "&a;" * 200_000  # would expand to 50 MB
    body = (
        f'<!DOCTYPE rss [<!ENTITY a "{value}">]><rss version="2.0"><channel>'
        f"<item><title>t</title><description>{refs}</description></item></channel></rss>"
    ).encode()
    started = time.monotonic()
    feed = parse(body)
    assert time.monotonic() - started < 5
    assert feed.stories[0].summary == ""


def test_many_entity_declarations_cost_one_pass_over_the_document() -> None:
    # Each declaration once made the clean-up count its references in the whole text:
    # 20,000 declarations times 1 MB of items took about 40 s.
    declarations = "".join(f'<!ENTITY e{n} "v{n}">' for n in range(20_000))
    items = "<item><title>a &e5;</title><description>b &e7;</description></item>" * 15_000
    body = (
        f'<!DOCTYPE rss [{declarations}]><rss version="2.0"><channel><title>&e1;</title>'
        f"{items}</channel></rss>"
    ).encode()
    started = time.monotonic()
    feed = parse(body)
    assert time.monotonic() - started < 5
    assert (feed.title, feed.stories[0].title, feed.stories[0].summary) == ("v1", "a v5", "b v7")


def test_external_entities_and_dtds_are_never_fetched_or_read(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    dtd = httpserver.url_for("/evil.dtd")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{dtd}" [
  <!ENTITY file SYSTEM "file://{secret}">
  <!ENTITY web SYSTEM "{httpserver.url_for("/entity")}">
  <!ENTITY % param SYSTEM "{httpserver.url_for("/param")}"> %param;
]>
<rss version="2.0"><channel><title>a&file;b&web;c</title></channel></rss>""".encode()
    feed = parse(body)
    assert feed.title == "abc"
    assert httpserver.log == []


def test_a_url_or_a_path_as_body_is_not_opened(httpserver: HTTPServer, tmp_path: Path) -> None:
    feed_file = tmp_path / "feed.xml"
    feed_file.write_bytes(rss(item()))
    for body in (httpserver.url_for("/feed").encode(), str(feed_file).encode()):
        with pytest.raises(FeedParseError):
            parse(body)
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b" \r\n\t", "empty"),
        (bytes(range(256)) * 40, "no RSS, Atom or JSON Feed"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "no RSS, Atom or JSON Feed"),
        (
            b"<!DOCTYPE html><html><head><title>Shop</title></head><body>Hi</body></html>",
            "HTML page",
        ),
        (b'<html lang="en"><body><p>Hello</p></body></html>', "HTML page"),
        (b"just some words", "no RSS, Atom or JSON Feed"),
        (b"<" * 2_000_000, "no RSS, Atom or JSON Feed"),
        (b'<?xml version="1.0"?>' + b"<!--" * 200_000, "no RSS, Atom or JSON Feed"),
    ],
)
def test_not_a_feed(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=f"not a feed: .*{message}"):
        parse(body)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_give_a_feed_or_feed_parse_error(body: bytes) -> None:
    try:
        feed = parse(body)
    except FeedParseError:
        return
    assert isinstance(feed, ParsedFeed)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_random_rss_text_never_crashes(title: str) -> None:
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    try:
        feed = parse(rss(item(title=escaped)))
    except FeedParseError:
        return
    # A title's own entity references are decoded once more (docs/feeds.md: double-encoded
    # entities), so "&lt;" written in a title reads "<"; no other "<" may appear.
    assert all("<" not in s.title or "<" in html.unescape(title) for s in feed.stories)


# --------------------------------------------------------------------------- html_to_text


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<ul><li>x</li><li>y</li></ul>", "x\ny"),
        ("<script>var a = '<p>';</script>kept<style>p{}</style>", "kept"),
        ("AT&amp;T &lt;tag&gt; &#8220;q&#8221; &eacute;", "AT&T <tag> “q” é"),
        ("&amp;#39;double&amp;#39;", "'double'"),
        ("Tom &amp; Jerry & friends", "Tom & Jerry & friends"),
        ("  lots   of\t\tspace \n\n\n\n here ", "lots of space\n\nhere"),
        ("<td>a</td><td>b</td>", "a b"),
        ("broken <b>markup <i>never closed", "broken markup never closed"),
        ("zero\u200bwidth\x00nul", "zerowidthnul"),
        ("", ""),
    ],
)
def test_html_to_text(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_html_to_text_is_total_and_trimmed(fragment: str) -> None:
    text = html_to_text(fragment)
    assert text == text.strip()
    assert "\n\n\n" not in text
