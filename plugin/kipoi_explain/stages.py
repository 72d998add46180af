"""Named, timed stages of a command, with progress on stderr for those that last.

A command runs in a :class:`Stages` (the command line opens one per sub-command): every stage
entered in it is timed, each second counting to the innermost stage running, and a stage still
running after :data:`DELAY` seconds shows a bar when its number of items is known, else its
elapsed time, ticking. At the end, :meth:`Stages.summary` says where the time went, compute
apart from writing and plotting.

The library marks its own steps with :func:`stage` (a stage of the command that runs it; on its
own, a bar shown when asked for), and draws any other bar with :func:`progress_bar`: the one
place a bar is configured.

>>> with Stages() as stages:
...     with stage("compute", total=len(blocks), unit="block") as advance:
...         for block in blocks:
...             run(block)
...             advance()
...     with stage("writing"):
...         write()
>>> stages.summary()
'done in 4.2 s: compute 3.9 s, writing 0.3 s'
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time

#: Seconds a stage or bar runs before its progress shows: shorter steps stay silent.
DELAY = 1.0
#: Seconds between two redraws of the running stages' progress (less with a shorter delay,
#: never under MIN_TICK).
TICK, MIN_TICK = 0.2, 0.02
#: Seconds a summary leaves out as not spent in any stage: the rounding of its figures.
ROUNDING = 0.05

_ACTIVE: contextvars.ContextVar[Stages | None] = contextvars.ContextVar("kipoi_explain_stages",
                                                                        default=None)


def progress_bar(total: int | None = None, desc: str | None = None, unit: str = "it",
                 show: bool = True, delay: float | None = None, initial: int = 0):
    """A tqdm bar on stderr, drawn once it has run ``delay`` seconds and cleared when closed.

    Parameters
    ----------
    total : int, optional
        Items to do (None: the time elapsed, without a bar).
    desc : str, optional
        Its label.
    unit : str
        What an item is.
    show : bool
        False: a bar that draws nothing.
    delay : float, optional
        Seconds before it is first drawn (default: :data:`DELAY`).
    initial : int
        Items already done.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=not show,
                delay=DELAY if delay is None else delay, leave=False, dynamic_ncols=True,
                file=sys.stderr,
                bar_format=None if total is not None else "{desc}: {elapsed}")


class Stage:
    """A running stage; calling it counts ``n`` of its items done."""

    def __init__(self, stages: Stages, name: str, total: int | None, unit: str, show: bool):
        self.name, self.total, self.unit, self.show = name, total, unit, show
        self.started = self.counted_to = time.perf_counter()
        self.done = 0
        self.bar = None
        self._stages = stages

    def __call__(self, n: int = 1) -> None:
        with self._stages.lock:
            self.done += n
            if self.bar is not None:
                self.bar.update(n)


class Stages:
    """The stages of one command: their times, and their progress while they run.

    Parameters
    ----------
    progress : bool
        Show the progress of the stages that last (False: time them only).
    delay : float, optional
        Seconds a stage runs before its progress shows (default: :data:`DELAY`).
    """

    def __init__(self, progress: bool = True, delay: float | None = None):
        self.progress, self.delay = progress, DELAY if delay is None else delay
        self.started = time.perf_counter()
        #: Seconds spent in each stage (not in the stages it ran), in the order first entered.
        self.seconds: dict[str, float] = {}
        self.lock = threading.Lock()
        self._running: list[Stage] = []
        self._stop = threading.Event()
        self._ticker = None
        self._token = None

    def __enter__(self) -> Stages:
        self.started = time.perf_counter()
        self._token = _ACTIVE.set(self)
        if self.progress:
            self._ticker = threading.Thread(target=self._tick, name="kipoi-explain-progress",
                                            daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.reset(self._token)
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()

    @contextlib.contextmanager
    def stage(self, name: str, total: int | None = None, unit: str = "it", show: bool = True):
        """Time the block as stage ``name`` (added to its earlier time); yields the
        :class:`Stage`, to call as items are done. Stages nest: the time of an inner stage
        is not the outer one's."""
        running = Stage(self, name, total, unit, show and self.progress)
        with self.lock:
            if self._running:
                self._count(self._running[-1], running.started)
            self.seconds.setdefault(name, 0.0)
            self._running.append(running)
        try:
            yield running
        finally:
            with self.lock:
                now = time.perf_counter()
                self._count(running, now)
                self._running.remove(running)
                if self._running:
                    self._running[-1].counted_to = now
                if running.bar is not None:
                    running.bar.close()

    def _count(self, running: Stage, now: float) -> None:
        self.seconds[running.name] += now - running.counted_to
        running.counted_to = now

    def _tick(self) -> None:
        """Draw each running stage that has run past the delay: its bar is made then (a stage
        that ends sooner costs none), with the time since the stage began."""
        while not self._stop.wait(max(MIN_TICK, min(TICK, self.delay))):
            with self.lock:
                now = time.perf_counter()
                for running in self._running:
                    if not running.show or now - running.started < self.delay:
                        continue
                    if running.bar is None:
                        # Drawn below (not as it is made), once its clock counts from the
                        # stage's start.
                        running.bar = progress_bar(running.total, running.name, running.unit,
                                                   delay=max(self.delay, MIN_TICK),
                                                   initial=running.done)
                        running.bar.start_t -= now - running.started
                    running.bar.refresh()

    def summary(self) -> str:
        """``done in T s: STAGE S s, ...``, the stages in the order first entered; time in no
        stage, where it shows at this rounding, as ``other``."""
        total = time.perf_counter() - self.started
        parts = dict(self.seconds)
        other = total - sum(parts.values())
        if other >= ROUNDING:
            parts["other"] = parts.get("other", 0.0) + other
        return f"done in {total:.1f} s: " + ", ".join(f"{name} {seconds:.1f} s"
                                                      for name, seconds in parts.items())


@contextlib.contextmanager
def stage(name: str, total: int | None = None, unit: str = "it", progress: bool = True):
    """A step named ``name``: a stage of the command running (:class:`Stages`), or outside
    one a progress bar of ``total`` items shown when ``progress``; yields a callable that
    counts ``n`` items done (default 1).

    Parameters
    ----------
    name : str
        The stage, e.g. ``"matching"``; also the bar's label.
    total : int, optional
        Items the step does, when known.
    unit : str
        What an item is.
    progress : bool
        Show its progress (within a command, only where the command shows progress).
    """
    stages = _ACTIVE.get()
    if stages is not None:
        with stages.stage(name, total, unit, progress) as advance:
            yield advance
        return
    with progress_bar(total, name, unit, show=progress) as bar:
        yield bar.update


def spent(name: str) -> float:
    """Seconds the command running has spent in stage ``name`` (0 outside a command)."""
    stages = _ACTIVE.get()
    return 0.0 if stages is None else stages.seconds.get(name, 0.0)
