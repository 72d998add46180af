"""The server's configuration: which models and FASTA files clients may use, and how to serve.

A YAML file (``kipoi-explain-server --config server.yaml``)::

    host: 127.0.0.1
    port: 50051
    models:                        # the allow-list: clients name these keys, never paths
      cnn: examples/models/pytorch_cnn
      basset: {zoo: /data/kipoi-models, name: Basset, batch_size: 64}
    fastas:
      genome: examples/data/genome.fa
    devices: auto                  # or [cpu], [cuda:0, cuda:1]: one worker each
    workers: process               # each device's models in a supervised child (or: thread)
    cancel_grace_s: 5              # a given-up call stops by then, or its child is replaced
    batching: {max_batch_size: 256, max_wait_ms: 5, max_queue: 64, max_sequences: 1024,
               max_samples: 1024}
    max_message_mb: 64
    auth: {tokens: [...]}          # or token_env: KX_TOKEN; absent: no auth
    tls: {cert: server.crt, key: server.key}
    shutdown_grace_s: 30

Relative paths are read against the file's folder. Every mistake is an :class:`InputError`
naming the key.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kipoi_explain.backends.devices import cuda_devices
from kipoi_explain.errors import InputError

KEYS = ("host", "port", "models", "fastas", "devices", "workers", "cancel_grace_s", "batching",
        "max_message_mb", "auth", "tls", "shutdown_grace_s", "log_level")
WORKERS = ("process", "thread")
MODEL_KEYS = ("path", "zoo", "name", "batch_size", "output_layout")


@dataclass
class Batching:
    """Dynamic batching limits.

    Attributes
    ----------
    max_batch_size : int
        Rows per merged model call on a device.
    max_wait_ms : float
        How long a worker waits for other requests' calls to merge with the first one.
    max_queue : int
        Requests in flight (running or waiting) before new ones get RESOURCE_EXHAUSTED.
    max_sequences : int
        Sequences one request may hold, and the largest ``chunk_size`` of a stream.
    max_samples : int
        Largest ``n_steps``, ``n_samples``, ``n_references``, ``n_shuffles`` or
        ``n_attribution`` a request may ask for: each multiplies the work of every sequence.
    merge : bool
        Merge calls of different requests (off: each request's calls run alone, as a server
        without dynamic batching would).
    """

    max_batch_size: int = 256
    max_wait_ms: float = 5.0
    max_queue: int = 64
    max_sequences: int = 1024
    max_samples: int = 1024
    merge: bool = True


@dataclass
class ServerConfig:
    models: dict[str, dict]
    fastas: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 50051
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    workers: str = "process"
    cancel_grace_s: float = 5.0
    batching: Batching = field(default_factory=Batching)
    max_message_mb: float = 64.0
    tokens: list[str] = field(default_factory=list)
    tls: dict | None = None
    shutdown_grace_s: float = 30.0
    log_level: str = "info"

    @property
    def max_message_bytes(self) -> int:
        return int(self.max_message_mb * 2 ** 20)


def load_config(path) -> ServerConfig:
    """Read and check a YAML configuration file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"server config {str(path)!r} cannot be read: {err}") from err
    if not isinstance(raw, dict):
        raise InputError(f"server config {str(path)!r}: expected a mapping of settings")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise InputError(f"server config: unknown key(s) {', '.join(unknown)}; expected "
                         f"{', '.join(KEYS)}")
    base = path.parent
    auth = _mapping(raw, "auth", ("tokens", "token_env"))
    tokens = auth.get("tokens") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise InputError("server config auth.tokens: expected a list of non-empty strings")
    tokens = list(tokens)
    if auth.get("token_env"):
        value = os.environ.get(auth["token_env"])
        if not value:
            raise InputError(f"server config auth.token_env: environment variable "
                             f"{auth['token_env']!r} is not set")
        tokens.append(value)
    tls = _mapping(raw, "tls", ("cert", "key", "client_ca")) or None
    if tls is not None:
        tls = {key: resolve_path(base, tls.get(key), f"tls.{key}") for key in ("cert", "key")} | \
              ({"client_ca": resolve_path(base, tls["client_ca"], "tls.client_ca")}
               if tls.get("client_ca") else {})
    batching = _mapping(raw, "batching", tuple(Batching.__dataclass_fields__))
    config = ServerConfig(
        models={name: model_spec(base, name, spec) for name, spec in
                _mapping(raw, "models").items()},
        fastas={name: resolve_path(base, fasta, f"fastas.{name}") for name, fasta in
                _mapping(raw, "fastas").items()},
        host=str(raw.get("host", "127.0.0.1")), port=_number(raw, "port", 50051, int),
        devices=resolve_devices(raw.get("devices", "auto")),
        workers=str(raw.get("workers", "process")),
        cancel_grace_s=_number(raw, "cancel_grace_s", 5.0, float),
        batching=Batching(**{key: _setting(batching, key, default, "batching.")
                             for key, default in vars(Batching()).items()}),
        max_message_mb=_number(raw, "max_message_mb", 64.0, float), tokens=tokens, tls=tls,
        shutdown_grace_s=_number(raw, "shutdown_grace_s", 30.0, float),
        log_level=str(raw.get("log_level", "info")))
    check(config)
    return config


def _mapping(raw: dict, key: str, allowed: tuple[str, ...] | None = None) -> dict:
    """``raw[key]`` as a mapping (empty if absent), with only ``allowed`` keys."""
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(f"server config {key}: expected a mapping, got {value!r}")
    unknown = sorted(set(value) - set(allowed)) if allowed is not None else []
    if unknown:
        raise InputError(f"server config {key}: unknown key(s) {', '.join(map(str, unknown))}; "
                         f"expected {', '.join(allowed)}")
    return value


def _setting(raw: dict, key: str, default, prefix: str = ""):
    """A number or a flag, of the type of its default."""
    if isinstance(default, bool):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise InputError(f"server config {prefix}{key}: {value!r}, expected true or false")
        return value
    return _number(raw, key, default, type(default), prefix)


def _number(raw: dict, key: str, default, cast, prefix: str = ""):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (cast is int and value != int(value)):
        raise InputError(f"server config {prefix}{key}: {value!r}, expected "
                         f"{'an integer' if cast is int else 'a number'}")
    return cast(value)


def check(config: ServerConfig) -> None:
    """Raise :class:`InputError` for a configuration that cannot serve."""
    if not config.models:
        raise InputError("server config models: none given; name at least one Kipoi model "
                         "directory (NAME: PATH)")
    for key in ("max_batch_size", "max_queue", "max_sequences", "max_samples"):
        if getattr(config.batching, key) < 1:
            raise InputError(f"server config batching.{key}: expected a positive integer")
    if config.batching.max_wait_ms < 0:
        raise InputError("server config batching.max_wait_ms: expected 0 or more")
    if config.max_message_mb <= 0:
        raise InputError("server config max_message_mb: expected a positive number")
    if config.workers not in WORKERS:
        raise InputError(f"server config workers: {config.workers!r}; expected "
                         f"{' or '.join(WORKERS)}")
    if config.cancel_grace_s <= 0:
        raise InputError("server config cancel_grace_s: expected a positive number")


def model_spec(base: Path, name: str, spec) -> dict:
    """``NAME: PATH`` or ``NAME: {path | zoo + name, batch_size, output_layout}`` as load_model
    arguments."""
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        raise InputError(f"server config models.{name}: expected a path or a mapping with "
                         f"{', '.join(MODEL_KEYS)}")
    unknown = sorted(set(spec) - set(MODEL_KEYS))
    if unknown:
        raise InputError(f"server config models.{name}: unknown key(s) {', '.join(unknown)}; "
                         f"expected {', '.join(MODEL_KEYS)}")
    options = {"batch_size": int(spec["batch_size"])} if "batch_size" in spec else {}
    if "output_layout" in spec:
        layout = spec["output_layout"]
        if not isinstance(layout, (str, dict)):
            raise InputError(f"server config models.{name}.output_layout: expected a layout "
                             "such as 'tasks,bins', or a mapping of output names to layouts")
        options["output_layout"] = layout
    if "zoo" in spec:
        if "name" not in spec:
            raise InputError(f"server config models.{name}: a zoo model needs name: (the "
                             "model's name in the zoo checkout)")
        return {"source": spec["name"],
                "zoo": resolve_path(base, spec["zoo"], f"models.{name}.zoo"), **options}
    if "path" not in spec:
        raise InputError(f"server config models.{name}: expected path: (a Kipoi model "
                         "directory) or zoo: + name:")
    return {"source": resolve_path(base, spec["path"], f"models.{name}.path"), **options}


def resolve_path(base: Path, value, key: str) -> str:
    if not value:
        raise InputError(f"server config {key}: expected a path")
    path = Path(os.path.expanduser(str(value)))
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise InputError(f"server config {key}: {str(path)!r} does not exist")
    return str(path)


def resolve_devices(devices) -> list[str]:
    """``"auto"`` is every CUDA device, or the CPU when there is none."""
    if devices in (None, "auto"):
        return cuda_devices() or ["cpu"]
    devices = [devices] if isinstance(devices, str) else list(devices)
    for device in devices:
        if device != "cpu" and not str(device).startswith("cuda"):
            raise InputError(f"server config devices: {device!r}; expected cpu, cuda:K or auto")
    return [str(d) for d in devices]
