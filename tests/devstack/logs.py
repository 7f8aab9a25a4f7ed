"""Reading what fixture functions logged (their stdout, as CloudWatch would have it): one JSON object a line."""

from __future__ import annotations

import json
from typing import Any

from devstack import LocalStack


def logged(stack: LocalStack, function: str, key: str | None = None) -> list[Any]:
    """The JSON lines ``function`` printed (those with ``key``: that key's values), oldest first."""
    found: list[Any] = []
    for stream, line in list(stack.function(function).logs):
        if stream != "stdout" or not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if key is None:
            found.append(entry)
        elif key in entry:
            found.append(entry[key])
    return found
