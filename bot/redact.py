"""Secrets kept out of every text newsbot logs, prints or sends to a chat.

Two kinds of secret reach text by accident: the credentials in a URL
(``postgresql://user:password@host/db``, a feed at ``https://user:pass@host/feed``), and the
configured secrets themselves (chat tokens, signing secret, LLM key, database password),
which a server may quote back in an error (Telegram's ``path=/bot123:ABC…/sendMessage``).
:func:`redact_url` handles the first anywhere; a :class:`Redactor` built from the settings
handles both. The logging set-up applies one to every record (:mod:`bot.logs`), the command
service to every reply, the command line to every error it prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"
# A secret shorter than this is not searched for: masking every "abc" in every line would
# hide more than it protects, and no token, key or sensible password is that short.
MIN_SECRET_LENGTH = 6

# scheme://user:password@ — the password part is masked, the user name kept (it tells
# which account was used). The password may not contain "@" unencoded (RFC 3986), but
# people write it anyway: take up to the last "@" before the host's end.
_URL_CREDENTIALS = re.compile(
    r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#:@]*):(?P<password>[^\s/?#]*)@(?=[^\s@/?#]*(?:[/?#\s]|$))"
)


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` masked."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('prefix')}:{MASK}@", text)


class Redactor:
    """Masks known secret values, and URL passwords, in any text.

    Args:
        secrets: the values to mask wherever they appear (as given, and percent-encoded,
            as they appear inside a URL). Empty values and values shorter than
            :data:`MIN_SECRET_LENGTH` are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                variants.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a token is masked whole before a part of it could match.
        ordered = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        """``text`` with every known secret and every URL password replaced by ``***``."""
        text = redact_url(text)
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return text
