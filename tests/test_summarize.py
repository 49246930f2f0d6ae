"""Tests for bot.summarize: sentence splitting, extractive summaries, LLM fallbacks."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.models import Summary
from bot.summarize import ExtractiveSummarizer, LLMSummarizer, Summarizer, split_sentences
from bot.summarize.boilerplate import (
    clean_sentence,
    drop_labelled_lists,
    is_boilerplate,
    is_caption,
    is_fragment,
)
from bot.summarize.clip import clip_points, clip_text
from bot.summarize.extractive import score_sentences
from bot.summarize.llm import LLMResponseError, key_points

# Made-up stories written for these tests.
BRIDGE_TITLE = "Storm closes Harbour Bridge as river floods"
BRIDGE = (
    "The Harbour Bridge in Eastport was closed on Tuesday after the river Eld burst "
    "its banks during a storm. "
    "Police said drivers should use the northern ring road until engineers have "
    "inspected the bridge supports. "
    "The mayor, Ana Ruiz, said the flood was the worst the city had seen in 40 years. "
    "Local cafes reported a quiet morning. "
    "Some residents walked their dogs along the promenade. "
    "A weather station recorded 90mm of rain in six hours. "
    "Engineers expect to reopen the bridge on Friday if the river level falls."
)

BOILERPLATE_BODY = (
    "Media playback is unsupported on your device\n"
    "20 July 2026 Last updated at 10:11 GMT\n"
    "Image caption Firefighters at the scene\n"
    "Firefighters rescued twelve people from a burning apartment block in Westvale "
    "early on Sunday morning.\n"
    "The fire started in a ground-floor kitchen, the fire service said.\n"
    "Read more\n"
    "Continue reading...\n"
    "The post Westvale fire appeared first on Example News.\n"
)

API_KEY = "sk-test-SECRET-0123456789"

# A whole news page as text, made up in the manner of a real one: headline, newsletter
# line, photo caption and credit, the page's own labelled list of key points, a
# dateline, and a body in which a link put one sentence on three lines.
PAGE_TITLE = "Ministers vow to keep fishing talks going despite quota row"
PAGE = """Ministers vow to keep fishing talks going despite quota row
Sign up now for the Northern Desk newsletter, our free morning briefing
Prime Minister Anna Berg (left) greets the visiting island premier in Oslo on Monday.
PHOTO: Northwire/Jon Dahl
Key points:
AI generated
- The prime minister says fishing talks will continue next week.
- Negotiators from both sides are due to meet on Thursday.
- A deal on mackerel quotas is not expected before the summer.
Follow topic
OSLO, March 3 (Northwire) - Prime Minister Anna Berg said on Monday that talks on \
fishing rights would go on, despite a row over mackerel quotas that has strained ties \
for months.
The two governments have met four times since January without agreeing on how to \
share the catch.
But
Ms Berg's surprise visit to the harbour at Alesund
last week, followed by posts in which she called the current quotas unfair, had \
raised doubts about the next round.
Officials from both sides said on Monday that the tone had improved since then.
Share on Facebook
Read more: Fishing fleet idle as quota row drags on
"""
PAGE_BODY = [
    "Prime Minister Anna Berg said on Monday that talks on fishing rights would go on, "
    "despite a row over mackerel quotas that has strained ties for months.",
    "The two governments have met four times since January without agreeing on how to "
    "share the catch.",
    "But Ms Berg's surprise visit to the harbour at Alesund last week, followed by posts "
    "in which she called the current quotas unfair, had raised doubts about the next round.",
]


# --- Summary -------------------------------------------------------------------------------


def test_summary_points_are_normalised_and_stored_one_per_line() -> None:
    summary = Summary(("  First\npoint. ", "", "Second   point."))
    assert summary.points == ("First point.", "Second point.")
    assert summary.to_text() == "First point.\nSecond point."
    assert Summary.from_text(summary.to_text()) == summary
    assert summary.one_line() == "First point. Second point."
    assert summary and not Summary() and not Summary.from_text("")


def test_a_stored_paragraph_reads_back_as_one_point() -> None:
    assert Summary.from_text("One sentence. Another.").points == ("One sentence. Another.",)


# --- split_sentences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("", "en", []),
        ("   \n\n  ", "en", []),
        (
            "Dr. Lee paid $3.50 at 5 p.m. on Monday. He left! Did he?",
            "en",
            ["Dr. Lee paid $3.50 at 5 p.m. on Monday.", "He left!", "Did he?"],
        ),
        (
            "Heading without stop\nBody   text here.",
            "en",
            ["Heading without stop", "Body text here."],
        ),
        (
            "北京今天下雨。明天会晴天！真的吗？",
            "en",
            ["北京今天下雨。", "明天会晴天！", "真的吗？"],
        ),
        ("Привет. Как дела? Хорошо.", "ru", ["Привет.", "Как дела?", "Хорошо."]),
        # A language pysbd does not know falls back to punctuation.
        (
            "Tere tulemast. Kuidas läheb? Hästi!",
            "et",
            ["Tere tulemast.", "Kuidas läheb?", "Hästi!"],
        ),
    ],
)
def test_split_sentences(text: str, language: str, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A link on a line of its own, after a one-word line: one sentence.
        (
            "The vote was set for May.\nBut\nthe governor's late appeal\nlast week, read "
            "on state radio, cast doubt on it.",
            [
                "The vote was set for May.",
                "But the governor's late appeal last week, read on state radio, cast doubt on it.",
            ],
        ),
        # A capitalised link text between two pieces: short, unfinished, followed by lower case.
        (
            "Critics said\nthe Eastport Herald\nhad seen the letter first.",
            ["Critics said the Eastport Herald had seen the letter first."],
        ),
        (
            "But\nMs Ruiz's surprise call\nlast week changed that.",
            ["But Ms Ruiz's surprise call last week changed that."],
        ),
        # A line that goes on with a comma.
        (
            "The mayor, who spoke to\nthe Eastport Herald\n, said the bridge would reopen.",
            ["The mayor, who spoke to the Eastport Herald, said the bridge would reopen."],
        ),
        # After a finished sentence a lower-case line is a new sentence.
        (
            "Sales rose in March.\neBay said demand was strong.",
            ["Sales rose in March.", "eBay said demand was strong."],
        ),
        # A heading stays apart from a body that starts in upper case.
        (
            "Storm closes bridge\nThe Harbour Bridge closed on Tuesday.",
            ["Storm closes bridge", "The Harbour Bridge closed on Tuesday."],
        ),
        # A blank line ends a paragraph: a heading stays apart even from a lower-case start.
        (
            "Results\n\neBay said demand was strong.",
            ["Results", "eBay said demand was strong."],
        ),
        # A short unfinished line followed by an upper-case line is not joined.
        (
            "Key facts\nAna Ruiz\nThe mayor spoke on Tuesday.",
            ["Key facts", "Ana Ruiz", "The mayor spoke on Tuesday."],
        ),
    ],
)
def test_lines_that_are_pieces_of_one_sentence_are_joined(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# --- clip_text -----------------------------------------------------------------------------


def test_clip_text_keeps_short_text() -> None:
    assert clip_text("  Short enough.  ", 50) == "Short enough."


def test_clip_text_cuts_at_word_boundary_with_ellipsis() -> None:
    clipped = clip_text("The quick brown fox jumps over the lazy dog", 20)
    assert clipped == "The quick brown fox…"
    assert len(clipped) <= 20


def test_clip_text_drops_dangling_punctuation() -> None:
    assert clip_text("Alpha beta, gamma delta epsilon", 13) == "Alpha beta…"


def test_clip_text_cuts_one_huge_word() -> None:
    assert clip_text("x" * 100, 10) == "x" * 9 + "…"


# --- boilerplate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Media playback is unsupported on your device",
        "Media playback is not supported on this device",
        "The post Westvale fire appeared first on Example News.",
        "Read more",
        "Continue reading",
        "Scroll down for video",
        "Image copyright Getty Images",
        "© 2026 Example Media. All rights reserved.",
        "Follow Pallab on Twitter",
        "3 May 2026 Last updated at 10:11 BST",
    ],
)
def test_boilerplate_recognised(sentence: str) -> None:
    assert is_boilerplate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Police said the road would reopen on Friday.",
        "Readers can continue to send questions to the council.",
        "The company's share price rose after the post-earnings call.",
    ],
)
def test_news_is_not_boilerplate(sentence: str) -> None:
    assert not is_boilerplate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Sign up now for the Northern Desk newsletter, our free morning briefing",
        "Get the news first: sign up now",
        "Sign up to our Business Daily newsletter for the latest updates.",
        "Follow topic",
        "Eastport council Follow topic",
        "AI generated",
        "AI-generated summary",
        "This summary was AI-generated and checked by an editor.",
        "Read more: Fishing fleet idle as quota row drags on",
        "More from the region Read more »",
        "Share on WhatsApp",
        "Share Save",
        "Copy link",
    ],
)
def test_page_furniture_is_recognised_wherever_it_stands(sentence: str) -> None:
    assert is_boilerplate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "AI-generated images of the mayor spread quickly on social media on Tuesday.",
        "Thousands rushed to sign up now that the scheme is open to all residents.",
        "Readers can read more about the scheme on the council's website.",
        "Shares in Eastport Ferries fell by a fifth after the storm.",
    ],
)
def test_news_that_uses_the_same_words_is_kept(sentence: str) -> None:
    assert not is_boilerplate(sentence)


@pytest.mark.parametrize(
    ("sentence", "caption"),
    [
        ("Ana Ruiz (left) greets the visiting minister in Eastport on Tuesday.", True),
        ("The two leaders (centre) pose with delegates after the talks.", True),
        ("Rescuers (right) carry a child from the flooded promenade.", True),
        ("Firefighters, pictured, battled the blaze for six hours.", True),
        ("Pictured: the flooded promenade in Eastport", True),
        ("PHOTO: Northwire/Jon Dahl", True),
        ("PHOTOS: Eastport Herald", True),
        ("Image: Northwire", True),
        ("File photo of the Harbour Bridge in Eastport.", True),
        ("Eight guards were pictured with the minister at a rally last month.", False),
        ("The party moved to the right after the election, the report said.", False),
        ("The court heard that the image was taken in 2019.", False),
    ],
)
def test_captions_and_credits(sentence: str, caption: bool) -> None:
    assert is_caption(sentence) is caption


def test_labelled_list_with_markers_is_dropped() -> None:
    text = (
        "Key points:\nAI generated\n- The mayor says the bridge will reopen.\n"
        "- Engineers inspect it on Friday.\nThe Harbour Bridge closed on Tuesday."
    )
    assert drop_labelled_lists(text) == "The Harbour Bridge closed on Tuesday."


def test_labelled_list_without_markers_ends_at_a_blank_line() -> None:
    # What html_to_text makes of a heading, a label and a <ul> above the story.
    text = (
        "Summary\n\nAI generated\n\nThe mayor says the bridge will reopen.\n"
        "Engineers inspect it on Friday.\n\nThe Harbour Bridge closed on Tuesday. "
        "Traffic was diverted."
    )
    assert drop_labelled_lists(text).strip() == (
        "The Harbour Bridge closed on Tuesday. Traffic was diverted."
    )


def test_labelled_list_without_markers_ends_at_a_paragraph() -> None:
    text = (
        "In brief\nThe mayor says the bridge will reopen.\n"
        "EASTPORT (Northwire) - The Harbour Bridge closed on Tuesday. Traffic was diverted."
    )
    assert drop_labelled_lists(text) == (
        "EASTPORT (Northwire) - The Harbour Bridge closed on Tuesday. Traffic was diverted."
    )


def test_text_without_a_label_is_unchanged() -> None:
    assert drop_labelled_lists(BRIDGE) == BRIDGE
    assert drop_labelled_lists(BOILERPLATE_BODY) == BOILERPLATE_BODY
    # Lines that start like a label but say more are the story.
    for line in ("Summary judgment was granted", "Highlights of the season", "In brief remarks"):
        text = f"{line}\nThe court sat on Monday.\nThe ruling came on Friday."
        assert drop_labelled_lists(text) == text


def test_clean_sentence_strips_datelines_and_tails() -> None:
    assert clean_sentence("(CNN) -- The vote was delayed.") == "The vote was delayed."
    assert clean_sentence("OSLO, March 3 (Northwire) - The vote was delayed.") == (
        "The vote was delayed."
    )
    assert clean_sentence("EASTPORT (Reuters) — The vote was delayed.") == ("The vote was delayed.")
    assert clean_sentence("- The vote was delayed.") == "The vote was delayed."
    assert clean_sentence("US President Ana Ruiz (left) spoke.") == (
        "US President Ana Ruiz (left) spoke."
    )
    assert (
        clean_sentence("The vote was delayed until May [...]") == "The vote was delayed until May"
    )
    assert clean_sentence("The vote was delayed. Read more »") == "The vote was delayed."


@pytest.mark.parametrize(
    ("sentence", "fragment"),
    [
        ("By Jane Doe", True),
        ("Firefighters at the scene in Westvale", True),  # caption: short, no full stop
        ("It rained.", True),
        ("The council voted to close the library.", False),
        ("北京今天下雨了，气温下降。", False),
    ],
)
def test_is_fragment(sentence: str, fragment: bool) -> None:
    assert is_fragment(sentence) is fragment


# --- ExtractiveSummarizer ------------------------------------------------------------------


def test_picks_lead_and_key_sentences_in_story_order() -> None:
    summary = ExtractiveSummarizer(sentences=3, max_chars=1000).summarize_sync(BRIDGE_TITLE, BRIDGE)
    sentences = split_sentences(BRIDGE)
    # The two lead sentences, then the reopening line: it shares the story's terms
    # (bridge, river, engineers) where the mayor's quote and the asides do not.
    assert summary == Summary((sentences[0], sentences[1], sentences[6]))


def test_key_sentence_beats_chatty_lead_when_it_matches_title() -> None:
    text = (
        "It was an ordinary morning in Eastport. "
        "People queued for coffee as usual. "
        "Then the Harbour Bridge closed at noon as the river flooded after a storm, "
        "stranding 200 commuters. "
        "Traffic was diverted to the ring road."
    )
    summary = ExtractiveSummarizer(sentences=1).summarize_sync(BRIDGE_TITLE, text)
    assert summary.points == (
        "Then the Harbour Bridge closed at noon as the river flooded after a storm, "
        "stranding 200 commuters.",
    )


def test_scores_favour_lead_and_central_sentences() -> None:
    sentences = split_sentences(BRIDGE)
    scores = score_sentences(sentences, BRIDGE_TITLE)
    assert scores[0] == max(scores)
    # The café aside shares nothing with the story and sits lower: it must lose to
    # the engineers' reopening line despite coming earlier.
    assert scores[-1] > scores[3]


def test_boilerplate_and_captions_removed() -> None:
    summary = ExtractiveSummarizer().summarize_sync("Fire in Westvale", BOILERPLATE_BODY)
    assert summary.points == (
        "Firefighters rescued twelve people from a burning apartment block in Westvale "
        "early on Sunday morning.",
        "The fire started in a ground-floor kitchen, the fire service said.",
    )


def test_whole_page_gives_the_story_not_its_furniture() -> None:
    summary = ExtractiveSummarizer().summarize_sync(PAGE_TITLE, PAGE)
    assert summary.points == tuple(PAGE_BODY)


def test_page_as_html_to_text_makes_it_gives_the_same_points() -> None:
    # The same page through html_to_text: blank lines between blocks, no list markers,
    # caption and credit on one line.
    page = (
        "Ministers vow to keep fishing talks going despite quota row\n\n"
        "Sign up now for the Northern Desk newsletter, our free morning briefing\n\n"
        "Prime Minister Anna Berg (left) greets the visiting island premier in Oslo on "
        "Monday. Image: Northwire/Jon Dahl\n\n"
        "Key points\n\nAI generated\n\n"
        "The prime minister says fishing talks will continue next week.\n"
        "Negotiators from both sides are due to meet on Thursday.\n\n"
        f"OSLO, March 3 (Northwire) - {PAGE_BODY[0]} {PAGE_BODY[1]}\n\n{PAGE_BODY[2]}"
    )
    summary = ExtractiveSummarizer().summarize_sync(PAGE_TITLE, page)
    assert summary.points == tuple(PAGE_BODY)


def test_total_length_cap_cuts_the_last_point_at_a_word() -> None:
    summarizer = ExtractiveSummarizer(sentences=3, max_chars=160)
    first, second = summarizer.summarize_sync(BRIDGE_TITLE, BRIDGE).points
    assert first == split_sentences(BRIDGE)[0]
    assert len(first) + 1 + len(second) <= 160
    assert second.endswith("…")
    prefix = second.removesuffix("…")
    assert split_sentences(BRIDGE)[1].startswith(prefix)
    assert split_sentences(BRIDGE)[1][len(prefix)] == " "  # cut between words


def test_a_point_cut_to_a_stub_is_left_out() -> None:
    # 103 characters of first point leave 16: "Police said…" would say nothing.
    summary = ExtractiveSummarizer(sentences=3, max_chars=120).summarize_sync(BRIDGE_TITLE, BRIDGE)
    assert summary.points == (split_sentences(BRIDGE)[0],)


def test_clip_points_keeps_a_lone_point_however_short() -> None:
    assert clip_points(["The council met and argued about the budget."], 12, 300) == (
        "The council…",
    )


def test_sentence_cap_limits_a_run_on_sentence() -> None:
    run_on = "The council met " + "and argued about the budget " * 30 + "until midnight. "
    text = run_on + "The budget passed by one vote after the debate."
    summary = ExtractiveSummarizer(max_chars=500, max_sentence_chars=100).summarize_sync("", text)
    first, rest = summary.points
    assert len(first) <= 100
    assert first.endswith("…")
    assert rest == "The budget passed by one vote after the debate."


def test_sentences_limit() -> None:
    summary = ExtractiveSummarizer(sentences=1, max_chars=1000).summarize_sync(BRIDGE_TITLE, BRIDGE)
    assert summary.points == (split_sentences(BRIDGE)[0],)


def test_very_long_body_is_bounded() -> None:
    filler = "Residents of Eastport went about their day as usual on Tuesday. " * 5000
    started = time.monotonic()
    summary = ExtractiveSummarizer().summarize_sync(BRIDGE_TITLE, BRIDGE + " " + filler)
    assert time.monotonic() - started < 10
    assert summary.points[0] == split_sentences(BRIDGE)[0]
    assert len(summary.one_line()) <= 500


@pytest.mark.parametrize("body", ["", "   ", "\n\n", "Read more"])
def test_empty_body_gives_empty_summary(body: str) -> None:
    assert ExtractiveSummarizer().summarize_sync(BRIDGE_TITLE, body) == Summary()


def test_body_equal_to_title_gives_empty_summary() -> None:
    assert not ExtractiveSummarizer().summarize_sync(BRIDGE_TITLE, BRIDGE_TITLE)
    assert not ExtractiveSummarizer().summarize_sync(BRIDGE_TITLE, BRIDGE_TITLE + ".")


def test_title_repeated_at_top_of_body_is_skipped() -> None:
    text = BRIDGE_TITLE + "\n" + BRIDGE
    summary = ExtractiveSummarizer(sentences=1).summarize_sync(BRIDGE_TITLE, text)
    assert summary.points == (split_sentences(BRIDGE)[0],)


def test_headline_only_body_is_kept() -> None:
    # A feed entry whose description is a punctuation-less line is still worth showing.
    body = "Government announces new rail link between Eastport and Westvale"
    assert ExtractiveSummarizer().summarize_sync("Rail news", body).points == (body,)


def test_duplicate_sentences_are_not_repeated() -> None:
    text = (
        "The Harbour Bridge closed on Tuesday after a storm flooded the river. "
        "The Harbour Bridge closed on Tuesday after the storm flooded the river. "
        "Engineers will inspect the supports before it reopens."
    )
    summary = ExtractiveSummarizer().summarize_sync("", text).one_line()
    assert summary.count("Harbour Bridge") == 1
    assert "Engineers will inspect" in summary


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "Die Regierung hat am Dienstag ein neues Gesetz beschlossen. Es soll im Mai in "
            "Kraft treten. Die Opposition kritisierte den Entwurf scharf.",
            "de",
        ),
        (
            "Правительство во вторник одобрило новый закон о транспорте. Он вступит в силу "
            "в мае. Оппозиция резко раскритиковала проект.",
            "ru",
        ),
        ("政府周二通过了一项新的交通法。该法将于五月生效。反对派强烈批评了这项草案。", "en"),
        ("الحكومة وافقت على قانون جديد يوم الثلاثاء. سيدخل حيز التنفيذ في مايو.", "ar"),
    ],
)
def test_non_english_text(text: str, language: str) -> None:
    summary = ExtractiveSummarizer(sentences=2, language=language).summarize_sync("", text)
    assert summary
    assert all(point in text for point in summary.points)


def test_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        ExtractiveSummarizer(sentences=0)
    with pytest.raises(ValueError, match="must be >= 1"):
        ExtractiveSummarizer(max_chars=0)


async def test_async_summarize_matches_sync_and_fits_protocol() -> None:
    summarizer = ExtractiveSummarizer()
    assert isinstance(summarizer, Summarizer)
    assert await summarizer.summarize(BRIDGE_TITLE, BRIDGE) == summarizer.summarize_sync(
        BRIDGE_TITLE, BRIDGE
    )


@settings(max_examples=150, deadline=None)
@given(title=st.text(max_size=80), text=st.text(max_size=2000), max_chars=st.integers(1, 600))
def test_never_crashes_and_respects_cap(title: str, text: str, max_chars: int) -> None:
    summary = ExtractiveSummarizer(max_chars=max_chars).summarize_sync(title, text)
    assert len(summary.one_line()) <= max_chars
    assert all(point and "\n" not in point for point in summary.points)


# --- LLMSummarizer -------------------------------------------------------------------------


def completion(content: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def fallback() -> ExtractiveSummarizer:
    return ExtractiveSummarizer(sentences=2, max_chars=300)


@pytest.fixture
async def llm(httpserver: HTTPServer, fallback: ExtractiveSummarizer):
    summarizer = LLMSummarizer(
        base_url=httpserver.url_for("/v1/"),
        model="tiny-news",
        api_key=API_KEY,
        fallback=fallback,
        timeout=0.5,
    )
    yield summarizer
    await summarizer.aclose()


async def test_llm_success_sends_openai_request(httpserver: HTTPServer, llm: LLMSummarizer) -> None:
    httpserver.expect_oneshot_request(
        "/v1/chat/completions",
        method="POST",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ).respond_with_json(completion("  Storm closes the Harbour Bridge.\nReopening Friday.  "))

    summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)

    assert summary.points == ("Storm closes the Harbour Bridge.", "Reopening Friday.")
    httpserver.check_assertions()
    ((request, _),) = httpserver.log
    body = json.loads(request.data)
    assert body["model"] == "tiny-news"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    prompt = body["messages"][0]["content"]
    assert "at most 2 key points" in prompt
    assert "one per line" in prompt
    assert "language of the story" in prompt
    assert body["messages"][1]["content"].startswith(f"Title: {BRIDGE_TITLE}\n\n")
    assert "Eastport" in body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        ("One.\nTwo.\nThree.", ["One.", "Two."]),
        ("Here are the key points:\n- One.\n- **Two.**\n", ["One.", "Two."]),
        ("1. One.\n2) Two.\n3. Three.", ["One.", "Two."]),
        ("• One.\n\n• Two.", ["One.", "Two."]),
        (
            "One long paragraph. It has three sentences. The last one.",
            ["One long paragraph.", "It has three sentences."],
        ),
    ],
)
def test_key_points_from_an_answer(answer: str, points: list[str]) -> None:
    assert key_points(answer, 2) == points


def test_an_answer_of_only_a_preamble_has_no_key_points() -> None:
    with pytest.raises(LLMResponseError, match="no key points"):
        key_points("Here are the key points:", 3)


async def test_llm_points_are_shown_as_given(httpserver: HTTPServer, llm: LLMSummarizer) -> None:
    answer = "Key points:\n- Storm closes the **Harbour Bridge**.\n- Reopening due on Friday."
    httpserver.expect_oneshot_request("/v1/chat/completions").respond_with_json(completion(answer))
    summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)
    assert summary == Summary(("Storm closes the Harbour Bridge.", "Reopening due on Friday."))


async def test_llm_answer_is_capped_and_thinking_removed(
    httpserver: HTTPServer, llm: LLMSummarizer
) -> None:
    answer = "<think>Let me see.</think>" + "word " * 200
    httpserver.expect_oneshot_request("/v1/chat/completions").respond_with_json(completion(answer))
    summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)
    (point,) = summary.points
    assert len(point) <= 300
    assert point.startswith("word word")
    assert point.endswith("…")


@pytest.mark.parametrize(
    ("respond", "reason"),
    [
        (lambda r: r.respond_with_data("upstream broke", status=500), "HTTP 500"),
        (lambda r: r.respond_with_data("{not json", content_type="application/json"), "not JSON"),
        (lambda r: r.respond_with_json({"error": {"message": "nope"}}), "no choices"),
        (lambda r: r.respond_with_json(completion("   ")), "empty summary"),
        (lambda r: r.respond_with_json(completion(None)), "not a string"),
        (
            lambda r: r.respond_with_json({"error": f"bad key {API_KEY}"}, status=401),
            "HTTP 401",
        ),
    ],
)
async def test_llm_errors_fall_back_to_extractive(
    httpserver: HTTPServer,
    llm: LLMSummarizer,
    fallback: ExtractiveSummarizer,
    caplog: pytest.LogCaptureFixture,
    respond,
    reason: str,
) -> None:
    respond(httpserver.expect_oneshot_request("/v1/chat/completions"))
    with caplog.at_level(logging.WARNING, logger="bot.summarize"):
        summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)
    assert summary == fallback.summarize_sync(BRIDGE_TITLE, BRIDGE)
    assert summary
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert reason in record.getMessage()
    assert API_KEY not in caplog.text


async def test_llm_timeout_falls_back(
    httpserver: HTTPServer,
    llm: LLMSummarizer,
    fallback: ExtractiveSummarizer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()

    def stalled(request: Request) -> Response:
        release.wait(5)
        return Response(json.dumps(completion("too late")), content_type="application/json")

    httpserver.expect_oneshot_request("/v1/chat/completions").respond_with_handler(stalled)
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.summarize"):
            summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)
        elapsed = time.monotonic() - started
    finally:
        # Let the stalled handler finish so its late reply cannot leak into other tests.
        release.set()
        await asyncio.to_thread(wait_until, lambda: bool(httpserver.log), 5)
    assert elapsed < 2  # llm.timeout is 0.5 s
    assert summary == fallback.summarize_sync(BRIDGE_TITLE, BRIDGE)
    assert "timed out" in caplog.text
    assert API_KEY not in caplog.text


async def test_llm_unreachable_falls_back(
    fallback: ExtractiveSummarizer, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 9 (discard) on localhost is closed: the connection is refused at once.
    llm = LLMSummarizer("http://127.0.0.1:9/v1", "m", API_KEY, fallback, timeout=2)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.summarize"):
            summary = await llm.summarize(BRIDGE_TITLE, BRIDGE)
    finally:
        await llm.aclose()
    assert summary == fallback.summarize_sync(BRIDGE_TITLE, BRIDGE)
    assert "ConnectError" in caplog.text
    assert API_KEY not in caplog.text


async def test_llm_without_key_sends_no_authorization(
    httpserver: HTTPServer, fallback: ExtractiveSummarizer
) -> None:
    httpserver.expect_oneshot_request("/chat/completions").respond_with_json(completion("Ok."))
    async with httpx.AsyncClient() as client:
        llm = LLMSummarizer(httpserver.url_for(""), "m", None, fallback, client=client)
        assert await llm.summarize(BRIDGE_TITLE, BRIDGE) == Summary(("Ok.",))
        await llm.aclose()
        assert not client.is_closed  # a client passed in belongs to the caller
    ((request, _),) = httpserver.log
    assert "Authorization" not in request.headers


async def test_llm_empty_body_makes_no_request(httpserver: HTTPServer, llm: LLMSummarizer) -> None:
    assert await llm.summarize(BRIDGE_TITLE, "  ") == Summary()
    assert httpserver.log == []
