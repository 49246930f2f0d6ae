"""Settings of the rule language and the rule-syntax error a user sees."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Text
from bot.rules import messages as msg


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
    """A watch rule that cannot be parsed; meant for a chat user.

    ``str(err)`` reads ``column 12: <what is wrong> — expected <what would do>`` in
    English; ``text`` is the same sentence to word in a chat's language.

    Attributes:
        column: 1-based column of the problem in the query.
        problem: What is wrong there.
        expected: What would have been accepted there.
        text: The whole sentence.
    """

    def __init__(self, column: int, problem: Text, expected: Text) -> None:
        self.column = column
        self.problem = problem
        self.expected = expected
        self.text = Text(msg.SYNTAX_ERROR, column=column, problem=problem, expected=expected)
        super().__init__(str(self.text))
