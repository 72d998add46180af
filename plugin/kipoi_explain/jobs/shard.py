"""One shard of a job, run the same way by every engine: the command's function on the
shard's samples, numbered from the shard's first unit, its result stored in the work
directory."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..options import takes
from .units import Shard
from .workdir import WorkDir


@dataclass(frozen=True)
class ModelSource:
    """How a worker loads the job's model: as this process did (``load_model`` arguments)."""

    source: str
    zoo: str | None = None
    device: str | None = None
    batch_size: int | str | None = None

    def absolute(self) -> ModelSource:
        """The same, its local paths absolute (workers may run in another directory)."""
        return dataclasses.replace(self, source=absolute(self.source), zoo=absolute(self.zoo))

    def load(self):
        from ..backends import load_model

        return load_model(self.source, zoo=self.zoo, device=self.device,
                          batch_size=self.batch_size)


def run_shard(model, command, options: dict, shard: Shard, samples, workdir: WorkDir) -> None:
    """Run ``command`` on one shard's ``samples`` and store the result.

    The samples are numbered from the shard's first unit (``sample_index``), so random draws
    are the ones a run over the whole input makes; a streaming command's items are stored
    without what stays in the input file (fields the wire does not carry either: a VCF
    record), which merging puts back.
    """
    started = time.perf_counter()
    kwargs = dict(options, progress=False)
    if takes(command.function, "sample_index"):
        kwargs["sample_index"] = shard.lo
    result = command.function(model, samples, **kwargs)
    if command.samples == "stream":
        result = [_detached(item) for item in result]
    workdir.save(shard, result, time.perf_counter() - started)


def absolute(value):
    """``value`` as an absolute path when it names an existing file or directory here;
    anything else as it is."""
    if isinstance(value, (str, os.PathLike)) and str(value) and os.path.exists(value):
        return str(Path(value).resolve())
    return value


def _detached(item):
    return dataclasses.replace(item, **{f.name: None for f in dataclasses.fields(item)
                                        if f.metadata.get("wire") is False})
