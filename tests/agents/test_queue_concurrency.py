"""Concurrent pollers against the real claim statement (PostgreSQL's SKIP LOCKED).

Each poller runs in its own thread with its own database connection, so the rows it
sees must be committed: hence `TransactionTestCase`. Threads start together on a
barrier; nothing here waits on a clock, so the outcome does not depend on timing.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import factory
import pytest
from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase
from django.utils import timezone

from agents.models import Agent, Command, CommandPriority, CommandStatus, CommandType
from agents.queue import (
    QueueError,
    command_acknowledge,
    command_complete,
    held_work_count,
    lease_commands,
)
from tests.factories import AgentFactory, CommandFactory, TenantFactory

AGENTS = 8
SLOTS = 5
COMMANDS = 1_000
POLL_LIMIT = 10
JOIN_TIMEOUT = 120  # seconds; a hung poller fails the test instead of hanging the run


@dataclass
class Poll:
    """What one poll saw: the free slots before it, the batch, and the holding after."""

    free_before: int
    batch: list[tuple[int, datetime, object]]  # (priority, created_at, id), in served order
    held_after: int


@dataclass
class Poller:
    agent_id: object
    polls: list[Poll] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # acks or completions the queue refused
    error: BaseException | None = None


def _run_in_threads(pollers: list[Poller], body) -> None:
    """Run `body(poller, agent)` in one thread per poller, all released at once.

    Each thread loads its own Agent and closes its own connection at the end; the first
    error aborts the barrier so the other threads cannot wait forever."""
    barrier = threading.Barrier(len(pollers), timeout=JOIN_TIMEOUT)

    def thread_main(poller: Poller) -> None:
        try:
            agent = Agent.objects.select_related("tenant").get(pk=poller.agent_id)
            barrier.wait()
            body(poller, agent)
        except BaseException as exc:  # reported by the main thread
            poller.error = exc
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=thread_main, args=(p,), daemon=True) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"pollers did not finish within {JOIN_TIMEOUT} s: {stuck}"
    errors = [p.error for p in pollers if p.error is not None]
    # A broken barrier is only the echo of the first real error.
    errors.sort(key=lambda e: isinstance(e, threading.BrokenBarrierError))
    if errors:
        raise errors[0]


def _finish(poller: Poller, agent: Agent, command_ids: list) -> None:
    """Acknowledge and complete, noting refusals (a command delivered twice is refused to
    one of its holders) so the test reports the duplicate, not the refusal."""
    for command_id in command_ids:
        try:
            command_acknowledge(agent=agent, command_id=command_id)
            command_complete(agent=agent, command_id=command_id, result={"ok": True})
        except QueueError as exc:
            poller.refused.append(f"{command_id}: {exc.code}")


def _poll(agent: Agent, *, now: datetime | None = None) -> Poll:
    at = now or timezone.now()
    free_before = agent.max_concurrent_jobs - held_work_count(agent, at)
    batch = lease_commands(agent=agent, limit=POLL_LIMIT, now=now)
    held_after = held_work_count(agent, now or timezone.now())
    return Poll(
        free_before=free_before,
        batch=[(c.priority, c.created_at, c.pk) for c in batch],
        held_after=held_after,
    )


@pytest.mark.postgres
class ConcurrentPollers(TransactionTestCase):
    def setUp(self):
        tenant = TenantFactory()
        self.agents = [
            AgentFactory(tenant=tenant, name=f"poller-{i}", max_concurrent_jobs=SLOTS)
            for i in range(AGENTS)
        ]
        # Mixed priorities, each level interleaved with the others, and strictly
        # increasing creation times so the expected order is a total one.
        rng = random.Random(20261126)
        commands = CommandFactory.create_batch(
            COMMANDS,
            tenant=tenant,
            type=CommandType.SCAN,
            priority=factory.Iterator(
                [rng.choice(CommandPriority.values) for _ in range(COMMANDS)]
            ),
        )
        # created_at is auto_now_add: set it afterwards (bulk_update leaves it alone).
        start = timezone.now() - timedelta(hours=1)
        for i, command in enumerate(commands):
            command.created_at = start + timedelta(milliseconds=i)
        Command.objects.bulk_update(commands, ["created_at"], batch_size=500)
        self.command_ids = {c.pk for c in commands}
        self.assertEqual(
            set(Command.objects.values_list("priority", flat=True)), set(CommandPriority.values)
        )

    def pollers(self) -> list[Poller]:
        return [Poller(agent_id=agent.pk) for agent in self.agents]

    def delivered(self, pollers: list[Poller]) -> Counter:
        return Counter(item[2] for p in pollers for poll in p.polls for item in poll.batch)

    def assert_batches_fit_free_slots(self, pollers: list[Poller]) -> None:
        for poller in pollers:
            for poll in poller.polls:
                self.assertLessEqual(len(poll.batch), max(poll.free_before, 0))
                # Only this poller's thread changes what its agent holds.
                self.assertEqual(poll.held_after, SLOTS - poll.free_before + len(poll.batch))
                self.assertLessEqual(poll.held_after, SLOTS)

    def test_every_command_is_delivered_once_in_priority_order_within_free_slots(self):
        def work(poller: Poller, agent: Agent) -> None:
            held: list = []
            for round_ in range(COMMANDS):  # a bound, not a schedule: the loop breaks
                poll = _poll(agent)
                poller.polls.append(poll)
                held += [item[2] for item in poll.batch]
                if not poll.batch and poll.free_before > 0:
                    # No unlocked pending row is left: what others locked, they lease.
                    break
                # Finish all but a few, so the free slots vary from poll to poll.
                keep = round_ % 3 if len(held) > round_ % 3 else 0
                finished, held = held[: len(held) - keep], held[len(held) - keep :]
                _finish(poller, agent, finished)
            _finish(poller, agent, held)

        pollers = self.pollers()
        _run_in_threads(pollers, work)

        delivered = self.delivered(pollers)
        self.assertEqual([i for i, n in delivered.items() if n > 1], [], "delivered twice")
        self.assertEqual(self.command_ids - set(delivered), set(), "never delivered")
        self.assertEqual(set(delivered), self.command_ids)
        self.assertEqual([r for p in pollers for r in p.refused], [])
        self.assertEqual(
            Command.objects.filter(status=CommandStatus.COMPLETED, attempts=1).count(), COMMANDS
        )
        # Several pollers shared the work (the barrier released them together).
        self.assertGreater(sum(1 for p in pollers if any(poll.batch for poll in p.polls)), 1)

        for poller in pollers:
            for poll in poller.polls:
                served = [(-priority, created) for priority, created, _ in poll.batch]
                self.assertEqual(served, sorted(served), "a batch is not most urgent first")
            received = [item[0] for poll in poller.polls for item in poll.batch]
            self.assertEqual(
                received, sorted(received, reverse=True), "a poller saw priorities go up"
            )
        self.assert_batches_fit_free_slots(pollers)

    def test_unfinished_work_is_capped_by_slots_and_leased_again_after_the_ack_timeout(self):
        def fill_slots(now: datetime | None):
            def work(poller: Poller, agent: Agent) -> None:
                # More polls than needed: once the slots are full, polls get nothing.
                for _ in range(3):
                    poller.polls.append(_poll(agent, now=now))

            return work

        first = self.pollers()
        _run_in_threads(first, fill_slots(None))

        slots = AGENTS * SLOTS
        first_ids = self.delivered(first)
        self.assertEqual(max(first_ids.values()), 1, "delivered twice")
        # Nothing is ever released here, so the final count is the highest one.
        self.assertEqual(len(first_ids), slots)
        now = timezone.now()
        self.assertEqual(Command.objects.filter(lease_expires_at__gte=now).count(), slots)
        for agent in self.agents:
            self.assertEqual(held_work_count(agent, now), SLOTS)
        self.assert_batches_fit_free_slots(first)
        # The pollers took the most urgent commands there are.
        most_urgent = Command.objects.order_by("-priority", "created_at")[:slots]
        self.assertEqual(set(first_ids), {c.pk for c in most_urgent})

        # Nobody acknowledged: past the ack timeout the leases lapse, the slots are free
        # again and the same commands go out a second time (at-least-once delivery).
        later = now + timedelta(seconds=settings.COMMAND_ACK_TIMEOUT_SECONDS + 1)
        for agent in self.agents:
            self.assertEqual(held_work_count(agent, later), 0)
        second = self.pollers()
        _run_in_threads(second, fill_slots(later))

        second_ids = self.delivered(second)
        self.assertEqual(max(second_ids.values()), 1, "delivered twice after expiry")
        self.assertEqual(set(second_ids), set(first_ids))
        self.assert_batches_fit_free_slots(second)
        self.assertEqual(Command.objects.filter(lease_expires_at__gte=later).count(), slots)
        self.assertEqual(
            set(Command.objects.filter(attempts=2).values_list("pk", flat=True)), set(first_ids)
        )
        self.assertEqual(Command.objects.filter(attempts=0).count(), COMMANDS - slots)
