"""The table's side of silencing echoes (bridge/store/product_events.py): one conditional write decides."""

from __future__ import annotations

import threading

from bridge.store import product_events
from bridge.store.product_events import WINDOW, is_new
from tests.unit.orders.conftest import atomic_writes, table  # noqa: F401  (fixtures)


def test_the_same_catalog_is_new_once_a_window_and_a_change_always(table: str, atomic_writes: None) -> None:  # noqa: F811
    assert is_new("s1", 8, "a", now=1000)
    assert not is_new("s1", 8, "a", now=1001)
    assert not is_new("s1", 8, "a", now=1000 + WINDOW - 1)  # the window counts from the accepted one
    assert is_new("s1", 8, "a", now=1000 + WINDOW)
    assert is_new("s1", 8, "b", now=1000 + WINDOW + 1)
    assert is_new("s1", 8, "a", now=1000 + WINDOW + 2)  # back to an earlier catalog: a change too
    assert is_new("s1", 9, "a", now=1000 + WINDOW + 2) and is_new("s2", 8, "a", now=1000 + WINDOW + 2)


def test_of_copies_arriving_together_exactly_one_is_new(table: str, atomic_writes: None) -> None:  # noqa: F811
    answers: list[bool] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        answers.append(product_events.is_new("s1", 8, "same", now=5000))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 7 + [True]


def test_a_catalog_let_go_is_new_again_but_only_the_one_recorded(table: str, atomic_writes: None) -> None:  # noqa: F811
    """An event whose queueing failed lets its catalog go, so Jumpseller's retry of it is queued."""
    assert is_new("s1", 8, "a", now=1000)
    product_events.let_go("s1", 8, "a")
    assert is_new("s1", 8, "a", now=1001)
    assert is_new("s1", 8, "b", now=1002)
    product_events.let_go("s1", 8, "a")  # another event's catalog was recorded since: it stays
    assert not is_new("s1", 8, "b", now=1003)
