"""Link hygiene: canonical_url for dedup and absolute_http_url for story links."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feeds.urls import absolute_http_url, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, default ports, trailing dot in the host
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        # fragments go
        ("https://example.com/a#section-2", "https://example.com/a"),
        # tracking parameters go, whatever their case; the rest are sorted by name
        (
            "https://example.com/a?utm_source=rss&utm_MEDIUM=feed&b=2&a=1&fbclid=XYZ",
            "https://example.com/a?a=1&b=2",
        ),
        (
            "https://example.com/?gclid=1&mc_cid=2&mc_eid=3&_hsenc=4&msclkid=5",
            "https://example.com/",
        ),
        ("https://www.heise.de/x.html?wt_mc=rss.ho.beitrag.rdf", "https://www.heise.de/x.html"),
        ("https://news.example/a?at_medium=RSS&at_campaign=KARANGA", "https://news.example/a"),
        # repeated names keep their order (stable sort); "ref" is kept (GitHub branches)
        ("https://example.com/?z=1&a=2&a=1", "https://example.com/?a=2&a=1&z=1"),
        ("https://github.com/o/r/blob/x?ref=main", "https://github.com/o/r/blob/x?ref=main"),
        # empty query, empty pairs
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?&&b=1&", "https://example.com/a?b=1"),
        # "+" and "%2B" differ on the server, so they stay different
        ("https://example.com/s?q=a+b", "https://example.com/s?q=a+b"),
        ("https://example.com/s?q=a%2bb", "https://example.com/s?q=a%2Bb"),
        # percent-escapes: unreserved decoded, the rest upper-cased; raw bytes encoded
        ("https://example.com/%7euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/a b/é?q=é", "https://example.com/a%20b/%C3%A9?q=%C3%A9"),
        # dot segments
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/../../a", "https://example.com/a"),
        # IDNA hosts become punycode; IPv6 keeps its brackets
        ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        # not http(s): returned as given (stripped)
        ("  mailto:Someone@Example.com ", "mailto:Someone@Example.com"),
        ("tag:example.com,2006:/blog", "tag:example.com,2006:/blog"),
        ("http://[broken/", "http://[broken/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_can_keep_the_fragment() -> None:
    assert canonical_url("https://E.com/log?utm_source=x#v2", keep_fragment=True) == (
        "https://e.com/log#v2"
    )


def test_spellings_of_one_article_meet() -> None:
    spellings = [
        "https://news.example/world/story?id=7&utm_source=newsletter",
        "HTTPS://NEWS.EXAMPLE:443/world/./story?id=7#comments",
        "https://news.example/world/story?fbclid=abc&id=7",
    ]
    assert len({canonical_url(url) for url in spellings}) == 1


_urls = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}?{query}",
    st.sampled_from(["http", "https", "HTTP"]),
    st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z]{2,5}){1,2}(:[0-9]{2,5})?", fullmatch=True),
    st.text(alphabet="abc/.%7eE é-_~", max_size=20),
    st.text(alphabet="ab=&+%2Butm_src", max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(_urls)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("item.html", "https://example.org/", "https://example.org/item.html"),
        ("/a", "https://example.org/feeds/rss", "https://example.org/a"),
        ("//cdn.example/x", "http://example.org/", "http://cdn.example/x"),
        (" https://example.org/padded\n", None, "https://example.org/padded"),
        ("https://example.org/x", "https://other.example/", "https://example.org/x"),
        ("item.html", None, None),
        ("javascript:alert(1)", "https://example.org/", None),
        ("JavaScript:alert(1)", None, None),
        ("data:text/html;base64,PHNjcmlwdD4=", None, None),
        ("mailto:x@example.org", None, None),
        ("feed://example.org/rss", None, None),
        ("https://", None, None),
        ("http://[oops/", None, None),
        ("", "https://example.org/", None),
        ("   ", "https://example.org/", None),
        (None, "https://example.org/", None),
    ],
)
def test_absolute_http_url(link: str | None, base: str | None, expected: str | None) -> None:
    assert absolute_http_url(link, base) == expected
