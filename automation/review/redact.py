"""Redaction: every known secret value becomes ``[secret]`` in text about to leave the process (stdout, stderr,
comments, summaries, issues). Standard library only, so every command can afford it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


class Redactor:
    """Replaces every known secret value by ``[secret]`` in text about to leave the process."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return text

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], extra: Iterable[str] = ()) -> Redactor:
        sensitive = re.compile(r"TOKEN|SECRET|PASSWORD|PASSPHRASE|PRIVATE|CREDENTIAL|_KEY$|ACCESS_KEY", re.IGNORECASE)
        return cls([v for k, v in environ.items() if sensitive.search(k)] + list(extra))
