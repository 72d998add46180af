"""Where a job's shards run: in this process (``local``), or on Ray actors (``ray``), each
loading the model once and running shards one after another.

Why actors, not Ray Data: a shard is the unit a job resumes and retries by, and it must end
as one output file plus a marker in the work directory. An actor per worker holds the model
(loaded once, on its GPU where the cluster has GPUs), takes whole shards, and is restarted by
Ray when its process dies, with the shard it held retried (``max_restarts`` /
``max_task_retries``). Ray Data's ``map_batches`` would split and retry rows on its own
schedule, with no place to mark a shard finished or to resume from.
"""
from __future__ import annotations

import os
import socket
from collections import deque

from ..errors import InputError, JobFailed, UnsupportedOperation
from ..requirements import require_package
from .shard import ModelSource, run_shard
from .units import Shard
from .workdir import MANIFEST, WorkDir

#: Engines, by the name ``--engine`` takes.
ENGINES = ("local", "ray")
#: Times Ray restarts a worker whose process died, and retries its shard, before the job
#: fails.
RETRIES = 2
#: Shards queued on each Ray worker: the next one is there when the current one ends.
QUEUED = 2


def in_shard(shard: Shard, noun: str, err: Exception) -> Exception:
    """``err`` said of ``shard``: bad input stays an error of its kind (exit status 2),
    anything else is a failed job."""
    message = f"{shard.describe(noun)}: {err}"
    if isinstance(err, (InputError, UnsupportedOperation)):
        return type(err)(message)
    return JobFailed(message)


class LocalEngine:
    """Shards run one after another in this process, on the model loaded here."""

    name = "local"

    def run(self, job, parts, workdir: WorkDir, done) -> None:
        for shard, samples in parts:
            try:
                run_shard(job.model, job.command, job.options, shard, samples, workdir)
            except (InputError, UnsupportedOperation) as err:
                raise in_shard(shard, job.units.noun, err) from None
            done(shard)


class ShardWorker:
    """A Ray actor's state: the job's model, loaded once (on the first shard, so that a failure
    to load it is that shard's error, named, rather than a dead actor); runs shards into the
    work directory."""

    def __init__(self, source: ModelSource, command, options: dict, work_dir: str,
                 fingerprint: str):
        self.source, self.command, self.options = source, command, options
        self.workdir, self.fingerprint = WorkDir(work_dir), fingerprint
        self.model = None

    def run(self, shard: Shard, samples) -> int:
        if self.model is None:
            self.model = self._load()
        run_shard(self.model, self.command, self.options, shard, samples, self.workdir)
        return os.getpid()

    def _load(self):
        host = socket.gethostname()
        if not (self.workdir.path / MANIFEST).is_file():
            raise JobFailed(f"worker on {host} cannot see the work directory "
                            f"{str(self.workdir.path)!r}: on a Ray cluster of several machines "
                            "it must be on a filesystem they share")
        model = self.source.load()
        if model.fingerprint() != self.fingerprint:
            raise JobFailed(f"worker on {host} loaded {self.source.source!r} with other "
                            "weights than the driver's (fingerprints differ): the machines "
                            "must see the same model files")
        return model


class RayEngine:
    """Shards run on Ray actors: ``workers`` of them (default: one per GPU of the cluster, else
    one), each with one GPU where the cluster has GPUs, else an equal share of its CPUs.

    Parameters
    ----------
    address : str, optional
        ``auto`` (the cluster this machine belongs to), ``HOST:PORT``, or None: a Ray
        instance started here for the job.
    workers : int, optional
    retries : int
        Restarts of a dead worker (and retries of its shard) before the job fails.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 retries: int = RETRIES):
        self.address, self.workers, self.retries = address, workers, retries

    def run(self, job, parts, workdir: WorkDir, done) -> None:
        ray = require_package("ray", "--engine ray")
        started = not ray.is_initialized()
        if started:
            try:
                # "local": a new instance for the job, not a cluster started here before.
                ray.init(address=self.address or "local", include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except ConnectionError as err:
                raise JobFailed(f"--ray-address {self.address}: cannot join the Ray cluster "
                                f"there ({err}); if it uses token authentication, set "
                                "RAY_AUTH_MODE=token (and its token) here too") from None
        try:
            self._run(ray, job, parts, workdir, done)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, job, parts, workdir, done) -> None:
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        n = self.workers or gpus or 1
        if gpus and n > gpus:
            raise InputError(f"--workers {n}: the Ray cluster has {gpus} GPU(s), one per "
                             "worker")
        # Ray sets a worker's OMP_NUM_THREADS to the CPUs it holds: its math libraries use
        # those, not every CPU of the machine.
        share = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": max(1, cpus // n)}
        actor = ray.remote(max_restarts=self.retries,
                           max_task_retries=self.retries)(ShardWorker).options(**share)
        workers = [actor.remote(job.source, job.command, job.options, str(workdir.path),
                                job.fingerprint) for _ in range(n)]
        queued = {worker: deque() for worker in workers}
        parts = iter(parts)
        running = {}
        try:
            while True:
                for worker, queue in queued.items():
                    while len(queue) < QUEUED and (part := next(parts, None)) is not None:
                        shard, samples = part
                        ref = worker.run.remote(shard, samples)
                        running[ref] = (shard, worker)
                        queue.append(ref)
                if not running:
                    break
                [ref], _ = ray.wait(list(running), num_returns=1)
                shard, worker = running.pop(ref)
                queued[worker].remove(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as err:
                    raise in_shard(shard, job.units.noun, err.cause) from None
                except ray.exceptions.RayActorError as err:
                    raise JobFailed(f"{shard.describe(job.units.noun)}: its worker died "
                                    f"{self.retries + 1} times ({_first_line(err)})") from None
                done(shard)
        finally:
            for worker in workers:
                ray.kill(worker)


def _first_line(err) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def engine(name: str, address: str | None = None, workers: int | None = None):
    """The engine ``--engine`` names."""
    if name == "local":
        given = [flag for flag, value in (("--ray-address", address), ("--workers", workers))
                 if value is not None]
        if given:
            raise InputError(f"{', '.join(given)}: apply to --engine ray")
        return LocalEngine()
    if name == "ray":
        return RayEngine(address, workers)
    raise InputError(f"--engine {name}: expected one of {', '.join(ENGINES)}")
