"""Shared fixtures: small seeded models (PyTorch and Keras) and one-hot sequences."""
import os
import socket
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugin"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:
    # torch._dynamo must be imported before TensorFlow in one process, or importing it
    # segfaults (in triton's import); the published architectures' packages import it through
    # transformers (enformer-pytorch, borzoi-pytorch), after Keras tests have loaded TensorFlow.
    import torch._dynamo  # noqa: E402, F401
except ImportError:
    pass

LENGTH = 100


def wait_for(predicate, timeout=60, what="condition"):
    """Poll ``predicate()`` until it is true (a condition on another thread or process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A loopback port nothing listens on (once the probe that found it is closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def random_onehot(n, length=LENGTH, seed=0):
    """``(n, length, 4)`` float32 one-hot of random ACGT sequences."""
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, length))
    return np.eye(4, dtype=np.float32)[idx]


def make_torch_cnn(length=LENGTH, n_outputs=2, seed=0):
    """Conv1d + ReLU + MaxPool1d + Linear + Sigmoid, channels first ``(N, 4, L)``."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv1d(4, 6, kernel_size=7, padding=3),
        torch.nn.ReLU(),
        torch.nn.MaxPool1d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(6 * (length // 4), n_outputs),
        torch.nn.Sigmoid(),
    ).eval()


def make_keras_cnn(length=LENGTH, n_outputs=2, seed=0):
    """Conv1D + MaxPooling1D + Dense(sigmoid), bases last ``(N, L, 4)``."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(6, 7, padding="same", activation="relu", name="conv"),
        keras.layers.MaxPooling1D(4, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(n_outputs, activation="sigmoid", name="dense"),
    ])


@pytest.fixture
def onehot():
    return random_onehot(5)


@pytest.fixture(scope="module")
def torch_cnn():
    return make_torch_cnn()


@pytest.fixture(scope="module")
def keras_cnn():
    return make_keras_cnn()


@pytest.fixture(scope="module")
def model(torch_cnn):
    """The torch CNN behind the Model interface, outputs named ``neg`` and ``pos``."""
    import kipoi_explain as kx

    return kx.load_model(torch_cnn, input_length=LENGTH, output_names=["neg", "pos"])


@pytest.fixture(scope="module")
def genome():
    """The example genome's contigs as upper-case strings."""
    import pyfaidx

    path = Path(__file__).resolve().parents[1] / "examples" / "data" / "genome.fa"
    fasta = pyfaidx.Fasta(str(path), as_raw=True)
    seqs = {name: fasta[name][:].upper() for name in fasta.keys()}
    fasta.close()
    return seqs


def other(base: str) -> str:
    """A base different from ``base`` (for SNVs)."""
    return "C" if base.upper() != "C" else "G"


#: The VCF 4.3 specification's own example (shared material, not in the repo).
SPEC_VCF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / \
    "vcf43_spec_example.vcf"


@pytest.fixture(scope="session")
def spec_fasta(tmp_path_factory):
    """A FASTA of contig ``20`` whose bases agree with the spec example's REF alleles, and its
    sequence. Skips when the shared example is absent."""
    if not SPEC_VCF.is_file():
        pytest.skip("shared VCF 4.3 example absent")
    import pysam

    rng = np.random.default_rng(43)
    seq = np.array(list("ACGT"))[rng.integers(0, 4, size=1_300_000)]
    with pysam.VariantFile(str(SPEC_VCF)) as vcf:
        for record in vcf:
            seq[record.pos - 1:record.pos - 1 + len(record.ref)] = list(record.ref)
    path = tmp_path_factory.mktemp("spec") / "chr20.fa"
    text = "".join(seq)
    path.write_text(">20\n" + "\n".join(text[i:i + 60] for i in range(0, len(text), 60)) + "\n")
    return path, text


EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples"


def example_model(framework):
    """A fresh copy of a bundled example model (``pytorch`` or ``keras``), safe to modify."""
    import kipoi_explain as kx

    return kx.load_model(str(EXAMPLE_DIR / "models" / f"{framework}_cnn"))


@pytest.fixture(scope="session")
def example_regions():
    """One-hot ``(100, 200, 4)`` of the example regions (60 with planted motifs, then 40 without)."""
    import kipoi_explain as kx

    return kx.from_bed(EXAMPLE_DIR / "data" / "regions.bed", EXAMPLE_DIR / "data" / "genome.fa",
                       200).onehot


def diagnosis_context(model, x, target=0):
    """The :class:`Context` a check receives, for calling one check directly."""
    from kipoi_explain.diagnostics.context import Context

    return Context(model, x, model.target(target), model.batch_size)


#: A server's default max_batch_size: it caps each model's automatic block size at it.
SERVER_BATCH = 256


def served_locally(path):
    """The Kipoi model at ``path`` loaded in this process in the blocks a server runs it in,
    so that the settings a result records (and float32 sums) are the server's."""
    import kipoi_explain as kx

    return kx.load_model(str(path), batch_size=SERVER_BATCH)


def serve(models=None, fastas=None, **settings):
    """A real kipoi-explain server on an ephemeral loopback port (stop it with ``.stop()``).

    ``models`` maps names to Kipoi model directories (default: both bundled examples as
    ``cnn`` and ``kcnn``), ``fastas`` names to FASTA files (default: the example genome as
    ``genome``); other keyword arguments are :class:`ServerConfig` fields, and ``batching=``
    a dict of :class:`Batching` fields.
    """
    from kipoi_explain.server.config import Batching, ServerConfig, check, model_spec
    from kipoi_explain.server.main import start

    models = models or {"cnn": EXAMPLE_DIR / "models" / "pytorch_cnn",
                        "kcnn": EXAMPLE_DIR / "models" / "keras_cnn"}
    fastas = fastas if fastas is not None else {"genome": EXAMPLE_DIR / "data" / "genome.fa"}
    settings["batching"] = Batching(**settings.get("batching", {}))
    config = ServerConfig(
        models={name: model_spec(Path.cwd(), name, str(path)) for name, path in models.items()},
        fastas={name: str(path) for name, path in fastas.items()}, port=0,
        devices=settings.pop("devices", ["cpu"]), **settings)
    check(config)
    return start(config)


@pytest.fixture(scope="session")
def server():
    """One server with both example models and the example genome, no auth."""
    running = serve()
    yield running
    running.stop(0)


@pytest.fixture
def client(server):
    from kipoi_explain.client import Client

    with Client(f"127.0.0.1:{server.port}", timeout=120) as connection:
        yield connection


def kipoi_model_yaml(defined_as: str, args: dict, input_shape: tuple, alphabet_axis: int,
                     outputs: list[str], doc: str) -> str:
    """The model.yaml of a small test model of one-hot DNA (``input_shape`` as Kipoi writes
    it, the alphabet on ``alphabet_axis``) with one sigmoid output per name of ``outputs``."""
    import yaml

    length = input_shape[1 - alphabet_axis]
    return yaml.safe_dump({
        "defined_as": defined_as, "args": args,
        "default_dataloader": {"defined_as": "kipoiseq.dataloaders.SeqIntervalDl",
                               "default_args": {"auto_resize_len": length,
                                                "alphabet_axis": alphabet_axis,
                                                "ignore_targets": True}},
        "info": {"authors": [{"name": "kipoi-explain tests"}], "doc": doc},
        "schema": {"inputs": {"name": "seq", "shape": str(tuple(input_shape)),
                              "special_type": "DNASeq",
                              "doc": f"One-hot DNA, alphabet A, C, G, T along axis "
                                     f"{alphabet_axis}."},
                   "targets": {"shape": f"({len(outputs)},)", "doc": "Sigmoid outputs.",
                               "column_labels": list(outputs)}},
        "dependencies": {"pip": ["torch" if "PyTorch" in defined_as else "keras>=3"]}},
        sort_keys=False)


TINY_TRANSFORMER = '''
import torch
from torch import nn


class TinyTransformer(nn.Module):
    """Conv stem (10 bp tokens), two TransformerEncoderLayers (2 heads), mean pool, 2 outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, kernel_size=9, padding=4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(10)
        layer = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.block1 = nn.TransformerEncoderLayer(**layer)
        self.block2 = nn.TransformerEncoderLayer(**layer)
        self.fc = nn.Linear(8, 2)
        self.out = nn.Sigmoid()

    def forward(self, x):
        tokens = self.pool(self.relu(self.conv(x))).transpose(1, 2)
        return self.out(self.fc(self.block2(self.block1(tokens)).mean(dim=1)))
'''


def make_torch_model(directory, source: str, class_name: str, input_shape: tuple,
                     outputs: list[str], doc: str, seed: int = 0) -> Path:
    """A Kipoi model directory in ``directory`` of the PyTorch module ``class_name`` defined by
    ``source``, with seeded, untrained weights; input ``input_shape`` (alphabet first)."""
    import importlib.util

    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.py").write_text(source)
    (directory / "model.yaml").write_text(kipoi_model_yaml(
        "kipoi.model.PyTorchModel", {"module_file": "model.py", "module_class": class_name,
                                     "weights": "weights.pt"},
        input_shape, 0, outputs, doc))
    spec = importlib.util.spec_from_file_location(f"kx_test_{class_name}_{seed}",
                                                  directory / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(seed)
    torch.save(getattr(module, class_name)().eval().state_dict(), directory / "weights.pt")
    return directory


def make_tiny_transformer(directory, seed: int = 0):
    """A Kipoi model directory in ``directory`` of a seeded, untrained conv + transformer
    PyTorch model: input (4, 100), attention layers ``block1.self_attn`` and
    ``block2.self_attn`` over ten 10 bp tokens, outputs ``left`` and ``right``."""
    return make_torch_model(directory, TINY_TRANSFORMER, "TinyTransformer", (4, 100),
                            ["left", "right"], "Untrained conv + transformer for tests.", seed)
