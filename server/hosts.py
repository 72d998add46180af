"""Where a device's models live and run: in the server's process, or in a supervised child.

A :class:`~.batching.DeviceWorker` decides what runs when (merging requests' calls); its host
runs it. Both hosts take the same messages, plain picklable tuples:

* ``("call", model, capability, method, args, context, rows)``: one primitive of a model's
  capability provider (:mod:`kipoi_explain.capabilities`); ``context`` (extra inputs) is passed
  to primitives over rows only;
* ``("exclusive", model, command, samples, options, batch_size)``: a declared command run
  alone on the host's own model (options naming another model carry a :class:`ModelRef`).

:class:`ChildHost` (the server's default) loads the models in a child process of its own, one
per device, so a fatal fault (a native crash, an out-of-memory kill) ends that child only: its
in-flight calls fail with :class:`WorkerCrashed` (UNAVAILABLE), a fresh child is started, and
the server and other devices keep serving. A request given up while its call runs is asked to
stop at its next block (:mod:`kipoi_explain.cancellation`); a child that does not stop within
``cancel_grace_s`` is killed and replaced, so no call holds a device longer than that after
its request has gone. :class:`ModelHost` runs everything in this process (a worker thread),
for embedding the service where processes cannot be started.
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from dataclasses import dataclass
from typing import Callable

from kipoi_explain.cancellation import cancellable
from kipoi_explain.errors import InputError, MissingDependency, UnsupportedOperation
from kipoi_explain.model import Model

log = logging.getLogger("kipoi_explain.server")

#: Seconds between checks of a child's liveness and of its requests while a call runs.
POLL_S = 0.02


class RequestAborted(Exception):
    """The request was cancelled by its client or ran past its deadline."""


class WorkerFault(Exception):
    """A model call failed for a reason that is not the request's input."""


class WorkerCrashed(WorkerFault):
    """The process running a device's models died during a call (a server answers
    UNAVAILABLE: the same request may succeed once the worker has restarted)."""


#: Errors that belong to the request (its input, its cancellation): sent back as they are.
REQUEST_ERRORS = (InputError, UnsupportedOperation, MissingDependency, RequestAborted)


@dataclass(frozen=True)
class ModelRef:
    """An option of an exclusive job naming another served model: the host running the job
    puts its own copy of that model in its place."""

    name: str


def loader(spec: dict) -> Callable[[str], Model]:
    """A function ``(device) -> Model`` for a configured model (``{source, zoo?, batch_size?}``,
    as :func:`~.config.model_spec` writes it)."""
    import kipoi_explain as kx

    options = dict(spec)
    source = options.pop("source")
    return lambda device: kx.load_model(source, device=device, **options)


def load_models(device: str, loaders: dict[str, Callable[[str], Model]]) -> dict[str, Model]:
    """Fresh copies of the models on ``device``."""
    models = {name: load(device) for name, load in loaders.items()}
    for model in models.values():
        if model.attention is not None:
            # Finding a model's attention layers runs it once and caches their order: done
            # here, it never collides with a request's calls, and routed providers may read
            # the structure directly afterwards.
            model.attention.attention_layers()
    return models


def execute(models: dict[str, Model], message: tuple):
    """Run one host message (see the module's docstring) on ``models``."""
    kind, name = message[:2]
    model = models[name]
    if kind == "exclusive":
        from kipoi_explain.commands import get

        command, samples, options, batch_size = message[2:]
        options = {key: models[value.name] if isinstance(value, ModelRef) else value
                   for key, value in options.items()}
        return get(command).function(model, samples,
                                     batch_size=min(model.batch_size, batch_size), **options)
    capability, method, args, context, rows = message[2:]
    primitive = getattr(getattr(model, capability), method)
    # Primitives over rows take the extra inputs of their rows; the others take none.
    return primitive(*args, context=context) if rows else primitive(*args)


class ModelHost:
    """A device's models, loaded and run in this process.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda:K"``.
    loaders : dict of str to callable
        For each allowed model name, a function ``(device) -> Model``.
    """

    def __init__(self, device: str, loaders: dict[str, Callable[[str], Model]]):
        self.device = device
        self._loaders = loaders
        self.catalog = load_models(device, loaders)
        self.fingerprints = {name: m.fingerprint() for name, m in self.catalog.items()}

    def run(self, message: tuple, check: Callable[[], None]):
        """The message's result; ``check`` raises :class:`RequestAborted` when nobody waits
        for it any more, called between blocks of the work."""
        with cancellable(check):
            return execute(self.catalog, message)

    def restart(self) -> None:
        """Reload the models: a failed call may have left one in a state nobody should
        compute on."""
        self.catalog = load_models(self.device, self._loaders)

    def stop(self) -> None:
        """Nothing to end: the models go with the worker."""


class ChildHost:
    """A device's models, loaded and run in a supervised child process.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda:K"``.
    specs : dict of str to dict
        For each allowed model name, its configuration (see :func:`loader`): picklable, the
        child loads the models itself.
    catalog : dict of str to Model
        The same models loaded in this process (on the CPU), read for what they are (layout,
        layers) and never run by a request.
    fingerprints : dict of str to str
        Their weights' hashes (hashed once, for every device).
    cancel_grace_s : float
        How long a call whose requests have all gone may take to stop before the child is
        killed and replaced.
    """

    def __init__(self, device: str, specs: dict[str, dict], catalog: dict[str, Model],
                 fingerprints: dict[str, str], cancel_grace_s: float = 5.0):
        self.device = device
        self.catalog = catalog
        self.fingerprints = fingerprints
        self.cancel_grace_s = cancel_grace_s
        self._specs = specs
        self._context = multiprocessing.get_context("spawn")
        self._spawn()

    @property
    def pid(self) -> int:
        """The child's process ID."""
        return self._process.pid

    def run(self, message: tuple, check: Callable[[], None]):
        """The message's result, computed by the child. When ``check`` raises
        :class:`RequestAborted`, the child is told to stop at its next block; if it has not
        answered ``cancel_grace_s`` later, :class:`WorkerCrashed` is raised (and the worker
        replaces the child, as after a crash)."""
        self._cancel.clear()
        try:
            self._connection.send(message)
        except (OSError, ValueError) as err:
            raise self._crashed(f"sending the call failed ({err})") from None
        return self._answer(check)

    def restart(self) -> None:
        """Replace the child by a fresh one (its models loaded anew)."""
        self._end()
        self._spawn()

    def stop(self) -> None:
        """End the child after its current call."""
        try:
            self._connection.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(self.cancel_grace_s)
        self._end()

    # ---- the supervision -----------------------------------------------------------------
    def _spawn(self) -> None:
        started = time.monotonic()
        self._connection, child = self._context.Pipe()
        self._cancel = self._context.Event()
        self._process = self._context.Process(
            target=serve, args=(child, self.device, self._specs, self._cancel),
            name=f"kx-worker-{self.device}", daemon=True)
        self._process.start()
        child.close()
        self._answer(None)
        log.info("worker %s: process %d serving (started in %.1f s)", self.device,
                 self._process.pid, time.monotonic() - started)

    def _answer(self, check: Callable[[], None] | None):
        given_up = None
        while not self._connection.poll(POLL_S):
            if not self._process.is_alive():
                raise self._crashed(f"exit code {self._process.exitcode}")
            if check is None:
                continue
            if given_up is None:
                try:
                    check()
                except RequestAborted:
                    self._cancel.set()
                    given_up = time.monotonic()
            elif time.monotonic() - given_up > self.cancel_grace_s:
                # Treated as a crash: the worker replaces the child.
                raise WorkerCrashed(f"worker process {self._process.pid} on {self.device} did "
                                    f"not stop within {self.cancel_grace_s:g} s of its "
                                    "request being given up")
        try:
            status, value = self._connection.recv()
        except (EOFError, OSError):
            self._process.join(1.0)
            raise self._crashed(f"exit code {self._process.exitcode}") from None
        if status == "ok":
            return value
        raise value

    def _crashed(self, how: str) -> WorkerCrashed:
        return WorkerCrashed(f"worker process {self._process.pid} on {self.device} died "
                             f"({how}); it is being restarted: retry")

    def _end(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._connection.close()


def serve(connection, device: str, specs: dict[str, dict], cancel) -> None:
    """The child's loop: load the models, then answer each message with ``("ok", result)`` or
    ``("error", exception)`` until told to stop (None) or the server has gone."""
    # The server handles Ctrl-C and stops its children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        models = load_models(device, {name: loader(spec) for name, spec in specs.items()})
    except Exception as err:  # noqa: BLE001 - told to the server, which names the model
        connection.send(("error", WorkerFault(f"loading the models on {device}: "
                                              f"{type(err).__name__}: {err}")))
        return
    connection.send(("ok", None))

    def check() -> None:
        if cancel.is_set():
            raise RequestAborted("cancelled")

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            with cancellable(check):
                answer = ("ok", execute(models, message))
        except REQUEST_ERRORS as err:
            answer = ("error", err)
        except Exception as err:  # noqa: BLE001 - the server restarts this child
            answer = ("error", WorkerFault(f"{type(err).__name__}: {err}"))
        try:
            connection.send(answer)
        except Exception as err:  # noqa: BLE001 - an answer that cannot be pickled
            connection.send(("error", WorkerFault(f"the answer cannot be sent: "
                                                  f"{type(err).__name__}: {err}")))
