"""The rule parser: query text -> syntax tree, or a RuleSyntaxError with the column.

Grammar (hand-written recursive descent, so every error knows its column)::

    query   := or EOF
    or      := and ( "OR" and )*                 # also ||
    and     := unary ( ["AND"] unary )*          # also &&; adjacent terms are AND
    unary   := ("NOT" | "-") unary | "+" unary | primary
    primary := "(" or ")" | FIELD ":" primary | WORD | WORD* | "PHRASE" ["~" N] | /REGEX/

The default operator is AND, and NOT binds tighter than AND, AND tighter than OR.
Operators are the upper-case words AND, OR, NOT; lower-case ``and`` is an ordinary word.
Groups and negations nest at most ``MAX_DEPTH`` deep, which bounds the recursion here and
in everything that walks the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import re2

from bot.rules.analysis import Analyzer, visible
from bot.rules.document import BODY, FIELDS
from bot.rules.settings import RuleSettings, RuleSyntaxError

Slot = tuple[tuple[str, ...], ...]

MAX_SLOP = 100
MAX_DEPTH = 32
_OPERAND = 'a word, a "phrase" or ('
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_WORD_END = frozenset(' \t\r\n\f\v()"')
_PREFIX_WORD_RE = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One searchable part of a query.

    Attributes:
        kind: ``phrase`` (a word is a one-slot phrase), ``prefix`` or ``regex``.
        group: Field searched: a name from FIELDS, or ``""`` for title and text.
        label: The part as the user wrote it, e.g. ``title:Lukashenko``.
        column: 1-based column where it starts.
        slots: For phrases: stem alternatives per position.
        slop: For proximity ``"a b"~N``: N; None for an exact phrase.
        text: Folded prefix (for ``prefix``) or the pattern (for ``regex``).
    """

    kind: str
    group: str
    label: str
    column: int
    slots: tuple[Slot, ...] = ()
    slop: int | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Leaf | And | Or | Not


@dataclass
class _Token:
    kind: str  # WORD PHRASE REGEX FIELD LPAREN RPAREN AND OR NOT MINUS PLUS EOF
    text: str
    column: int
    end: int  # 1-based column just after the token
    slop: int | None = None
    raw: str = field(default="")


def _fail(column: int, problem: str, expected: str) -> RuleSyntaxError:
    return RuleSyntaxError(column, f"{problem} — expected {expected}", expected)


def re2_options() -> re2.Options:
    """Options for rule regexes: case-insensitive, quiet on bad patterns."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


class _Lexer:
    def __init__(self, query: str) -> None:
        self.q = query
        self.i = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        q = self.q
        while self.i < len(q):
            ch = q[self.i]
            if ch.isspace():
                self.i += 1
            elif ch in "()":
                kind = "LPAREN" if ch == "(" else "RPAREN"
                self._emit(kind, ch, self.i, self.i + 1)
            elif ch == '"':
                self._phrase()
            elif ch == "/":
                self._regex()
            elif ch in "-+" and self._sign_applies():
                self._emit("MINUS" if ch == "-" else "PLUS", ch, self.i, self.i + 1)
            elif ch in "-+":
                raise _fail(
                    self.i + 1,
                    f"{ch} has nothing after it",
                    f"a word right after {ch}, e.g. {ch}sport",
                )
            else:
                self._word()
        self.tokens.append(_Token("EOF", "", len(q) + 1, len(q) + 1))
        return self.tokens

    def _emit(self, kind: str, text: str, start: int, end: int, slop: int | None = None) -> None:
        raw = self.q[start:end]
        # A word's text is its raw text: one string, kept by the rule as its label.
        self.tokens.append(
            _Token(kind, text, start + 1, end + 1, slop, text if raw == text else raw)
        )
        self.i = end

    def _sign_applies(self) -> bool:
        nxt = self.q[self.i + 1 : self.i + 2]
        return bool(nxt) and not nxt.isspace() and nxt != ")"

    def _phrase(self) -> None:
        start = self.i
        close = self.q.find('"', start + 1)
        if close < 0:
            raise _fail(start + 1, "this quote is never closed", 'a closing " after the phrase')
        end = close + 1
        slop = None
        if self.q.startswith("~", end):
            digits = re.match(r"\d+", self.q[end + 1 :])
            if not digits:
                raise _fail(
                    end + 2 if end + 1 < len(self.q) else end + 1,
                    "~ must be followed by a number",
                    'a number of words, e.g. "prisoner release"~5',
                )
            slop = int(digits.group())
            if slop > MAX_SLOP:
                raise _fail(end + 2, f"~{slop} is too far apart", f"a number from 0 to {MAX_SLOP}")
            end = end + 1 + len(digits.group())
        self._emit("PHRASE", self.q[start + 1 : close], start, end, slop)

    def _regex(self) -> None:
        start = self.i
        j = start + 1
        while j < len(self.q) and self.q[j] != "/":
            j += 2 if self.q[j] == "\\" else 1
        if j >= len(self.q):
            raise _fail(
                start + 1,
                "this regular expression is never closed",
                "a closing / after the expression",
            )
        pattern = self.q[start + 1 : j].replace("\\/", "/")
        if not pattern:
            raise _fail(
                start + 1,
                "the regular expression is empty",
                "a pattern between the slashes, e.g. /belaru(s|sian)/",
            )
        self._emit("REGEX", pattern, start, j + 1)

    def _word(self) -> None:
        start = self.i
        field_match = _FIELD_RE.match(self.q, start)
        if field_match:
            name = field_match.group(1).lower()
            if name not in FIELDS and self.q.startswith("//", field_match.end()):
                # A pasted link such as https://example.org is a word, not a field.
                field_match = None
        if field_match:
            if name not in FIELDS:
                raise _fail(
                    start + 1,
                    f"unknown field {field_match.group(1)}:",
                    "one of title:, text:, source:, url:, author:",
                )
            self._emit("FIELD", name, start, field_match.end())
            return
        j = start
        while j < len(self.q) and self.q[j] not in _WORD_END:
            j += 1
        word = self.q[start:j]
        kind = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}.get(word, "WORD")
        self._emit(kind, word, start, j)


class _Parser:
    def __init__(self, query: str, settings: RuleSettings, analyzer: Analyzer) -> None:
        self.tokens = _Lexer(query).run()
        self.k = 0
        self.settings = settings
        self.analyzer = analyzer
        self.terms = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.k]

    def take(self) -> _Token:
        tok = self.tokens[self.k]
        self.k += 1
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "EOF":
            raise _fail(1, "the rule is empty", "a word to watch for, e.g. Belarus")
        node = self.parse_or()
        tok = self.peek()
        if tok.kind == "RPAREN":
            raise _fail(tok.column, "this ) has no matching (", "a ( before it, or remove it")
        assert tok.kind == "EOF", tok
        return node

    def parse_or(self, group: str | None = None) -> Node:
        children = [self.parse_and(group)]
        while self.peek().kind == "OR":
            op = self.take()
            self._need_operand(op)
            children.append(self.parse_and(group))
        return children[0] if len(children) == 1 else Or(tuple(_flatten(Or, children)))

    def parse_and(self, group: str | None) -> Node:
        children = [self.parse_unary(group)]
        while True:
            tok = self.peek()
            if tok.kind == "AND":
                self.take()
                self._need_operand(tok)
            elif tok.kind not in (
                "WORD",
                "PHRASE",
                "REGEX",
                "FIELD",
                "LPAREN",
                "NOT",
                "MINUS",
                "PLUS",
            ):
                break
            children.append(self.parse_unary(group))
        return children[0] if len(children) == 1 else And(tuple(_flatten(And, children)))

    def parse_unary(self, group: str | None) -> Node:
        tok = self.peek()
        if tok.kind in ("NOT", "MINUS", "PLUS"):
            self.take()
            self._need_operand(tok)
            self._enter(tok)
            child = self.parse_unary(group)
            self.depth -= 1
            return child if tok.kind == "PLUS" else Not(child)
        return self.parse_primary(group)

    def _enter(self, tok: _Token) -> None:
        """Counts one more level of ( ) or NOT, refusing too many."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(
                tok.column,
                f"the rule nests ( ) and NOT more than {MAX_DEPTH} levels deep",
                "fewer levels of ( ) or NOT",
            )

    def _need_operand(self, op: _Token) -> None:
        """Refuses an operator, field or ( followed by nothing it can apply to.

        The column is the next token's, or at the end of the rule the operator's own,
        so it always points into the rule.
        """
        nxt = self.peek()
        if nxt.kind in ("EOF", "RPAREN", "AND", "OR"):
            name = op.text if op.kind != "FIELD" else f"{op.text}:"
            if nxt.kind == "EOF":
                raise _fail(
                    op.column, f"the rule ends right after {name}", f"{_OPERAND} after {name}"
                )
            raise _fail(nxt.column, f"{name} has nothing after it", f"{_OPERAND} after {name}")

    def parse_primary(self, group: str | None) -> Node:
        tok = self.take()
        if tok.kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise _fail(self.peek().column, "the parentheses are empty", "a word inside ( )")
            self._need_operand(tok)
            self._enter(tok)
            node = self.parse_or(group)
            self.depth -= 1
            close = self.peek()
            if close.kind != "RPAREN":
                where = "at the end" if close.kind == "EOF" else f"before column {close.column}"
                raise _fail(tok.column, "this ( is never closed", f"a ) to close it, {where}")
            self.take()
            return node
        if tok.kind == "FIELD":
            if group is not None:
                raise _fail(
                    tok.column,
                    f"{tok.text}: is inside another field",
                    "a field only at the top, e.g. title:(a OR b)",
                )
            self._need_operand(tok)
            if self.peek().kind in ("NOT", "MINUS", "PLUS", "FIELD"):
                nxt = self.peek()
                raise _fail(
                    nxt.column,
                    f"{tok.text}: cannot be followed by {nxt.raw}"
                    + (" (fields do not combine)" if nxt.kind == "FIELD" else ""),
                    f"{_OPERAND} right after {tok.text}:",
                )
            return self.parse_primary(tok.text)
        if tok.kind == "WORD":
            return self._word_leaf(tok, group)
        if tok.kind == "PHRASE":
            return self._phrase_leaf(tok, group)
        if tok.kind == "REGEX":
            return self._regex_leaf(tok, group)
        if tok.kind == "RPAREN":
            raise _fail(tok.column, "this ) has no matching (", "a ( before it, or remove it")
        if tok.kind == "EOF":  # pragma: no cover - every operator checks what follows it
            raise _fail(max(1, tok.column - 1), "the rule ends too early", _OPERAND)
        # An operator where an operand should be: AND/OR at the start or twice in a row.
        raise _fail(
            tok.column, f"{tok.text} has nothing before it", f"{_OPERAND} before {tok.text}"
        )

    def _count(self, n: int, column: int) -> None:
        self.terms += n
        if self.terms > self.settings.max_terms:
            raise _fail(
                column, f"the rule has more than {self.settings.max_terms} terms", "a shorter rule"
            )

    def _label(self, tok: _Token, group: str | None) -> str:
        return f"{group}:{tok.raw}" if group else tok.raw

    def _word_leaf(self, tok: _Token, group: str | None) -> Leaf:
        word = tok.text
        if "~" in word:
            col = tok.column + word.index("~")
            raise _fail(
                col,
                "~ (proximity) only works after a quoted phrase",
                'a phrase in quotes, e.g. "prisoner release"~5',
            )
        star = word.find("*")
        if star >= 0:
            if star != len(word) - 1:
                raise _fail(
                    tok.column + star,
                    "* is only allowed at the end of a word",
                    "a prefix such as sanction*",
                )
            stem = visible(word[:-1])[0]
            if stem and not _PREFIX_WORD_RE.fullmatch(stem):
                raise _fail(
                    tok.column,
                    f"{word} is not a plain word before *",
                    "letters or digits before *, e.g. sanction*",
                )
            prefix = self.analyzer.fold(stem)
            if len(prefix) < self.settings.min_prefix:
                raise _fail(
                    tok.column,
                    f"the prefix {word} is too short",
                    f"at least {self.settings.min_prefix} letters before *, e.g. sanc*",
                )
            self._count(1, tok.column)
            return Leaf("prefix", group or BODY, self._label(tok, group), tok.column, text=prefix)
        slots = self.analyzer.query_slots(word)
        if not slots:
            raise _fail(
                tok.column,
                f"{word} has no letters or digits to search for",
                "a word with letters or digits",
            )
        self._count(len(slots), tok.column)
        return Leaf("phrase", group or BODY, self._label(tok, group), tok.column, tuple(slots))

    def _phrase_leaf(self, tok: _Token, group: str | None) -> Leaf:
        if "*" in tok.text:
            col = tok.column + 1 + tok.text.index("*")
            raise _fail(
                col,
                "* does not work inside a phrase",
                "plain words in a phrase, or a prefix outside quotes",
            )
        slots = self.analyzer.query_slots(tok.text)
        if not slots:
            raise _fail(
                tok.column,
                "the phrase has no words",
                'words between the quotes, e.g. "prisoner release"',
            )
        self._count(len(slots), tok.column)
        # A one-word "phrase"~N is just that word.
        slop = tok.slop if len(slots) > 1 else None
        return Leaf(
            "phrase", group or BODY, self._label(tok, group), tok.column, tuple(slots), slop
        )

    def _regex_leaf(self, tok: _Token, group: str | None) -> Leaf:
        try:
            re2.compile(tok.text, re2_options())
        except re2.error as exc:
            detail = (
                exc.args[0].decode("utf-8", "replace")
                if exc.args and isinstance(exc.args[0], bytes)
                else str(exc)
            )
            # RE2 quotes the pattern's tail, whose spaces would read as a gap in the message.
            detail = " ".join(detail.split())
            raise _fail(
                tok.column,
                f"invalid regular expression ({detail})",
                "a valid pattern, e.g. /belaru(s|sian)/",
            ) from exc
        self._count(1, tok.column)
        return Leaf("regex", group or BODY, self._label(tok, group), tok.column, text=tok.text)


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> list[Node]:
    out: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            out.extend(child.children)
        else:
            out.append(child)
    return out


def parse(query: str, settings: RuleSettings, analyzer: Analyzer) -> Node:
    """Parses a watch rule.

    Args:
        query: The rule as the user typed it.
        settings: Limits to enforce.
        analyzer: Analyzer whose stems the leaves will hold.

    Returns:
        The syntax tree.

    Raises:
        RuleSyntaxError: With the 1-based column and what was expected there.
    """
    if len(query) > settings.max_length:
        raise _fail(
            settings.max_length + 1,
            f"the rule is {len(query)} characters long, the limit is {settings.max_length}",
            "a shorter rule",
        )
    return _Parser(query, settings, analyzer).parse()
