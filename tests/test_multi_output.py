"""Models of several outputs, loaded as they are and addressed by name, everywhere: a Kipoi
model directory of two targets (a stranded profile, channels first, and a count), through the
library, the command line, the server and VCF scoring; and a Keras model of two outputs."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import kipoi_explain as kx
from kipoi_explain.variants import score_variants
from kipoi_explain.writers.hdf5 import read_hdf5

from conftest import make_torch_model, other, serve

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "examples" / "data" / "genome.fa"
LENGTH = 200

TWO_HEADS = '''
import torch
from torch import nn


class TwoHeads(nn.Module):
    """BPNet's outputs: a stranded profile (N, 2, 200), channels first, and a count (N, 1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 9, padding=4)
        self.relu = nn.ReLU()
        self.profile = nn.Conv1d(8, 2, 5, padding=2)
        self.counts = nn.Linear(8, 1)

    def forward(self, x):
        h = self.relu(self.conv(x))
        return self.profile(h), self.counts(h.mean(-1))
'''


def two_heads_dir(directory: Path, labels: bool = True) -> Path:
    """A Kipoi model directory of :data:`TWO_HEADS` whose schema declares both targets; with
    ``labels`` the profile's strands are named (which settles its track axis)."""
    make_torch_model(directory, TWO_HEADS, "TwoHeads", (4, LENGTH), ["unused"],
                     "A profile and a count, for tests.")
    spec = yaml.safe_load((directory / "model.yaml").read_text())
    profile = {"name": "profile", "shape": f"(2, {LENGTH})", "doc": "Stranded profile."}
    if labels:
        profile["column_labels"] = ["plus", "minus"]
    spec["schema"]["targets"] = [profile, {"name": "counts", "shape": "(1,)",
                                           "doc": "Total count."}]
    (directory / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return two_heads_dir(tmp_path_factory.mktemp("two_heads") / "two_heads")


@pytest.fixture(scope="module")
def model(model_dir):
    return kx.load_model(str(model_dir))


@pytest.fixture(scope="module")
def seqs():
    return kx.from_bed(ROOT / "examples" / "data" / "regions.bed", GENOME, LENGTH).onehot[:4]


def autograd(model, x, pick):
    inputs = torch.tensor(model.layout.to_model(x), requires_grad=True)
    (grad,) = torch.autograd.grad(pick(model.predictor.module(inputs)).sum(), inputs)
    return model.layout.from_model(grad.numpy())


def cli(*args):
    return subprocess.run([sys.executable, "-m", "kipoi_explain", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_a_kipoi_directory_of_two_targets_loads_with_named_heads(model, seqs):
    assert [(h.name, h.shape) for h in model.heads] == [("profile", (LENGTH, 2)),
                                                      ("counts", (1,))]
    assert model.output_names == ("profile:plus", "profile:minus", "counts")
    split = model.split(model.predict(seqs))
    with torch.no_grad():
        profile, counts = model.predictor.module(torch.tensor(model.layout.to_model(seqs)))
    np.testing.assert_allclose(split["profile"], profile.numpy().transpose(0, 2, 1), atol=1e-6)
    np.testing.assert_allclose(split["counts"], counts.numpy(), atol=1e-6)
    assert model.describe()["heads"][1] == {"name": "counts", "shape": [1],
                                            "task_names": ["counts"], "offset": 2 * LENGTH}


def test_an_undeclared_track_axis_is_refused_until_outputs_yaml_declares_it(tmp_path, seqs):
    directory = two_heads_dir(tmp_path / "unlabelled", labels=False)
    with pytest.raises(kx.InputError, match=r"output 'profile' has shape \(2, 200\).*outputs\."
                                            r"yaml"):
        kx.load_model(str(directory))
    (directory / "outputs.yaml").write_text("profile: {layout: 'tasks,bins'}\n")
    loaded = kx.load_model(str(directory))
    assert loaded.heads[0].shape == (LENGTH, 2)
    (directory / "outputs.yaml").write_text("profiles: {layout: 'tasks,bins'}\n")
    with pytest.raises(kx.InputError, match="outputs.yaml names target.*profiles.*it has "
                                            "profile, counts"):
        kx.load_model(str(directory))
    (directory / "outputs.yaml").write_text("profile: {layout: 'tasks,bins'\n")
    with pytest.raises(kx.InputError, match=r"outputs\.yaml, line 2: .*expected ',' or '}'"):
        kx.load_model(str(directory))


def test_a_head_window_is_explained_as_the_sum_of_its_bins(model, seqs):
    result = kx.explain(model, seqs, "saliency", target="profile:minus", bins=(90, 110))
    expected = autograd(model, seqs, lambda out: out[0][:, 1, 90:110])
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-7)
    deeplift = kx.explain(model, seqs, "deepshap", target="counts", n_references=3)
    assert np.abs(deeplift.delta).max() < 1e-5


@pytest.mark.slow
def test_the_command_line_explains_and_predicts_a_head(model, seqs, tmp_path):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{''.join('ACGT'[j] for j in row.argmax(1))}\n"
                             for i, row in enumerate(seqs)))
    out = tmp_path / "profile.h5"
    proc = cli("explain", model.source["path"], "--sequences", fasta, "--method", "saliency",
               "--target", "profile:plus", "--bins", "40,60", "-o", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    expected = kx.explain(model, seqs, "saliency", target="profile:plus", bins=(40, 60))
    np.testing.assert_allclose(read_hdf5(out).scores, expected.scores, rtol=1e-5, atol=1e-7)

    proc = cli("predict", model.source["path"], "--sequences", fasta, "-o",
               tmp_path / "p.tsv", "--no-progress")
    assert proc.returncode != 0 and "write p.h5 instead" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("predict", model.source["path"], "--sequences", fasta, "-o", tmp_path / "p.h5",
               "--no-progress")
    assert proc.returncode == 0, proc.stderr
    import h5py

    with h5py.File(tmp_path / "p.h5") as h5:
        np.testing.assert_allclose(h5["heads/profile"][:], model.split(
            model.predict(seqs))["profile"], atol=1e-6)
        assert h5["heads/counts"].shape == (len(seqs), 1)


@pytest.mark.slow
def test_the_server_explains_a_head_as_the_library_does(model, model_dir, seqs):
    from kipoi_explain.client import Client

    running = serve({"two": model_dir})
    try:
        with Client(f"127.0.0.1:{running.port}", timeout=120) as client:
            info = client.model_info("two")
            assert [h.name for h in info.heads] == ["profile", "counts"]
            remote = client.explain("two", seqs, "saliency", target="counts")
            windowed = client.explain("two", seqs, "grad_x_input", target="profile",
                                      bins=(10, 12))
    finally:
        running.stop(0)
    np.testing.assert_allclose(remote.scores, kx.explain(model, seqs, "saliency",
                                                         target="counts").scores, atol=1e-7)
    np.testing.assert_allclose(windowed.scores, kx.explain(
        model, seqs, "grad_x_input", target="profile", bins=(10, 12)).scores, atol=1e-7)


@pytest.mark.slow
def test_variants_are_scored_on_a_head_and_its_bins(model, tmp_path):
    import pyfaidx
    from cyvcf2 import VCF

    chr1 = str(pyfaidx.Fasta(str(GENOME))["chr1"][:5000])
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=30000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t1000\trs1\t{chr1[999]}\t{other(chr1[999])}\t.\tPASS\t.\n"
                   f"chr1\t3000\trs2\t{chr1[2999]}\t{other(chr1[2999])}\t.\tPASS\t.\n")
    counts = list(score_variants(model, vcf, GENOME, target="counts"))
    assert [list(e.outputs) for e in counts] == [["counts"], ["counts"]]
    window = list(score_variants(model, vcf, GENOME, target="profile:minus", bins=(99, 101)))
    assert list(window[0].outputs) == ["profile:minus[99]", "profile:minus[100]"]
    # Each bin scored apart: the alt - ref difference in that bin of the minus strand.
    start = window[0].window_start
    ref = chr1[start:start + LENGTH]
    alt = ref[:999 - start] + other(chr1[999]) + ref[1000 - start:]
    split = model.split(model.predict(kx.from_strings([ref, alt]).onehot))["profile"]
    np.testing.assert_allclose(window[0].scores["diff"], split[1, 99:101, 1] - split[0, 99:101, 1],
                               rtol=1e-5, atol=1e-6)

    out = tmp_path / "scored.vcf.gz"
    proc = cli("score-vcf", model.source["path"], "--vcf", vcf, "--fasta", GENOME, "--target",
               "profile:plus", "--bins", "99,101", "-o", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "profile:plus[99]|profile:plus[100]" in VCF(str(out)).raw_header


def test_a_keras_model_of_two_outputs_names_its_heads_after_its_output_layers():
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((LENGTH, 4))
    hidden = keras.layers.Conv1D(6, 7, padding="same", activation="relu")(inputs)
    profile = keras.layers.Conv1D(2, 3, padding="same", name="profile")(hidden)
    counts = keras.layers.Dense(1, name="counts")(keras.layers.GlobalAveragePooling1D()(hidden))
    net = keras.Model(inputs, [profile, counts])
    model = kx.load_model(net)
    assert [(h.name, h.shape) for h in model.heads] == [("profile", (LENGTH, 2)),
                                                      ("counts", (1,))]
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, LENGTH))]
    result = kx.explain(model, x, "saliency", target="profile:output_1", bins=(20, 30))
    inputs = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = tf.reduce_sum(net(inputs)[0][:, 20:30, 1])
    np.testing.assert_allclose(result.scores, tape.gradient(value, inputs).numpy(),
                               rtol=1e-5, atol=1e-7)
    deeplift = kx.explain(model, x, "deepshap", target="counts", n_references=2)
    assert np.abs(deeplift.delta).max() < 1e-5
