"""Watch rules: the query language, its exact evaluator and the presearcher index.

Typical use::

    rule = compile_rule('Belarus AND "prisoner release"')   # raises RuleSyntaxError
    index = RuleIndex()
    index.add(7, rule)
    index.match(Document(title="Belarus leader dampens hopes for mass prisoner release"))
"""

from bot.rules.document import Document
from bot.rules.evaluate import CompiledRule, RuleMatch, compile_rule
from bot.rules.index import RuleIndex
from bot.rules.settings import RuleSettings, RuleSyntaxError

__all__ = [
    "CompiledRule",
    "Document",
    "RuleIndex",
    "RuleMatch",
    "RuleSettings",
    "RuleSyntaxError",
    "compile_rule",
]
