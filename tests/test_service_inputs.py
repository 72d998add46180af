"""Models of several inputs and of token ids, loaded through Kipoi's own loader (dict schemas,
inputs.yaml) and explained in process and through the gRPC service: the real client against a
real server on a loopback port. Remote results must equal in-process ones exactly."""
import grpc
import numpy as np
import pytest
import torch
import yaml

import kipoi_explain as kx
from kipoi_explain import InputError

from conftest import EXAMPLE_DIR, random_onehot, serve
from test_service import check_error

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

LENGTH, CHANNELS, BINS = 60, 2, 6
VOCAB = ["<pad>"] + [f"GENE{i:02d}" for i in range(1, 16)]
TOKENS = 6

MULTI = '''
import torch
from torch import nn


class DnaTrackProfile(nn.Module):
    """DNA and a two-channel track, plus covariates, to a profile of 6 bins x 2 tasks."""

    def __init__(self):
        super().__init__()
        self.dna = nn.Conv1d(4, 4, 7, padding=3)
        self.track = nn.Conv1d(2, 4, 5, padding=2)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool1d(10)
        self.scale = nn.Linear(3, 4)
        self.head = nn.Conv1d(4, 2, 1)

    def forward(self, seq, signal, covariates):
        h = self.pool(self.relu(self.dna(seq) + self.track(signal)))
        h = h * self.scale(covariates)[:, :, None]
        return self.head(h).transpose(1, 2)
'''

RANKS = '''
import torch
from torch import nn


class RankClassifier(nn.Module):
    """Gene tokens in rank order: embedding plus position, mean, two logits."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.position = nn.Parameter(torch.zeros(6, 8))
        self.head = nn.Linear(8, 2)

    def forward(self, ids):
        return self.head(torch.tanh(self.embed(ids) + self.position).mean(1))
'''


def write_model(directory, source, cls, inputs, targets, extra_files=None):
    directory.mkdir()
    (directory / "model.py").write_text(source)
    namespace = {}
    exec(compile(source, str(directory / "model.py"), "exec"), namespace)
    torch.manual_seed(0)
    module = namespace[cls]()
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.5)
    torch.save(module.state_dict(), directory / "weights.pt")
    (directory / "model.yaml").write_text(yaml.safe_dump({
        "defined_as": "kipoi.model.PyTorchModel",
        "args": {"module_file": "model.py", "module_class": cls, "weights": "weights.pt"},
        "default_dataloader": ".",
        "info": {"authors": [{"name": "kipoi-explain tests"}], "doc": "A test model."},
        "schema": {"inputs": inputs, "targets": targets},
        "dependencies": {"pip": ["torch"]}}, sort_keys=False))
    for name, text in (extra_files or {}).items():
        (directory / name).write_text(text)
    return directory


@pytest.fixture(scope="module")
def multi_dir(tmp_path_factory):
    return write_model(
        tmp_path_factory.mktemp("multi") / "dna_track_profile", MULTI, "DnaTrackProfile",
        {"seq": {"shape": f"(4, {LENGTH})", "special_type": "DNASeq", "doc": "DNA."},
         "signal": {"shape": f"({CHANNELS}, {LENGTH})", "doc": "Two tracks."},
         "covariates": {"shape": "(3,)", "doc": "Covariates."}},
        {"shape": f"({BINS}, 2)", "doc": "Profile.", "column_labels": ["plus", "minus"]})


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory):
    return write_model(
        tmp_path_factory.mktemp("tokens") / "rank_classifier", RANKS, "RankClassifier",
        {"name": "ids", "shape": f"({TOKENS},)", "doc": "Gene tokens in rank order."},
        {"shape": "(2,)", "doc": "Logits.", "column_labels": ["healthy", "disease"]},
        {"inputs.yaml": yaml.safe_dump({"ids": {"kind": "tokens",
                                                "vocabulary": "vocabulary.txt",
                                                "pad": "<pad>"}}),
         "vocabulary.txt": "\n".join(VOCAB) + "\n"})


CORIGAMI = EXAMPLE_DIR / "models" / "standins" / "corigami_like"
CORIGAMI_DATA = EXAMPLE_DIR / "data" / "standins" / "corigami_like"


@pytest.fixture(scope="module")
def server(multi_dir, token_dir):
    running = serve(models={"multi": multi_dir, "ranks": token_dir, "corigami": CORIGAMI})
    yield running
    running.stop(0)


def samples(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return random_onehot(n, LENGTH, seed), {
        "signal": rng.normal(size=(n, LENGTH, CHANNELS)).astype(np.float32),
        "covariates": rng.normal(size=(n, 3)).astype(np.float32)}


def cells(n=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.permutation(np.arange(1, len(VOCAB)))[:TOKENS] for _ in range(n)])
    ids[1, -3:] = 0
    return ids


def test_kipoi_dict_schema_gives_named_extra_inputs_called_by_keyword(multi_dir):
    model = kx.load_model(multi_dir)
    assert [(s.name, s.shape, s.kind) for s in model.extra_inputs] == [
        ("signal", (LENGTH, CHANNELS), "track"), ("covariates", (3,), "features")]
    assert model.predictor.keyword_inputs and model.output_shape == (BINS, 2)
    x, extra = samples()
    namespace = {}
    exec(MULTI, namespace)
    module = namespace["DnaTrackProfile"]()
    module.load_state_dict(torch.load(multi_dir / "weights.pt"))
    with torch.no_grad():
        expected = module(seq=torch.tensor(x.transpose(0, 2, 1)),
                          signal=torch.tensor(extra["signal"].transpose(0, 2, 1)),
                          covariates=torch.tensor(extra["covariates"])).numpy()
    np.testing.assert_allclose(model.with_inputs(extra, len(x)).predict(x), expected,
                               rtol=1e-5, atol=1e-6)


def test_kipoi_token_model_reads_its_vocabulary(token_dir):
    model = kx.load_model(token_dir)
    assert model.takes_tokens and model.layout.vocabulary == tuple(VOCAB)
    assert model.layers.embedding_layer() == "embed"


def test_inputs_yaml_errors_name_the_input(tmp_path, token_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.py", "model.yaml", "weights.pt", "vocabulary.txt"):
        (broken / name).write_bytes((token_dir / name).read_bytes())
    (broken / "inputs.yaml").write_text("ids: {kind: tokens, vocabulary: vocabulary.txt, "
                                        "pad: PAD}\n")
    with pytest.raises(InputError, match="pad token 'PAD' is not in the vocabulary"):
        kx.load_model(broken)
    (broken / "vocabulary.txt").write_text("\n")
    (broken / "inputs.yaml").write_text("ids: {kind: tokens, vocabulary: vocabulary.txt}\n")
    with pytest.raises(InputError, match="vocabulary vocabulary.txt is empty"):
        kx.load_model(broken)
    (broken / "inputs.yaml").write_text("ids: {kind: words}\n")
    with pytest.raises(InputError, match="input 'ids': kind 'words'"):
        kx.load_model(broken)
    (broken / "inputs.yaml").write_text("ids: {kind: tokens\n")
    with pytest.raises(InputError, match=r"inputs\.yaml, line 2: "):
        kx.load_model(broken)


def test_model_info_lists_extra_inputs_and_vocabulary(client):
    infos = {info["name"]: info for info in client.models()}
    assert infos["multi"]["extra_inputs"] == [
        {"name": "signal", "shape": [LENGTH, CHANNELS], "kind": "track"},
        {"name": "covariates", "shape": [3], "kind": "features"}]
    assert infos["ranks"]["input"] == "tokens" and infos["ranks"]["vocabulary"] == VOCAB
    assert "deletion" in infos["ranks"]["methods"]


@pytest.mark.parametrize("method", ["grad_x_input", "ism", "deepshap"])
def test_remote_explain_with_extra_inputs_equals_in_process(client, multi_dir, method):
    x, extra = samples()
    bins = {"plus": [0, 2], "minus": [3, 6]}
    options = {"n_references": 3} if method == "deepshap" else {}
    local = kx.explain(kx.load_model(multi_dir), x, method, target="all", bins=bins,
                       inputs=extra, **options)
    remote = client.explain("multi", x, method, target="all", bins=bins, inputs=extra,
                            **options)
    np.testing.assert_array_equal(remote.scores, local.scores)
    assert remote.target == local.target
    if method == "grad_x_input":
        assert set(remote.extra_scores) == {"signal", "covariates"}
        for name in remote.extra_scores:
            np.testing.assert_array_equal(remote.extra_scores[name], local.extra_scores[name])
    else:
        assert remote.extra_scores is None


def test_remote_screen_with_extra_inputs_equals_in_process(client, multi_dir):
    x, extra = samples(3)
    local = kx.screen(kx.load_model(multi_dir), x, window=10, perturbation="mask",
                      target="plus", bins=(1, 3), inputs=extra)
    remote = client.screen("multi", x, window=10, perturbation="mask", target="plus",
                           bins=[1, 3], inputs=extra)
    np.testing.assert_array_equal(remote.effects, local.effects)
    inserted = client.insertion("multi", x, "ACGTACGT", positions=[5, 30], target="minus",
                                inputs=extra)
    np.testing.assert_array_equal(inserted.effects, kx.insertion(
        kx.load_model(multi_dir), x, "ACGTACGT", positions=[5, 30], target="minus",
        inputs=extra).effects)


def test_remote_missing_extra_input_is_invalid_argument(client):
    x, extra = samples(2)
    with pytest.raises(grpc.RpcError) as err:
        client.explain("multi", x, "saliency", inputs={"signal": extra["signal"]})
    check_error(err.value, grpc.StatusCode.INVALID_ARGUMENT, "missing 'covariates'")


@pytest.mark.parametrize("method", ["deletion", "grad_x_input", "integrated_gradients",
                                    "occlusion"])
def test_remote_token_explanations_equal_in_process(client, token_dir, method):
    ids = cells()
    local = kx.explain(kx.load_model(token_dir), ids, method, target="disease")
    names = [[VOCAB[i] for i in row if i] for row in ids]
    remote = client.explain("ranks", names, method, target="disease")
    np.testing.assert_array_equal(remote.inputs, ids)
    np.testing.assert_array_equal(remote.scores, local.scores)
    if method == "deletion":
        assert (remote.scores[1, -3:] == 0).all() and (remote.scores[1, :3] != 0).all()


def test_inputs_yaml_declares_features_that_look_like_dna(tmp_path, token_dir):
    """A (6, 4) matrix of features would be read as 6 bp of one-hot DNA from the shape alone."""
    directory = write_model(
        tmp_path / "matrix", MATRIX, "MatrixNet",
        {"name": "scores", "shape": "(6, 4)", "doc": "Region x mark scores."},
        {"shape": "(1,)", "doc": "Expression.", "column_labels": ["expression"]})
    assert kx.load_model(directory).takes_dna
    (directory / "inputs.yaml").write_text("scores: {kind: features}\n")
    model = kx.load_model(directory)
    assert not model.takes_dna and model.layout.shape == (6, 4)
    result = kx.explain(model, np.random.default_rng(0).normal(size=(3, 6, 4)), "saliency")
    assert result.scores.shape == (3, 6, 4)
    (directory / "inputs.yaml").write_text("scores: {kind: track}\n")
    with pytest.raises(InputError, match="a track is an extra input"):
        kx.load_model(directory)


MATRIX = '''
import torch
from torch import nn


class MatrixNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(24, 1)

    def forward(self, x):
        return self.fc(x.reshape(len(x), -1))
'''


def test_remote_contact_map_window_with_tracks_equals_in_process(client):
    """A window of a contact map (nested bins) of a model of DNA plus two tracks: the C.Origami
    stand-in's screen and attribution, remote and in process."""
    seqs = kx.from_fasta(CORIGAMI_DATA / "sequences.fa").onehot[:3]
    tracks = {name: np.load(CORIGAMI_DATA / f"{name}.npy")[:3] for name in ("ctcf", "atac")}
    corner = ((2, 3), (9, 10))
    model = kx.load_model(CORIGAMI)
    local = kx.screen(model, seqs, window=64, perturbation="delete", bins=corner,
                      inputs=tracks)
    remote = client.screen("corigami", seqs, window=64, perturbation="delete",
                           bins=corner, inputs=tracks)
    np.testing.assert_array_equal(remote.effects, local.effects)
    assert remote.target["names"] == local.target["names"] == ["contact[2,9]"]
    local = kx.explain(model, seqs, "grad_x_input", bins=corner, inputs=tracks)
    remote = client.explain("corigami", seqs, "grad_x_input", bins=corner,
                            inputs=tracks)
    np.testing.assert_array_equal(remote.scores, local.scores)
    for name in tracks:
        np.testing.assert_array_equal(remote.extra_scores[name], local.extra_scores[name])
