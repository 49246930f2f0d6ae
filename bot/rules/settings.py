"""Settings of the rule language and the rule-syntax error a user sees."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSettings:
    """Limits and language of watch rules (config key ``rules``).

    Attributes:
        language: Snowball stemmer language, e.g. ``english``, ``german``, ``russian``.
        max_length: Longest accepted query, in characters.
        max_terms: Most words, prefixes and regular expressions one query may hold.
        min_prefix: Fewest letters before ``*`` in a prefix such as ``sanc*``.
    """

    language: str = "english"
    max_length: int = 500
    max_terms: int = 50
    min_prefix: int = 3


class RuleSyntaxError(ValueError):
    """A watch rule that cannot be parsed; the message is meant for a chat user.

    ``str(err)`` reads ``column 12: <what is wrong, and what was expected>``.

    Attributes:
        column: 1-based column of the problem in the query.
        expected: Short description of what would have been accepted there.
        message: The explanation without the ``column N:`` prefix.
    """

    def __init__(self, column: int, message: str, expected: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.expected = expected
        self.message = message
