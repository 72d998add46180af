"""Third-party noise kept off the terminal of a command-line run, unless ``--verbose``.

TensorFlow's C++ runtime logs while it is imported (oneDNN notices, CPU features, missing
CUDA drivers), and some of it before absl's logging is set up, which no environment variable
silences; Kipoi warns that ``pkg_resources`` is deprecated; TensorFlow and Keras warn about
their own deprecations. :func:`silence` keeps those off stderr, and only those: our own
warnings and logs (e.g. fast ISM falling back) still show, as does anything else printed
while TensorFlow is imported.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings

#: A line of TensorFlow's C++ (absl) logging, e.g. ``I0000 00:00:17... 123 port.cc:153] ...``.
NATIVE_LOG = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
                        r"|WARNING: All log messages before absl::InitializeLog\(\)"
                        r"|To enable the following instructions: )")

#: The frameworks whose deprecation warnings are theirs to fix, not the user's.
FRAMEWORKS = r"(?:tensorflow|keras|tf_keras|absl|google\.protobuf)(?:\.|$)"


def silence() -> None:
    """Silence the known third-party noise of this process; call before TensorFlow or Kipoi
    is imported. An environment variable the user set is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    filter_warnings()
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Kipoi's notices ("successfully loaded the model from ..."); its warnings still show.
    logging.getLogger("kipoi").setLevel(logging.WARNING)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _NativeLogFilter)
                                                   for f in sys.meta_path):
        sys.meta_path.insert(0, _NativeLogFilter())


def filter_warnings() -> None:
    """Targeted filters: Kipoi's ``pkg_resources`` notice, the frameworks' deprecations."""
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated",
                            category=UserWarning)
    warnings.filterwarnings("ignore", message=r"Deprecated call to `pkg_resources",
                            category=DeprecationWarning)
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=FRAMEWORKS)


class _NativeLogFilter(importlib.abc.MetaPathFinder):
    """Imports ``tensorflow`` with the process's stderr (file descriptor 2, where C++ logs)
    sent to a file, then writes back every line of it but TensorFlow's C++ log lines."""

    busy = False

    def find_spec(self, name, path, target=None):
        # Also asked by mere look-ups (torch's importlib.util.find_spec("tensorflow")): it
        # stays until the module is loaded.
        if name != "tensorflow" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy = False
        if spec is not None and spec.loader is not None:
            original = spec.loader.exec_module

            def exec_module(module):
                if self in sys.meta_path:
                    sys.meta_path.remove(self)
                with filtered_stderr():
                    original(module)

            spec.loader.exec_module = exec_module
        return spec


class filtered_stderr:
    """Context manager: file descriptor 2 goes to a temporary file; on leaving, the lines
    that are no C++ log lines are written back to stderr."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            self.saved = None
            return self
        self.file = tempfile.TemporaryFile()
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            return False
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        text = self.file.read().decode(errors="replace")
        self.file.close()
        kept = [line for line in text.splitlines(keepends=True) if not NATIVE_LOG.match(line)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
        return False
