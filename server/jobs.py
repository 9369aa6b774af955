"""Background jobs on Dramatiq: what must survive a slow or dead peer and be retried later (webhook
deliveries today; mail and scheduled backups can join them).

Why Dramatiq: a small, well-kept job library with retries and exponential backoff built in, on the
brokers this deployment already runs — RabbitMQ (durable queues, acknowledged after the job ends, so
a worker killed mid-job loses nothing) or Redis — shared by any number of web nodes and workers.
procrastinate would tie jobs to PostgreSQL only and Celery brings far more than this needs.

`HAMLET_BROKER_URL` (`amqp://…` or `redis://…`) names the broker; web nodes queue jobs and
`hamlet jobs worker` runs them. Unset (the embedded default), jobs run in-process on a worker thread
over Dramatiq's in-memory broker, so the quick start stays two commands; what such a queue loses in a
crash is found again by the sweep, because the job's state lives in the database, not the queue."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

log = logging.getLogger("hamlet.jobs")


class RetryLater(dramatiq.Retry):
    """Raised by a job that failed in a way worth trying again (a receiver that is down). A dramatiq.Retry,
    so the worker does not log a traceback as an error for each attempt: a dead receiver would otherwise
    write one per delivery every few minutes for a day (its error is on the delivery's row)."""


def _broker(url: str | None):
    if not url:
        return StubBroker()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # No publisher confirms: RabbitMQ confirms a persistent message once it is on disk, ~6 ms per
        # submission that a web thread would wait (bench/README.md). A job lost before that is not lost:
        # its delivery row was committed with the submission, and the worker's sweep queues it again.
        return RabbitmqBroker(url=url, confirm_delivery=False)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    raise ValueError(f"HAMLET_BROKER_URL must start with amqp://, amqps://, redis:// or rediss://, not {url[:12]!r}")


class Jobs:
    """One app's broker and actors. In-process mode starts its worker thread on the first job queued."""

    def __init__(self, broker_url: str | None, queue: str = "hamlet"):
        self.in_process = not broker_url
        self.broker = _broker(broker_url)
        self.queue = queue
        self.actors: dict[str, dramatiq.Actor] = {}
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

    def register(self, name: str, fn: Callable[..., Any], **options: Any) -> None:
        self.actors[name] = dramatiq.actor(actor_name=name, queue_name=self.queue, broker=self.broker, **options)(fn)

    def defer(self, name: str, *args: Any, delay_ms: int | None = None) -> None:
        if self.in_process:
            self.start_worker()
        self.actors[name].send_with_options(args=args, delay=delay_ms)

    def start_worker(self, threads: int = 2) -> dramatiq.Worker:
        with self._lock:
            if self._worker is None:
                self.broker.emit_after("process_boot")
                self._worker = dramatiq.Worker(self.broker, queues={self.queue}, worker_threads=threads,
                                               worker_timeout=200)
                self._worker.start()
            return self._worker

    def stop(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop(timeout=5000)
                self._worker = None
        self.broker.close()
