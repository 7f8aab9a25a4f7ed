"""Pages read ahead, each series in its own thread, while the caller works on the pages already read.

A bulk job's calls are paced by the shop's quota (bridge.store.rate); read one after the other with the work in
between, the calls wait for the work, and the work for the calls. A reader calls back to back, at most `ahead`
pages before the caller, so its calls leave at the quota's pace; two series (two APIs) are read side by side.

Every page read is handed over, in order: `stop` lets the page being read finish and reads no more, so a job
that checkpoints what it took after draining the readers never reads a page twice. A reader's error is raised
in the caller once the pages read before it are taken. Leaving the `with` block stops and joins every reader.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Series(Generic[T]):
    pages: Iterator[T]
    ahead: int
    waiting: deque[T] = field(default_factory=deque)
    error: BaseException | None = None
    ended: bool = False
    thread: threading.Thread | None = None


class ReadAhead(Generic[T]):
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._series: dict[str, _Series[T]] = {}
        self._stopping = False

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self, name: str, pages: Iterable[T], ahead: int) -> None:
        """Read `pages` in a thread, at most `ahead` pages before the caller takes them."""
        series: _Series[T] = _Series(iter(pages), max(1, ahead))
        # The thread runs in a copy of the caller's context: the invocation's deadline (calls_end_by) goes along.
        series.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._read, series),
                                         name=f"read-ahead {name}", daemon=True)
        self._series[name] = series
        series.thread.start()

    def _read(self, series: _Series[T]) -> None:
        try:
            while True:
                with self._changed:
                    while len(series.waiting) >= series.ahead and not self._stopping:
                        self._changed.wait()
                    if self._stopping:
                        return
                try:
                    page = next(series.pages)
                except StopIteration:
                    return
                with self._changed:
                    series.waiting.append(page)
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the caller, raised there
            series.error = exc
        finally:
            with self._changed:
                series.ended = True
                self._changed.notify_all()

    def take(self, names: list[str], wait: bool = True) -> tuple[str, T] | None:
        """The next page of the first of `names` that has one: (name, page).

        None when every one of them is over (or, without `wait`, when none has a page ready). A series whose
        reader failed raises its error once its pages read before are taken.
        """
        with self._changed:
            while True:
                over = True
                for name in names:
                    series = self._series.get(name)
                    if series is None:
                        continue
                    if series.waiting:
                        page = series.waiting.popleft()
                        self._changed.notify_all()
                        return name, page
                    if series.error is not None:
                        error, series.error = series.error, None
                        raise error
                    over = over and series.ended
                if over or not wait:
                    return None
                self._changed.wait()

    def stop(self) -> None:
        """Read no more pages: each reader finishes the page it is reading (still handed over by `take`)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def close(self) -> None:
        """Stop and join every reader (a page being read is waited for); pages not taken are dropped."""
        self.stop()
        for series in self._series.values():
            if series.thread is not None:
                series.thread.join()
