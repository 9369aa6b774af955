"""Background jobs on Dramatiq: what must survive a slow or dead peer and be retried later (webhook
deliveries today; mail and scheduled backups can join them).

Why Dramatiq: a small, well-kept job library with retries and exponential backoff built in, on the
brokers this deployment already runs — RabbitMQ (durable queues, acknowledged after the job ends, so
a worker killed mid-job loses nothing) or Redis — shared by any number of web nodes and workers.
procrastinate would tie jobs to PostgreSQL only and Celery brings far more than this needs.

`HAMLET_BROKER_URL` (`amqp://…` or `redis://…`) names the broker; web nodes queue jobs and
`hamlet jobs worker` runs them. Unset (the embedded default), jobs run in-process on a worker thread
over Dramatiq's in-memory broker, so the quick start stays two commands. A job whose state lives in the
database (a webhook delivery) is not queued by the request at all: a periodic task of whichever process
runs the jobs finds it there (`every`), so a web node pays nothing to the broker per submission."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

log = logging.getLogger("hamlet.jobs")


# The least time between two runs of a periodic task that nudges brought forward.
NUDGE_GAP = 0.2


class RetryLater(dramatiq.Retry):
    """Raised by a job that failed in a way worth trying again (a receiver that is down). A dramatiq.Retry,
    so the worker does not log a traceback as an error for each attempt: a dead receiver would otherwise
    write one per delivery every few minutes for a day (its error is on the delivery's row)."""


def _broker(url: str | None):
    if not url:
        return StubBroker()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # No publisher confirms: RabbitMQ confirms a persistent message once it is on disk, ~6 ms per job
        # that the publishing thread would wait (bench/README.md). A webhook job lost before that is not
        # lost: its delivery is handed out again from the table when its lease runs out.
        return RabbitmqBroker(url=url, confirm_delivery=False)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    raise ValueError(f"HAMLET_BROKER_URL must start with amqp://, amqps://, redis:// or rediss://, not {url[:12]!r}")


class Jobs:
    """One app's broker, actors and periodic tasks. In-process mode starts its worker thread on the first
    job queued or task nudged; with a broker, `start_worker` (`hamlet jobs worker`) starts them."""

    def __init__(self, broker_url: str | None, queue: str = "hamlet"):
        self.in_process = not broker_url
        self.broker = _broker(broker_url)
        self.queue = queue
        self.actors: dict[str, dramatiq.Actor] = {}
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()
        self._periodic: list[tuple[float, Callable[[], Any], bool]] = []
        self._nudged = threading.Event()
        self._ticker: tuple[threading.Thread, threading.Event] | None = None  # the thread and its own stop
        # Set on the threads that run jobs and periodic tasks: what they queue never (re)starts the worker,
        # so a job still ending while `stop` waits for it cannot bring the worker back.
        self._own = threading.local()

    def register(self, name: str, fn: Callable[..., Any], **options: Any) -> None:
        def job(*args: Any) -> Any:
            self._own.thread = True
            return fn(*args)

        self.actors[name] = dramatiq.actor(actor_name=name, queue_name=self.queue, broker=self.broker, **options)(job)

    def defer(self, name: str, *args: Any, delay_ms: int | None = None) -> None:
        self._start_in_process()
        self.actors[name].send_with_options(args=args, delay=delay_ms)

    def _start_in_process(self) -> None:
        # The unlocked look first: every submission to a form with webhooks nudges, the worker is nearly
        # always running already, and start_worker looks again under its lock.
        if self.in_process and self._worker is None and not getattr(self._own, "thread", False):
            self.start_worker()

    def every(self, seconds: float, task: Callable[[], Any], on_nudge: bool = True) -> None:
        """Run `task` every `seconds` on one thread beside the worker, and (`on_nudge`) at once when nudged."""
        self._periodic.append((seconds, task, on_nudge))

    def nudge(self) -> None:
        """Run the periodic tasks now (in-process: the request that recorded work calls this; cheap)."""
        self._start_in_process()
        self._nudged.set()

    def start_worker(self, threads: int = 4) -> dramatiq.Worker:
        with self._lock:
            if self._worker is None:
                self.broker.emit_after("process_boot")
                self._worker = dramatiq.Worker(self.broker, queues={self.queue}, worker_threads=threads,
                                               worker_timeout=200)
                self._worker.start()
                if self._periodic:
                    stopping = threading.Event()
                    thread = threading.Thread(target=self._tick, args=(stopping,), name="hamlet-jobs-periodic",
                                              daemon=True)
                    self._ticker = (thread, stopping)
                    thread.start()
            return self._worker

    def _tick(self, stopping: threading.Event) -> None:
        self._own.thread = True
        due = [0.0] * len(self._periodic)
        last = [float("-inf")] * len(self._periodic)
        while not stopping.is_set():
            nudged = self._nudged.is_set()
            if nudged:
                self._nudged.clear()
            for i, (seconds, task, on_nudge) in enumerate(self._periodic):
                # A nudge runs the task at once, but not twice within NUDGE_GAP: under a burst of
                # submissions a run every few milliseconds would cost more than it saves.
                nudged_here = nudged and on_nudge
                if time.monotonic() >= due[i] or (nudged_here and time.monotonic() >= last[i] + NUDGE_GAP):
                    try:
                        task()
                    except Exception:  # a database or broker outage: try again at the next tick
                        log.exception("periodic job %s failed", getattr(task, "__name__", task))
                    last[i] = time.monotonic()
                    due[i] = last[i] + seconds
                elif nudged_here:
                    due[i] = min(due[i], last[i] + NUDGE_GAP)
            self._nudged.wait(max(0.0, min(due) - time.monotonic()))

    def stop(self) -> None:
        with self._lock:
            if self._ticker is not None:
                thread, stopping = self._ticker
                stopping.set()
                self._nudged.set()
                thread.join(timeout=10)
                self._ticker = None
            if self._worker is not None:
                self._worker.stop(timeout=5000)
                self._worker = None
        self.broker.close()
