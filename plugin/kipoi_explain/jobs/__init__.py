"""Genome-scale jobs: a command's input cut into shards that run on an engine (this process,
or Ray actors across a cluster), each shard's result kept in a work directory, so that a job
resumes where it stopped, survives workers that die, and gives the same output however it was
split.

The data path is the one of any command, in parts: samples -> units (:mod:`.units`) -> shards
run by an engine (:mod:`.engines`, each shard by :func:`.shard.run_shard`) -> the work
directory (:mod:`.workdir`) -> the results in input order (:func:`run_job`), combined
(:func:`merge_results`) and written by the command's own writers.

>>> from kipoi_explain.jobs import merge_results, run_job
>>> parts = run_job("explain", "examples/models/pytorch_cnn", GenomeIntervals(fasta, bed),
...                 work_dir="job", engine="ray", workers=2, method="deepshap")
>>> attribution = merge_results("explain", parts)
"""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .._version import __version__
from ..commands import Command, get
from ..errors import InputError
from ..results import plain
from ..sequences import FASTA_SUFFIXES
from .engines import ENGINES, engine
from .shard import ModelSource, absolute
from .units import SHARD_SIZE, Shard, Units, fasta_identity, file_checksum, shards, units_of
from .workdir import WorkDir

__all__ = ["ENGINES", "SHARD_SIZE", "Job", "ModelSource", "PartialJob", "merge_results",
           "run_job"]


class PartialJob(Exception):
    """This process ran its share of a job's shards (one task of a job array) and others
    remain: the outputs are written once every shard is done, by ``kipoi-explain merge``."""


@dataclass
class Job:
    """A command over an input, split into shards of ``shard_size`` units."""

    command: Command
    options: dict
    units: Units
    shard_size: int
    model: object
    source: ModelSource | None = None
    notes: dict = field(default_factory=dict)

    @cached_property
    def fingerprint(self) -> str:
        return self.model.fingerprint()

    @cached_property
    def shards(self) -> list[Shard]:
        return shards(self.units.count, self.shard_size)

    def manifest(self) -> dict:
        """What the work directory records: what must match to resume (command, settings,
        model, input, shard size), and what describes the job."""
        return {"command": self.command.name, "settings": settings(self.options),
                "model": {"fingerprint": self.fingerprint},
                "input": {"checksum": self.units.checksum(), **self.units.describe()},
                "shard_size": self.shard_size, "shards": len(self.shards),
                "model_name": self.model.name, "version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **self.notes}


def settings(options: dict) -> dict:
    """The options as the manifest compares them: JSON values, arrays by their checksum, files
    an option names by their content's (a reference FASTA by its size and index)."""
    def value(v):
        if isinstance(v, np.ndarray):
            digest = hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
            return f"array{v.shape}:{digest}"
        if isinstance(v, str) and os.path.isfile(v):
            return f"{v}:{fasta_identity(v) if v.endswith(FASTA_SUFFIXES) else file_checksum(v)}"
        if isinstance(v, dict):
            return {str(k): value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        return plain(v)

    return {name: value(v) for name, v in sorted(options.items()) if v is not None}


def run_job(command, model, samples, source: ModelSource | None = None,
            work_dir=None, engine_name: str = "local", workers: int | None = None,
            ray_address: str | None = None, shard_size: int = SHARD_SIZE,
            group: tuple[int, int] | None = None, merge_only: bool = False,
            progress: bool = False, log=None, notes: dict | None = None, **options):
    """Run ``command`` over ``samples`` as a job; once every shard is done, return an iterator
    over the shards' results in input order (each read from the work directory as it is
    reached).

    Parameters
    ----------
    command : str or Command
        ``explain``, ``screen``, ``insertion``, ``score_variants`` (any command whose samples
        a job splits: sequences, :class:`~kipoi_explain.sequences.genome.GenomeIntervals`, a
        VCF path).
    model : Model or str
        The model (a loaded one runs the local engine's shards), or its path.
    samples
        The command's samples.
    source : ModelSource, optional
        How workers load the model (default: ``model``, when it is a path or name); needed by
        the Ray engine.
    work_dir : str or Path, optional
        Where shards are kept; the same directory resumes the job. Default: a temporary
        directory, removed at the end (no resuming).
    engine_name : {"local", "ray"}
    workers, ray_address :
        The Ray engine's workers and cluster (see :class:`~.engines.RayEngine`).
    shard_size : int
        Units per shard.
    group : (int, int), optional
        ``(index, count)``: run only the shards ``s`` with ``s % count == index`` (one task of
        a job array), then raise :class:`PartialJob` if others remain.
    merge_only : bool
        Run nothing: every shard must be done.
    progress : bool
        A progress bar over the units.
    log : callable, optional
        Receives one-line notes (resuming, shards computed again).
    notes : dict, optional
        More entries for the manifest (the command line that made the job).
    **options
        The command's options.

    Raises
    ------
    InputError
        For samples a job cannot split, a work directory of another job (naming what
        differs), missing shards with ``merge_only``, a shard's bad input (naming the shard).
    JobFailed
        When a shard fails for another reason (its worker died more times than Ray restarts
        it), naming the shard.
    """
    from ..backends import load_model
    from ..model import Model

    command = get(command) if isinstance(command, str) else command
    log = log or (lambda message: None)
    if source is None and not isinstance(model, Model) and isinstance(model, (str, os.PathLike)):
        source = ModelSource(str(model))
    runner = engine(engine_name, ray_address, workers)
    if runner.name == "ray" and source is None:
        raise InputError("--engine ray loads the model on every worker: give it as a path or "
                         "name, not as a loaded model")
    # Shards may run in another directory (a Ray worker): local paths made absolute.
    source = None if source is None else source.absolute()
    options = {name: absolute(value) for name, value in options.items()}
    if options.get("inputs") is not None:
        raise InputError("extra inputs (--extra-input) hold one row per sample, and a job does "
                         "not cut them into shards: run without a job")
    units = units_of(samples, command.what or command.name)
    if units.count == 0 and command.samples != "stream":
        raise InputError(f"{command.what or command.name}: no {units.noun} to run on")
    job = Job(command, options, units, shard_size,
              load_model(model) if source is None or isinstance(model, Model) else
              source.load(), source, dict(notes or {}))
    temporary = work_dir is None
    workdir = WorkDir(tempfile.mkdtemp(prefix="kipoi-explain-job-") if temporary else work_dir)
    try:
        workdir.claim(job.manifest())
        done = _checked(job, workdir, log)
        if merge_only:
            missing = [s.index for s in job.shards if s not in done]
            if missing:
                raise InputError(f"work directory {str(workdir.path)!r}: {len(missing)} of "
                                 f"{len(job.shards)} shards are not done (e.g. "
                                 f"{', '.join(map(str, missing[:5]))}); run the command (or "
                                 "the job array's remaining tasks) again, then merge")
        else:
            _run(job, workdir, runner, done, group, progress, log)
    except BaseException:
        if temporary:
            shutil.rmtree(workdir.path, ignore_errors=True)
        raise
    return _results(job, workdir, temporary)


def _results(job: Job, workdir: WorkDir, temporary: bool):
    """The shards' results in input order, read one at a time."""
    try:
        for shard in job.shards:
            yield workdir.load(shard)
    finally:
        if temporary:
            shutil.rmtree(workdir.path, ignore_errors=True)


def _checked(job: Job, workdir: WorkDir, log) -> set[Shard]:
    """The shards already done; corrupted ones are removed, to be computed again."""
    done = set()
    for shard in job.shards:
        status = workdir.status(shard)
        if status == "done":
            done.add(shard)
        elif status == "corrupted":
            log(f"{shard.describe(job.units.noun)}: its output does not match its checksum "
                "(corrupted or half-written); computing it again")
            workdir.forget(shard)
    return done


def _run(job: Job, workdir: WorkDir, runner, done: set, group, progress: bool, log) -> None:
    from ..stages import progress_bar

    pending = [s for s in job.shards if s not in done]
    if group is not None:
        index, count = group
        pending = [s for s in pending if s.index % count == index]
    if done:
        log(f"resuming {str(workdir.path)!r}: {len(done)} of {len(job.shards)} shards done, "
            f"{len(pending)} to run")
    total = job.units.count
    with progress_bar(total, unit=job.units.noun[:-1], show=progress,
                      initial=sum(s.hi - s.lo for s in done)) as bar:
        def finished(shard):
            done.add(shard)
            bar.update(shard.hi - shard.lo)

        runner.run(job, job.units.parts(pending), workdir, finished)
    if group is not None:
        # A task of an array never writes the outputs: two tasks ending together would.
        left = len(job.shards) - len(done)
        state = f"{left} of {len(job.shards)} shards remain for the other tasks; when all " \
            "are done:" if left else f"all {len(job.shards)} shards are done:"
        raise PartialJob(f"ran {len(pending)} shard(s) of task {group[0]} of {group[1]}; "
                         f"{state} kipoi-explain merge {workdir.path}")


def merge_results(command, parts):
    """A job's shard results combined: one result (concatenated in input order), or for a
    streaming command its items in input order."""
    from ..combine import concatenate

    command = get(command) if isinstance(command, str) else command
    if command.samples == "stream":
        return itertools.chain.from_iterable(parts)
    return concatenate(list(parts))
