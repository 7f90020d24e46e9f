"""Now, for everything that ages: credit lots expire by this clock.

One clock per process. Tests move it forward to see six months pass in a second; nothing
else does, so in production it is the system's UTC time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def travel(self, by: timedelta) -> None:
        self._offset += by

    def reset(self) -> None:
        self._offset = timedelta(0)


CLOCK = Clock()


def now() -> datetime:
    return CLOCK.now()
