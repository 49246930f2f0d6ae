"""Buttons under alerts: what a press asks for, as a value, and its compact data.

A button carries ``nb:<verb>[:<id>]`` (at most 64 bytes: Telegram's callback_data
limit). Rules are named by their database id, never by their position in ``rules``,
which shifts when an earlier rule is removed. Parsing is pure; the command service acts
(:meth:`~bot.commands.service.CommandService.act`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.commands import messages as msg
from bot.i18n import tr

PREFIX = "nb"
DATA_LIMIT = 64  # bytes of Telegram callback_data


class Verb(StrEnum):
    """What a button does."""

    MUTE = "mute"  # mute the alert's rule for a day
    STOP = "stop"  # ask whether to stop the rule
    STOP_YES = "stopyes"  # the answer: stop it (unwatch)
    STOP_NO = "stopno"  # the answer: keep it
    MORE = "more"  # the longer summary and matched words of an alert
    MUTE_ALL = "muteall"  # a digest's: mute the whole chat for a day

    @property
    def changes(self) -> bool:
        """Whether pressing it changes the chat (only editors may, in groups)."""
        return self is not Verb.MORE  # even "keep it": it answers an editor's question

    @property
    def label(self) -> str:
        return tr(msg.BUTTON_LABELS[self.value])


@dataclass(frozen=True, slots=True)
class Action:
    """One button: the verb and the id it acts on (a rule's, or an alert's for MORE)."""

    verb: Verb
    target: int | None = None

    @property
    def data(self) -> str:
        """The button's payload, e.g. ``nb:mute:42``."""
        return PREFIX + ":" + self.verb.value + ("" if self.target is None else f":{self.target}")

    @property
    def label(self) -> str:
        return self.verb.label


def parse_action(data: str | None) -> Action | None:
    """The action of a button's data; None when it is not one of ours or malformed."""
    if not data or len(data.encode()) > DATA_LIMIT:
        return None
    parts = data.split(":")
    if len(parts) not in (2, 3) or parts[0] != PREFIX:
        return None
    try:
        verb = Verb(parts[1])
    except ValueError:
        return None
    if len(parts) == 2:
        return Action(verb) if verb is Verb.MUTE_ALL else None
    if verb is Verb.MUTE_ALL or not parts[2].isdigit() or len(parts[2]) > 19:
        return None
    return Action(verb, int(parts[2]))


def alert_actions(rule_id: int | None, alert_id: int | None) -> list[Action]:
    """The buttons under one alert: mute and stop its rule, show more of the story.
    A rule-less alert (its rule gone before it was queued) has only "Show more"."""
    actions = []
    if rule_id is not None:
        actions += [Action(Verb.MUTE, rule_id), Action(Verb.STOP, rule_id)]
    if alert_id is not None:
        actions.append(Action(Verb.MORE, alert_id))
    return actions


DIGEST_ACTIONS = [Action(Verb.MUTE_ALL)]
