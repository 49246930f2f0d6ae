"""What is wrong with a rule, in words: the English message ids of the parser's errors.

A :class:`~bot.rules.RuleSyntaxError` carries the column, what is wrong and what was
expected there, each a :class:`~bot.i18n.Text` of these, so ``watch`` and ``test`` word
it in the chat's language (``column 13: the rule ends right after ( — expected …``).
Like :mod:`bot.commands.messages`, each has a translation in every catalog.
"""

from bot.i18n import Plural

SYNTAX_ERROR = "column {column}: {problem} — expected {expected}"

# What is wrong.
SIGN_ALONE = "{sign} has nothing after it"
QUOTE_OPEN = "this quote is never closed"
SLOP_NUMBER = "~ must be followed by a number"
SLOP_TOO_FAR = "~{slop} is too far apart"
REGEX_OPEN = "this regular expression is never closed"
REGEX_EMPTY = "the regular expression is empty"
UNKNOWN_FIELD = "unknown field {field}:"
EMPTY = "the rule is empty"
PAREN_UNMATCHED = "this ) has no matching ("
TOO_DEEP = Plural(
    "the rule nests ( ) and NOT more than {count} level deep",
    "the rule nests ( ) and NOT more than {count} levels deep",
)
ENDS_AFTER = "the rule ends right after {name}"
NOTHING_AFTER = "{name} has nothing after it"
PARENS_EMPTY = "the parentheses are empty"
PAREN_OPEN = "this ( is never closed"
FIELD_NESTED = "{field}: is inside another field"
FIELD_FOLLOWED = "{field}: cannot be followed by {next}"
FIELD_FOLLOWED_BY_FIELD = "{field}: cannot be followed by {next} (fields do not combine)"
ENDS_EARLY = "the rule ends too early"
NOTHING_BEFORE = "{name} has nothing before it"
TOO_MANY_TERMS = Plural(
    "the rule has more than {count} term", "the rule has more than {count} terms"
)
PROXIMITY_ALONE = "~ (proximity) only works after a quoted phrase"
STAR_INSIDE = "* is only allowed at the end of a word"
PREFIX_NOT_PLAIN = "{word} is not a plain word before *"
PREFIX_TOO_SHORT = "the prefix {word} is too short"
NO_LETTERS = "{word} has no letters or digits to search for"
STAR_IN_PHRASE = "* does not work inside a phrase"
PHRASE_EMPTY = "the phrase has no words"
REGEX_INVALID = "invalid regular expression ({detail})"
TOO_LONG = Plural(
    "the rule is {count} character long, the limit is {limit}",
    "the rule is {count} characters long, the limit is {limit}",
)

# What was expected there.
EXPECT_SIGNED_WORD = "a word right after {sign}, e.g. {sign}sport"
EXPECT_CLOSING_QUOTE = 'a closing " after the phrase'
EXPECT_SLOP = 'a number of words, e.g. "prisoner release"~5'
EXPECT_SLOP_RANGE = "a number from 0 to {limit}"
EXPECT_CLOSING_SLASH = "a closing / after the expression"
EXPECT_PATTERN = "a pattern between the slashes, e.g. /belaru(s|sian)/"
EXPECT_FIELD = "one of title:, text:, source:, url:, author:"
EXPECT_WORD = "a word to watch for, e.g. Belarus"
EXPECT_OPENING = "a ( before it, or remove it"
EXPECT_FEWER_LEVELS = "fewer levels of ( ) or NOT"
EXPECT_OPERAND = 'a word, a "phrase" or ('
EXPECT_OPERAND_AFTER = 'a word, a "phrase" or ( after {name}'
EXPECT_OPERAND_RIGHT_AFTER = 'a word, a "phrase" or ( right after {field}:'
EXPECT_OPERAND_BEFORE = 'a word, a "phrase" or ( before {name}'
EXPECT_WORD_INSIDE = "a word inside ( )"
EXPECT_CLOSING_AT_END = "a ) to close it, at the end"
EXPECT_CLOSING_BEFORE = "a ) to close it, before column {column}"
EXPECT_TOP_FIELD = "a field only at the top, e.g. title:(a OR b)"
EXPECT_SHORTER = "a shorter rule"
EXPECT_PHRASE = 'a phrase in quotes, e.g. "prisoner release"~5'
EXPECT_PREFIX = "a prefix such as sanction*"
EXPECT_PREFIX_LETTERS = "letters or digits before *, e.g. sanction*"
EXPECT_PREFIX_LENGTH = Plural(
    "at least {count} letter before *, e.g. sanc*", "at least {count} letters before *, e.g. sanc*"
)
EXPECT_LETTERS = "a word with letters or digits"
EXPECT_PLAIN_WORDS = "plain words in a phrase, or a prefix outside quotes"
EXPECT_PHRASE_WORDS = 'words between the quotes, e.g. "prisoner release"'
EXPECT_VALID_REGEX = "a valid pattern, e.g. /belaru(s|sian)/"
