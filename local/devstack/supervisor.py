"""Keep one child (the Momento emulator, moto) running: when it exits on its own, start it again, on the same ports.

Whatever ended it (a crash, SIGKILL, a clean exit 0, the OOM killer), the child is started again with the same
command line and environment after a backoff: 0.2 s, doubling to at most 5 s between attempts, back to 0.2 s once a
child has stayed up for 30 s. An attempt that fails (its port taken by another program, the child exiting again while
starting, not answering in time) is logged with its reason and retried on the same schedule, without end: nothing a
child does stops the stack. Only something a retry cannot fix (a `DevstackError` from `become_ready`, or a bug here)
ends the supervision; `Stack.wait()` then raises it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from .children import ChildProcess
from .config import RestartPolicy
from .errors import ChildExitedError, DevstackError, PortInUseError, StartTimeoutError

__all__ = ["Supervisor", "describe_exit"]

log = logging.getLogger("devstack")


def describe_exit(returncode: int | None) -> str:
    """ "signal SIGKILL", "exit code 0": how a child ended, for a log line."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    """One supervised child: `supervise(child)` once it is ready, `restart()`, `wait_ready()`, `close()`.

    `child` is always the newest process (also while it is starting), so `close()` and then stopping `child` leaves
    nothing behind whatever moment it comes at.
    """

    def __init__(
        self,
        name: str,
        label: str,
        where: str,
        *,
        spawn: Callable[[], ChildProcess],
        become_ready: Callable[[ChildProcess], Awaitable[str | None]],
        policy: RestartPolicy,
        grace_seconds: float,
    ) -> None:
        self.name = name
        self.label = label  # "the Momento emulator"
        self.where = where  # "127.0.0.1:8080/8081"
        self.child: ChildProcess | None = None
        self.restarts = 0
        self.failure: DevstackError | None = None
        self._spawn = spawn
        self._become_ready = become_ready  # returns a note for the "is back" line, e.g. what was re-seeded
        self._policy = policy
        self._grace = grace_seconds
        self._ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._asked_stop: asyncio.Task[int | None] | None = None
        self._closing = False
        self._up_since = 0.0
        self._failed: Callable[[Supervisor], None] | None = None
        self._wake: asyncio.Future[None] | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.child is not None and self.child.running

    def supervise(self, child: ChildProcess, on_failure: Callable[[Supervisor], None]) -> None:
        """Watch `child`, which is running and ready, from now on."""
        self.child = child
        self._failed = on_failure
        self._up_since = time.monotonic()
        self._ready.set()
        self._task = asyncio.create_task(self._run(), name=f"supervise-{self.name}")
        self._task.add_done_callback(self._ended)

    async def wait_ready(self, min_restarts: int = 0) -> None:
        """Return once the child is up and has been started again at least `min_restarts` times in all.

        Raises DevstackError if supervision ended (it failed, or the stack is stopping): it would never be ready.
        """
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    self._closing
                    or self.failure is not None
                    or (self.restarts >= min_restarts and self._ready.is_set())
                )
            )
        if self.failure is not None:
            raise self.failure
        if self._closing:
            raise DevstackError(f"{self.label} is no longer supervised: the stack is stopping")

    async def restart(self) -> None:
        """Stop the child and start it again at once (no backoff); return when it is ready again."""
        if self._task is None or self.child is None:
            raise RuntimeError(f"{self.label} is not supervised")
        if not self._ready.is_set():  # down already: the restart under way is the one asked for
            await self.wait_ready(self.restarts + 1)
            return
        target = self.restarts + 1
        self._asked_stop = asyncio.ensure_future(self.child.stop(self._grace))
        await self.wait_ready(target)

    def abandon(self) -> None:
        """Stop supervising now, without waiting (a second Ctrl-C): the caller kills `child`."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        self._wake = asyncio.ensure_future(self._notify())

    async def close(self) -> None:
        """Stop supervising (the stack is stopping): no more restarts. The caller then stops `child`."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        await self._notify()
        if self._asked_stop is not None:
            await asyncio.wait([self._asked_stop])

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        delay = self._policy.first_delay_seconds
        while True:
            child = self.child
            assert child is not None
            returncode = await child.wait()
            if self._closing:
                return
            await self._set_ready(False)
            down_at = time.monotonic()
            if self._asked_stop is not None:  # restart(): stop() is on its way; let it finish, then start at once
                await asyncio.shield(self._asked_stop)
                self._asked_stop = None
                log.info("devstack: restarting %s on %s (as asked)", self.label, self.where)
                wait = 0.0
            else:
                await child.drained()
                if down_at - self._up_since >= self._policy.stable_seconds:
                    delay = self._policy.first_delay_seconds
                wait = delay
                delay = self._policy.next_delay(delay)
                log.warning(
                    "devstack: %s exited (%s); restarting it on %s in %.1f s",
                    self.label,
                    describe_exit(returncode),
                    self.where,
                    wait,
                )
            note, delay = await self._start_again(wait, delay)
            self.restarts += 1
            self._up_since = time.monotonic()
            log.info(
                "devstack: %s is back (restart %d, %.1f s%s)",
                self.label,
                self.restarts,
                self._up_since - down_at,
                f"; {note}" if note else "",
            )
            await self._set_ready(True)

    async def _start_again(self, wait: float, delay: float) -> tuple[str | None, float]:
        """Start the child until an attempt is ready: (its note, the next delay)."""
        while True:
            await asyncio.sleep(wait)
            child = self._spawn()
            self.child = child
            try:
                await child.start()
                async with asyncio.timeout(self._policy.start_timeout_seconds):
                    note = await self._become_ready(child)
                return note, delay
            except PortInUseError as error:
                why = f"port {error.port}{f' ({error.variable})' if error.variable else ''} is taken by another program"
            except ChildExitedError as error:
                why = f"it exited again while starting ({describe_exit(error.returncode)})"
            except (StartTimeoutError, TimeoutError):
                why = f"it did not answer within {self._policy.start_timeout_seconds:.0f} s"
            except DevstackError:
                raise  # something retrying cannot fix
            except Exception as error:  # e.g. a re-seed that found moto gone again
                why = f"{type(error).__name__} while it was starting"
            await child.stop(self._grace)
            wait, delay = delay, self._policy.next_delay(delay)
            log.warning("devstack: %s is not back: %s; retrying in %.1f s", self.label, why, wait)

    async def _set_ready(self, ready: bool) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()
        await self._notify()

    def _ended(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is None or self._closing:
            return
        if not isinstance(error, DevstackError):
            error = DevstackError(f"supervising {self.label} failed: {error!r}")
        self.failure = error
        log.error("devstack: %s is no longer supervised: %s", self.label, error)
        self._wake = asyncio.ensure_future(self._notify())  # anyone waiting for it to be ready: it will not be
        if self._failed is not None:
            self._failed(self)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
