"""OPML: reading lists of feeds safely, and writing them back."""

from __future__ import annotations

import pytest

from bot.feeds.opml import MAX_OUTLINES, OpmlError, OpmlFeed, parse_opml, render_opml

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News">
      <outline text="World" title="World News" type="rss" xmlUrl="https://example.com/world.xml"/>
      <outline text="Tech">
        <outline text="Deep" xmlurl=" https://example.com/deep.xml "/>
      </outline>
    </outline>
    <outline text="Again" xmlUrl="https://example.com/world.xml"/>
    <outline text="A page, not a feed" htmlUrl="https://example.com/"/>
  </body>
</opml>"""


def test_nested_outlines_are_flattened_each_address_once() -> None:
    assert parse_opml(NESTED) == [
        OpmlFeed("https://example.com/world.xml", "World News"),
        OpmlFeed("https://example.com/deep.xml", "Deep"),
    ]


def test_written_file_reads_back_with_markup_in_titles() -> None:
    feeds = [
        OpmlFeed("https://a.example/f.xml?x=1&y=2", 'A & <b>"B"</b>'),
        OpmlFeed("https://b.example/"),
    ]
    data = render_opml("newsbot feeds of <room>", feeds)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert parse_opml(data) == [feeds[0], OpmlFeed("https://b.example/", "https://b.example/")]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.example/&lol9;"/></body></opml>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/feed"/></body></opml>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/evil.dtd">
<opml version="2.0"><body><outline xmlUrl="https://x.example/feed"/></body></opml>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
def test_entities_and_dtds_are_refused(data: bytes) -> None:
    with pytest.raises(OpmlError, match="DTD or entities"):
        parse_opml(data)


def test_a_huge_file_is_refused_before_parsing() -> None:
    outline = b'<outline xmlUrl="https://x.example/feed"/>'
    data = b"<opml><body>" + outline * 30_000 + b"</body></opml>"
    with pytest.raises(OpmlError, match="larger than 1 MB"):
        parse_opml(data)


def test_too_many_outlines_are_refused() -> None:
    outlines = b"".join(
        b'<outline xmlUrl="https://x.example/%d"/>' % n for n in range(MAX_OUTLINES + 1)
    )
    with pytest.raises(OpmlError, match=f"{MAX_OUTLINES + 1} outlines; at most {MAX_OUTLINES}"):
        parse_opml(b"<opml><body>" + outlines + b"</body></opml>")
    assert (
        len(parse_opml(b"<opml><body>" + outlines[outlines.index(b"/>") + 2 :] + b"</body></opml>"))
        == MAX_OUTLINES
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "not well-formed"),
        (b"hello, world", "not well-formed"),
        (b"<opml><body>", "not well-formed"),
        (b'<rss version="2.0"><channel/></rss>', "not OPML"),
        (b"<opml><head/></opml>", "not OPML"),
    ],
)
def test_what_is_not_opml_is_refused(data: bytes, error: str) -> None:
    with pytest.raises(OpmlError, match=error):
        parse_opml(data)


def test_an_empty_body_lists_no_feeds() -> None:
    assert parse_opml(b"<opml version='1.0'><body/></opml>") == []
