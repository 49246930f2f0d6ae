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

from bot.i18n import Text
from bot.rules import messages as msg
from bot.rules.analysis import Analyzer, visible
from bot.rules.document import BODY, FIELDS
from bot.rules.settings import RuleSettings, RuleSyntaxError

Slot = tuple[tuple[str, ...], ...]

MAX_SLOP = 100
MAX_DEPTH = 32
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


def _fail(column: int, problem: Text, expected: Text) -> RuleSyntaxError:
    return RuleSyntaxError(column, problem, expected)


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
                    Text(msg.SIGN_ALONE, sign=ch),
                    Text(msg.EXPECT_SIGNED_WORD, sign=ch),
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
            raise _fail(start + 1, Text(msg.QUOTE_OPEN), Text(msg.EXPECT_CLOSING_QUOTE))
        end = close + 1
        slop = None
        if self.q.startswith("~", end):
            digits = re.match(r"\d+", self.q[end + 1 :])
            if not digits:
                raise _fail(
                    end + 2 if end + 1 < len(self.q) else end + 1,
                    Text(msg.SLOP_NUMBER),
                    Text(msg.EXPECT_SLOP),
                )
            slop = int(digits.group())
            if slop > MAX_SLOP:
                raise _fail(
                    end + 2,
                    Text(msg.SLOP_TOO_FAR, slop=slop),
                    Text(msg.EXPECT_SLOP_RANGE, limit=MAX_SLOP),
                )
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
                Text(msg.REGEX_OPEN),
                Text(msg.EXPECT_CLOSING_SLASH),
            )
        pattern = self.q[start + 1 : j].replace("\\/", "/")
        if not pattern:
            raise _fail(
                start + 1,
                Text(msg.REGEX_EMPTY),
                Text(msg.EXPECT_PATTERN),
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
                    Text(msg.UNKNOWN_FIELD, field=field_match.group(1)),
                    Text(msg.EXPECT_FIELD),
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
            raise _fail(1, Text(msg.EMPTY), Text(msg.EXPECT_WORD))
        node = self.parse_or()
        tok = self.peek()
        if tok.kind == "RPAREN":
            raise _fail(tok.column, Text(msg.PAREN_UNMATCHED), Text(msg.EXPECT_OPENING))
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
                Text(msg.TOO_DEEP, count=MAX_DEPTH),
                Text(msg.EXPECT_FEWER_LEVELS),
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
                    op.column,
                    Text(msg.ENDS_AFTER, name=name),
                    Text(msg.EXPECT_OPERAND_AFTER, name=name),
                )
            raise _fail(
                nxt.column,
                Text(msg.NOTHING_AFTER, name=name),
                Text(msg.EXPECT_OPERAND_AFTER, name=name),
            )

    def parse_primary(self, group: str | None) -> Node:
        tok = self.take()
        if tok.kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise _fail(
                    self.peek().column, Text(msg.PARENS_EMPTY), Text(msg.EXPECT_WORD_INSIDE)
                )
            self._need_operand(tok)
            self._enter(tok)
            node = self.parse_or(group)
            self.depth -= 1
            close = self.peek()
            if close.kind != "RPAREN":
                where = (
                    Text(msg.EXPECT_CLOSING_AT_END)
                    if close.kind == "EOF"
                    else Text(msg.EXPECT_CLOSING_BEFORE, column=close.column)
                )
                raise _fail(tok.column, Text(msg.PAREN_OPEN), where)
            self.take()
            return node
        if tok.kind == "FIELD":
            if group is not None:
                raise _fail(
                    tok.column,
                    Text(msg.FIELD_NESTED, field=tok.text),
                    Text(msg.EXPECT_TOP_FIELD),
                )
            self._need_operand(tok)
            if self.peek().kind in ("NOT", "MINUS", "PLUS", "FIELD"):
                nxt = self.peek()
                raise _fail(
                    nxt.column,
                    Text(
                        msg.FIELD_FOLLOWED_BY_FIELD if nxt.kind == "FIELD" else msg.FIELD_FOLLOWED,
                        field=tok.text,
                        next=nxt.raw,
                    ),
                    Text(msg.EXPECT_OPERAND_RIGHT_AFTER, field=tok.text),
                )
            return self.parse_primary(tok.text)
        if tok.kind == "WORD":
            return self._word_leaf(tok, group)
        if tok.kind == "PHRASE":
            return self._phrase_leaf(tok, group)
        if tok.kind == "REGEX":
            return self._regex_leaf(tok, group)
        if tok.kind == "RPAREN":
            raise _fail(tok.column, Text(msg.PAREN_UNMATCHED), Text(msg.EXPECT_OPENING))
        if tok.kind == "EOF":  # pragma: no cover - every operator checks what follows it
            raise _fail(max(1, tok.column - 1), Text(msg.ENDS_EARLY), Text(msg.EXPECT_OPERAND))
        # An operator where an operand should be: AND/OR at the start or twice in a row.
        raise _fail(
            tok.column,
            Text(msg.NOTHING_BEFORE, name=tok.text),
            Text(msg.EXPECT_OPERAND_BEFORE, name=tok.text),
        )

    def _count(self, n: int, column: int) -> None:
        self.terms += n
        if self.terms > self.settings.max_terms:
            raise _fail(
                column,
                Text(msg.TOO_MANY_TERMS, count=self.settings.max_terms),
                Text(msg.EXPECT_SHORTER),
            )

    def _label(self, tok: _Token, group: str | None) -> str:
        return f"{group}:{tok.raw}" if group else tok.raw

    def _word_leaf(self, tok: _Token, group: str | None) -> Leaf:
        word = tok.text
        if "~" in word:
            col = tok.column + word.index("~")
            raise _fail(
                col,
                Text(msg.PROXIMITY_ALONE),
                Text(msg.EXPECT_PHRASE),
            )
        star = word.find("*")
        if star >= 0:
            if star != len(word) - 1:
                raise _fail(
                    tok.column + star,
                    Text(msg.STAR_INSIDE),
                    Text(msg.EXPECT_PREFIX),
                )
            stem = visible(word[:-1])[0]
            if stem and not _PREFIX_WORD_RE.fullmatch(stem):
                raise _fail(
                    tok.column,
                    Text(msg.PREFIX_NOT_PLAIN, word=word),
                    Text(msg.EXPECT_PREFIX_LETTERS),
                )
            prefix = self.analyzer.fold(stem)
            if len(prefix) < self.settings.min_prefix:
                raise _fail(
                    tok.column,
                    Text(msg.PREFIX_TOO_SHORT, word=word),
                    Text(msg.EXPECT_PREFIX_LENGTH, count=self.settings.min_prefix),
                )
            self._count(1, tok.column)
            return Leaf("prefix", group or BODY, self._label(tok, group), tok.column, text=prefix)
        slots = self.analyzer.query_slots(word)
        if not slots:
            raise _fail(
                tok.column,
                Text(msg.NO_LETTERS, word=word),
                Text(msg.EXPECT_LETTERS),
            )
        self._count(len(slots), tok.column)
        return Leaf("phrase", group or BODY, self._label(tok, group), tok.column, tuple(slots))

    def _phrase_leaf(self, tok: _Token, group: str | None) -> Leaf:
        if "*" in tok.text:
            col = tok.column + 1 + tok.text.index("*")
            raise _fail(
                col,
                Text(msg.STAR_IN_PHRASE),
                Text(msg.EXPECT_PLAIN_WORDS),
            )
        slots = self.analyzer.query_slots(tok.text)
        if not slots:
            raise _fail(
                tok.column,
                Text(msg.PHRASE_EMPTY),
                Text(msg.EXPECT_PHRASE_WORDS),
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
                Text(msg.REGEX_INVALID, detail=detail),
                Text(msg.EXPECT_VALID_REGEX),
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
            Text(msg.TOO_LONG, count=len(query), limit=settings.max_length),
            Text(msg.EXPECT_SHORTER),
        )
    return _Parser(query, settings, analyzer).parse()
