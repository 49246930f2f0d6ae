"""Optional summaries from an OpenAI-compatible chat-completions endpoint.

The LLM is a nicety, never a dependency: any failure (network, timeout, HTTP
error, odd JSON, empty answer) is logged as a warning and the alert goes out
with the extractive summary instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx

from bot.models import Summary
from bot.summarize.clip import clip_points
from bot.summarize.extractive import ExtractiveSummarizer
from bot.summarize.sentences import split_sentences

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write the key points of a news alert. Give at most {sentences} key points "
    "of the story, one per line, in the order the story gives them: each one short "
    "sentence in the language of the story, using only facts stated in it. Plain "
    "text only: no markdown, no bullets or numbers, no title, no preamble."
)
# Enough for the lead and the body of a long article; keeps cost and latency bounded.
MAX_INPUT_CHARS = 12_000
MAX_OUTPUT_TOKENS = 300
# Reasoning models served through compatible APIs may prepend their scratch work.
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
# Models add list markers and markdown emphasis even when asked not to.
_MARKER = re.compile(r"^\s*(?:[-•*–·▪●]|\d{1,2}[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__")


class LLMResponseError(ValueError):
    """The endpoint answered, but not with a usable chat completion."""


class LLMSummarizer:
    """Summarises stories with a chat-completions model, falling back to extraction."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        fallback: ExtractiveSummarizer,
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """Configure the endpoint.

        Args:
            base_url: API root, e.g. ``https://api.openai.com/v1``; ``/chat/completions``
                is appended.
            model: Model name sent with each request.
            api_key: Bearer token, or None for local servers that need none. Never logged.
            fallback: Used when the LLM fails; its ``sentences`` and ``max_chars`` also
                bound the LLM's answer.
            timeout: Seconds one summary may take in total before falling back.
            client: HTTP client to use (closed by its owner); by default one is created
                here and closed by :meth:`aclose`.
        """
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.fallback = fallback
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    async def summarize(self, title: str, text: str) -> Summary:
        """Summarise a story with the LLM, or extractively if the LLM fails.

        Args:
            title: The story's title.
            text: The story body as plain text.

        Returns:
            Up to ``fallback.sentences`` key points, cut like the extractive ones
            (``fallback.max_chars`` in all); empty for an empty body.
        """
        if not text.strip():
            return Summary()
        try:
            async with asyncio.timeout(self.timeout):
                points = await self._complete(title, text)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.warning(
                "summarize: LLM %s at %s failed (%s); using the extractive summary "
                "— check summary.llm if this persists",
                self.model,
                self.url,
                _describe(exc),
            )
            return await self.fallback.summarize(title, text)
        fallback = self.fallback
        return Summary(clip_points(points, fallback.max_chars, fallback.max_sentence_chars))

    async def aclose(self) -> None:
        """Close the HTTP client if this summariser created it."""
        if self._owns_client:
            await self._client.aclose()

    async def _complete(self, title: str, text: str) -> list[str]:
        prompt = SYSTEM_PROMPT.format(sentences=self.fallback.sentences)
        payload = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt},
                {"role": "user", "content": f"Title: {title}\n\n{text[:MAX_INPUT_CHARS]}"},
            ],
            "temperature": 0.2,
            "max_tokens": MAX_OUTPUT_TOKENS,
        }
        response = await self._client.post(
            self.url, json=payload, headers=self._headers, timeout=self.timeout
        )
        response.raise_for_status()
        answer = parse_completion(response.json())
        return key_points(answer, self.fallback.sentences, self.fallback.language)


def parse_completion(data: Any) -> str:
    """Extract the answer text from a chat-completions response body.

    Args:
        data: The decoded JSON body.

    Returns:
        The first choice's message content without reasoning blocks, its lines kept.

    Raises:
        LLMResponseError: If the body is not a completion or the answer is empty.
    """
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMResponseError("response has no choices[0].message.content") from exc
    if not isinstance(content, str):
        raise LLMResponseError("choices[0].message.content is not a string")
    content = _THINKING.sub("", content).strip()
    if not content:
        raise LLMResponseError("the model returned an empty summary")
    return content


def key_points(answer: str, most: int, language: str = "en") -> list[str]:
    """The key points in a model's answer: one per line, list markers, emphasis and
    preamble lines ("Here are the key points:") removed.

    A model that answers with one paragraph has its sentences taken as the points.

    Args:
        answer: The answer text (see :func:`parse_completion`).
        most: Most points to keep; the first ones are kept.
        language: ISO 639-1 code of the story, for splitting a paragraph.

    Returns:
        Up to ``most`` plain-text points.

    Raises:
        LLMResponseError: If the answer holds no point.
    """
    lines = (_EMPHASIS.sub("", _MARKER.sub("", line)).strip() for line in answer.splitlines())
    points = [line for line in lines if line and not line.endswith(":")]
    if len(points) == 1:
        points = split_sentences(points[0], language)
    if not points:
        raise LLMResponseError("the model returned no key points")
    return points[:most]


def _describe(exc: Exception) -> str:
    # Say what went wrong without echoing response bodies, which some APIs fill
    # with a masked copy of the key they rejected.
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, LLMResponseError):
        return str(exc)
    if isinstance(exc, ValueError):
        return "response is not JSON"
    return type(exc).__name__
