"""read_ahead gives the same items in order, produces the next while the caller works, passes an
error on when its item is due and stops the source when the caller leaves early."""

import threading
import time

import pytest

from neurodash.read_ahead import read_ahead


def test_same_items_in_order():
    assert list(read_ahead(iter(range(50)))) == list(range(50))
    assert list(read_ahead([])) == []


def test_the_next_item_is_produced_while_the_caller_works():
    produced = []

    def source():
        for i in range(3):
            produced.append(i)
            yield i

    seen_ahead = []
    for item in read_ahead(source()):
        time.sleep(0.2)  # the caller's work: the next item is read meanwhile
        seen_ahead.append(len(produced) > item + 1 or item == 2)
    assert seen_ahead == [True, True, True]


def test_an_error_arrives_when_its_item_is_due():
    def source():
        yield 1
        raise ValueError("chunk 2 unreadable")

    got = []
    with pytest.raises(ValueError, match="chunk 2"):
        for item in read_ahead(source()):
            got.append(item)
    assert got == [1]


def test_leaving_early_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            for i in range(100):
                yield i
        finally:
            closed.set()

    gen = read_ahead(source())
    assert next(gen) == 0
    gen.close()
    assert closed.wait(2)
