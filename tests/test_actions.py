"""Button data: what a press asks for, parsed from the few bytes a button carries."""

from __future__ import annotations

import pytest

from bot.commands.actions import DATA_LIMIT, Action, Verb, alert_actions, parse_action


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("nb:mute:42", Action(Verb.MUTE, 42)),
        ("nb:stop:7", Action(Verb.STOP, 7)),
        ("nb:stopyes:7", Action(Verb.STOP_YES, 7)),
        ("nb:stopno:7", Action(Verb.STOP_NO, 7)),
        ("nb:more:123456", Action(Verb.MORE, 123456)),
        ("nb:muteall", Action(Verb.MUTE_ALL)),
        ("nb:muteall:3", None),  # mute all names nothing
        ("nb:mute", None),  # a rule button must name its rule
        ("nb:mute:-1", None),
        ("nb:mute:1e3", None),
        ("nb:mute:" + "9" * 40, None),
        ("nb:delete:1", None),  # not a verb of ours
        ("xx:mute:1", None),  # another bot's button
        ("", None),
        (None, None),
        ("nb:mute:1:2", None),
    ],
)
def test_parse_action(data: str | None, expected: Action | None) -> None:
    assert parse_action(data) == expected


def test_data_round_trips_within_telegram_limit() -> None:
    biggest = 2**63 - 1  # a database id cannot be larger
    for verb in Verb:
        action = Action(verb) if verb is Verb.MUTE_ALL else Action(verb, biggest)
        assert len(action.data.encode()) <= DATA_LIMIT
        assert parse_action(action.data) == action


def test_only_show_more_is_open_to_everyone() -> None:
    assert [v for v in Verb if not v.changes] == [Verb.MORE]


def test_alert_actions() -> None:
    assert alert_actions(5, 9) == [Action(Verb.MUTE, 5), Action(Verb.STOP, 5), Action(Verb.MORE, 9)]
    assert alert_actions(None, 9) == [Action(Verb.MORE, 9)]
    assert alert_actions(None, None) == []
