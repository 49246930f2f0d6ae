"""Rules across scripts: a rule in Latin letters finds the word written in Cyrillic or
Greek, and the reverse; look-alike letters of another script do not."""

from __future__ import annotations

import pytest

from bot.rules import Document, RuleIndex, RuleSettings, compile_rule

# (rule, story title, the word the highlight must cover, as the story writes it)
ACROSS = [
    ("Lukashenko", "Лукашенко отклонил призыв", "Лукашенко"),  # Russian
    ("Belarus", "Беларусь готовит ответ", "Беларусь"),  # the soft sign is no word break
    ('"Belarus leader"', "Belarus' leader speaks", "Belarus' leader"),
    ("Zelensk*", "Зеленський зустрівся з лідерами", "Зеленський"),  # Ukrainian
    ("Ukraine OR Ukraina", "Україна отримала допомогу", "Україна"),
    ("Lukashenka", "Лукашэнка сустрэўся з паслом", "Лукашэнка"),  # Belarusian
    ("Beograd", "Београд је главни град", "Београд"),  # Serbian Cyrillic
    ("Djokovic", "Ђоковић освојио турнир", "Ђоковић"),
    ("Đoković", "Novak Djokovic wins", "Djokovic"),  # Latin đ reads as dj
    ("Tsipras", "Ο Τσίπρας μίλησε", "Τσίπρας"),  # Greek
    ("Ελλάδα", "Greece, or Ellada, votes", "Ellada"),
    ("Лукашенко", "Lukashenko dampens hopes", "Lukashenko"),  # a rule in Cyrillic
    ("Лукашенко", "Лукашенко отклонил призыв", "Лукашенко"),
    ("/lukashenko/", "Лукашенко отклонил призыв", "Лукашенко"),  # a regex
]


@pytest.mark.parametrize(("query", "title", "word"), ACROSS, ids=[a[1] for a in ACROSS])
def test_a_rule_finds_its_word_in_another_script(query: str, title: str, word: str) -> None:
    rule = compile_rule(query)
    doc = Document(title=title)
    found = rule.match(doc, rule_id=1)
    assert found is not None
    start = title.index(word)
    assert found.spans == {"title": [(start, start + len(word))]}  # as written
    index = RuleIndex()
    index.add(1, rule)
    assert index.match(doc) == [found]


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("papa", "РАРА"),  # Cyrillic Р is R
        ("cop", "сор"),  # Cyrillic с, о, р: "sor"
        ("hepa", "НЕРА"),  # Cyrillic Н is N
        ("xop", "хор"),  # Cyrillic х is kh
        ("bet", "вет"),  # Cyrillic в is v
        ("nike", "Νίκη"),  # Greek η is i
        ("eta", "ΗΤΑ"),
        ("Lukashenko", "Лукашевич"),
    ],
)
def test_look_alike_letters_of_another_script_do_not_match(query: str, title: str) -> None:
    assert compile_rule(query).match(Document(title=title)) is None


def test_a_language_with_its_own_script_keeps_its_own_stems() -> None:
    """With rules.language russian, Cyrillic is stemmed as Russian, not transliterated."""
    russian = RuleSettings(language="russian")
    rule = compile_rule("Лукашенко", russian)
    assert rule.match(Document(title="Визит Лукашенка в Москву")) is not None
    assert rule.match(Document(title="Lukashenko")) is None
