"""A job's work directory: a manifest saying which job it holds, and one output plus a
completion marker per shard.

Layout::

    manifest.json            job settings, model fingerprint, input checksum, shards
    shards/000017.pkl        the shard's result (pickle: the work directory is trusted, as a
                             Kipoi model directory is)
    shards/000017.done       JSON marker: the output's SHA-256 and size, time, host and
                             process, the process's peak memory

A shard counts as done only when its marker is there and its output matches the marker's
checksum: an output is written under a ``.partial`` name and renamed, then the marker; a
corrupted or half-written output is computed again. Several processes (a SLURM job array,
Ray workers) may fill one work directory on a shared filesystem: each shard is written by
one of them, and the manifest by the first.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import resource
import socket
import time
from pathlib import Path

from ..errors import InputError
from ..writers.atomic import replaced
from .units import Shard, file_checksum

MANIFEST = "manifest.json"
#: Manifest entries that must be the same to resume, and how a difference is named.
IDENTITY = {"command": "command", "settings": "settings", "model": "model",
            "input": "input", "shard_size": "shard size"}


class WorkDir:
    """The work directory at ``path``."""

    def __init__(self, path):
        self.path = Path(path)
        self.shards_dir = self.path / "shards"

    # ---- the manifest ------------------------------------------------------------------
    def manifest(self) -> dict:
        """The manifest; an InputError when there is none or it cannot be read."""
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except FileNotFoundError:
            raise InputError(f"work directory {str(self.path)!r} holds no job (no "
                             f"{MANIFEST})") from None
        except (OSError, ValueError) as err:
            raise InputError(f"work directory {str(self.path)!r}: {MANIFEST} cannot be read: "
                             f"{err}") from None

    def claim(self, manifest: dict) -> bool:
        """Make this the work directory of the job ``manifest`` describes, or check it already
        is. Returns True when it was new.

        Raises
        ------
        InputError
            When it holds another job: naming what differs (command, a setting, the model's
            weights, the input, the shard size).
        """
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"--work-dir {str(self.path)!r}: is a file; expected a directory")
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        target = self.path / MANIFEST
        if not target.exists():
            draft = self.path / f".{MANIFEST}.{socket.gethostname()}.{os.getpid()}"
            draft.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            try:
                # A link is made whole or not at all, and only by one process of several.
                os.link(draft, target)
                return True
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        self.check(manifest)
        return False

    def check(self, manifest: dict) -> None:
        """That the stored manifest is the job ``manifest`` describes (see :meth:`claim`)."""
        stored = self.manifest()
        for key, what in IDENTITY.items():
            if stored.get(key) == manifest[key]:
                continue
            if key == "settings":
                old, new = stored.get(key, {}), manifest[key]
                names = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
                detail = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
                                   for k in names[:4])
            elif key == "model":
                detail = (f"its weights' fingerprint is {stored[key]['fingerprint'][:12]} there, "
                          f"{manifest[key]['fingerprint'][:12]} now")
            elif key == "input":
                detail = "the input changed (its checksum differs)"
            else:
                detail = f"{stored.get(key)!r} there, {manifest[key]!r} now"
            raise InputError(f"work directory {str(self.path)!r} holds another job: {what} "
                             f"differs ({detail}); resume with the same {what}, or give "
                             "another --work-dir")

    # ---- shards ------------------------------------------------------------------------
    def _output(self, shard: Shard) -> Path:
        return self.shards_dir / f"{shard.index:06d}.pkl"

    def _marker(self, shard: Shard) -> Path:
        return self.shards_dir / f"{shard.index:06d}.done"

    def save(self, shard: Shard, result, seconds: float) -> None:
        """Store a shard's result, then its marker."""
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with replaced(self._output(shard)) as partial:
            partial.write_bytes(data)
        marker = {"shard": shard.index, "lo": shard.lo, "hi": shard.hi,
                  "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                  "seconds": round(seconds, 3), "host": socket.gethostname(),
                  "pid": os.getpid(), "finished": time.time(),
                  # The worker's peak resident memory so far (Linux: KiB).
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 1024, 1)}
        with replaced(self._marker(shard)) as partial:
            partial.write_text(json.dumps(marker))

    def status(self, shard: Shard) -> str:
        """``done``, ``missing`` (no marker: never finished) or ``corrupted`` (its output is
        gone or does not match the marker)."""
        try:
            marker = json.loads(self._marker(shard).read_text())
        except (OSError, ValueError):
            return "missing"
        output = self._output(shard)
        if (marker.get("lo"), marker.get("hi")) != (shard.lo, shard.hi) or \
                not output.is_file() or output.stat().st_size != marker.get("bytes") or \
                file_checksum(output) != marker.get("sha256"):
            return "corrupted"
        return "done"

    def load(self, shard: Shard):
        """A done shard's result (checked against its marker)."""
        data = self._output(shard).read_bytes()
        marker = json.loads(self._marker(shard).read_text())
        if hashlib.sha256(data).hexdigest() != marker["sha256"]:
            raise InputError(f"work directory {str(self.path)!r}: shard {shard.index}'s output "
                             "changed after it was checked; run the job again to recompute it")
        return pickle.loads(data)

    def forget(self, shard: Shard) -> None:
        """Remove a shard's marker and output (to compute it again)."""
        self._marker(shard).unlink(missing_ok=True)
        self._output(shard).unlink(missing_ok=True)
