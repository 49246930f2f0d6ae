"""Story summaries for alerts: extractive by default, an optional LLM on top."""

from bot.summarize.base import Summarizer
from bot.summarize.extractive import ExtractiveSummarizer
from bot.summarize.llm import LLMSummarizer
from bot.summarize.sentences import split_sentences

__all__ = ["ExtractiveSummarizer", "LLMSummarizer", "Summarizer", "split_sentences"]
