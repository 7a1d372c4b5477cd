from __future__ import annotations

import asyncio

from atende.kit.notify import MemoryNotifier


async def test_that_publish_moves_the_version() -> None:
    notifier = MemoryNotifier()
    before = notifier.version()

    await notifier.publish("conversation:1")
    await notifier.publish("conversation:2")

    assert notifier.version() == before + 2


async def test_that_wait_change_returns_true_at_once_when_the_version_already_moved() -> None:
    notifier = MemoryNotifier()
    since = notifier.version()
    await notifier.publish("conversation:1")

    # A long timeout under a short guard: waiting at all would fail the test.
    async with asyncio.timeout(5):
        assert await notifier.wait_change(since, timeout=60)


async def test_that_wait_change_returns_false_on_timeout_when_nothing_happened() -> None:
    notifier = MemoryNotifier()
    await notifier.publish("conversation:1")

    assert not await notifier.wait_change(notifier.version(), timeout=0.01)


async def test_that_a_concurrent_publish_wakes_a_waiter() -> None:
    notifier = MemoryNotifier()
    since = notifier.version()

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        # Tasks start in creation order: the waiter is waiting before the publisher runs.
        waiter = group.create_task(notifier.wait_change(since, timeout=60))
        group.create_task(notifier.publish("conversation:1"))

    assert waiter.result() is True


async def test_that_one_publish_wakes_every_waiter() -> None:
    notifier = MemoryNotifier()
    since = notifier.version()

    async with asyncio.timeout(5), asyncio.TaskGroup() as group:
        waiters = [group.create_task(notifier.wait_change(since, timeout=60)) for _ in range(3)]
        group.create_task(notifier.publish("conversation:1"))

    assert [w.result() for w in waiters] == [True, True, True]


async def test_that_wait_change_only_counts_publishes_after_since() -> None:
    notifier = MemoryNotifier()
    await notifier.publish("a")
    since = notifier.version()

    assert not await notifier.wait_change(since, timeout=0.01)
    await notifier.publish("b")
    assert await notifier.wait_change(since, timeout=0.01)
