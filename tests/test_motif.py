"""Filter motifs: recovery of planted motifs, known filters, window alignment, matrices, q-values,
databases and errors, with the real libraries (torch, Keras 3, pyjaspar, memelite's TomTom)."""
from pathlib import Path

import numpy as np
import pytest
import torch

import kipoi_explain as kx
from kipoi_explain.motif import build_motif, load_database
from kipoi_explain.motif.database import MotifDatabase, jaspar
from kipoi_explain.motif.filters import SATURATION_EPS, activation_counts
from kipoi_explain.motif.matching import benjamini_hochberg
from kipoi_explain.motif.matrices import frequencies, information_content, log_odds, trim

from conftest import random_onehot

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Tests that match against a 3-motif MEME file need no reliable p-values from it.
pytestmark = pytest.mark.filterwarnings("ignore:tomtom was given:UserWarning")

#: Planted in the example data (README): CTCF MA0139.2, HNF4A MA1494.2, CEBPB MA0466.3.
PLANTED = {"MA0139": "CTCF", "MA1494": "HNF4A", "MA0466": "CEBPB"}

#: Motifs set as known filters: (JASPAR base ID, zero columns on the left). They have no
#: near-duplicate in JASPAR CORE vertebrates and have different lengths (REST is the longest).
KNOWN = (("MA0138", 0), ("MA0106", 1), ("MA0050", 4))
KNOWN_LENGTH = 100


def base_id(matrix_id: str) -> str:
    return matrix_id.split(".")[0]


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    """A MEME file of the three KNOWN JASPAR motifs: a fast database for tests that need one."""
    from memelite.io import write_meme

    db = jaspar()
    by_base = {base_id(i): k for k, i in enumerate(db.ids)}
    path = tmp_path_factory.mktemp("meme") / "three.meme"
    write_meme(str(path), {f"{db.ids[by_base[b]]} {db.names[by_base[b]]}": db.pfms[by_base[b]].T
                           for b, _ in KNOWN})
    return path


# ---- 1. planted motifs of the example models ----------------------------------------------

@pytest.fixture(scope="module")
def example_motifs():
    seqs = str(EXAMPLES / "data" / "sequences.fa")
    return {name: kx.motifs(kx.load_model(EXAMPLES / "models" / name), seqs)
            for name in ("pytorch_cnn", "keras_cnn")}


@pytest.mark.parametrize("model_name", ["pytorch_cnn", "keras_cnn"])
def test_example_models_recover_planted_motifs(example_motifs, model_name):
    found = example_motifs[model_name]
    assert len(found) == 16 and found.method == "activation"
    assert found.settings["n_sequences"] == 100 and found.database["source"] == "JASPAR"
    best = {}
    for motif in found:
        if motif.best is not None and base_id(motif.best.id) in PLANTED:
            key = base_id(motif.best.id)
            if key not in best or motif.best.q_value < best[key][0]:
                best[key] = (motif.best.q_value, motif.best.id, motif.name, motif.n_sites)
    for key, name in PLANTED.items():
        if key in best:
            q, matrix_id, filt, n_sites = best[key]
            print(f"{model_name} {name} ({matrix_id}): best q = {q:.3g} ({filt}, {n_sites} sites)")
        else:
            print(f"{model_name} {name} ({key}): top match of no filter")
    missing = [PLANTED[k] for k in PLANTED if k not in best or best[k][0] >= 0.05]
    assert not missing, f"{model_name}: no filter has {missing} as its top match with q < 0.05"


# ---- 2. filters set to known motifs ---------------------------------------------------------

@pytest.fixture(scope="module")
def known():
    """The chosen JASPAR motifs, their log-odds kernels (F, K, 4) ACGT, and sequences with
    instances sampled from the PFMs planted on the forward strand."""
    db = jaspar()
    by_base = {base_id(i): k for k, i in enumerate(db.ids)}
    ids = [db.ids[by_base[b]] for b, _ in KNOWN]
    names = [db.names[by_base[b]] for b, _ in KNOWN]
    pfms = [db.pfms[by_base[b]] for b, _ in KNOWN]
    width = max(len(p) for p in pfms)
    kernels = np.zeros((len(pfms), width, 4))
    for f, (pfm, (_, left)) in enumerate(zip(pfms, KNOWN)):
        assert left + len(pfm) <= width
        kernels[f, left:left + len(pfm)] = log_odds(pfm, pseudocount=0.1)
    rng = np.random.default_rng(7)
    x = random_onehot(300, KNOWN_LENGTH, seed=7)
    planted = rng.permutation(300)[:3 * 60].reshape(3, 60)
    for pfm, rows in zip(pfms, planted):
        for row in rows:
            start = rng.integers(0, KNOWN_LENGTH - len(pfm) + 1)
            bases = [rng.choice(4, p=column) for column in pfm]
            x[row, start:start + len(pfm)] = np.eye(4, dtype=np.float32)[bases]
    return {"ids": ids, "names": names, "pfms": pfms, "kernels": kernels, "x": x,
            "left": [left for _, left in KNOWN]}


def torch_known(kernels, length=KNOWN_LENGTH):
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv1d(4, len(kernels), kernels.shape[1]), torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(), torch.nn.Linear(len(kernels), 1))
    with torch.no_grad():
        module[0].weight.copy_(torch.tensor(kernels.transpose(0, 2, 1)))   # (F, 4, K)
        module[0].bias.zero_()
    return kx.load_model(module, input_length=length)


def keras_known(kernels, length=KNOWN_LENGTH):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(len(kernels), kernels.shape[1], name="conv"),
        keras.layers.ReLU(name="relu"),
        keras.layers.GlobalMaxPooling1D(name="gmp"),
        keras.layers.Dense(1, name="dense"),
    ])
    model.get_layer("conv").set_weights([kernels.transpose(1, 2, 0),          # (K, 4, F)
                                         np.zeros(len(kernels))])
    return kx.load_model(model)


KNOWN_BUILDERS = {"pytorch": torch_known, "keras": keras_known}


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
@pytest.mark.parametrize("method", ["weights", "activation"])
def test_known_filters_match_their_motifs(known, framework, method):
    model = KNOWN_BUILDERS[framework](known["kernels"])
    np.testing.assert_allclose(model.filters.conv_layers()[0].weights, known["kernels"], atol=1e-6)
    found = kx.motifs(model, known["x"] if method == "activation" else None, method=method)
    assert len(found) == len(known["ids"])
    for f, motif in enumerate(found):
        assert motif.details["filter"] == f and motif.details["method"] == method
        best = motif.best
        print(f"{framework} {method} filter {f} ({known['ids'][f]} {known['names'][f]}): top "
              f"{best.id} {best.name} q = {best.q_value:.3g}, {motif.n_sites} sites")
        assert best.id == known["ids"][f], [m.id for m in motif.matches]
        assert best.name == known["names"][f]
        assert best.q_value < 1e-3 and best.p_value <= best.q_value
        assert best.strand == "+"
        if method == "weights":
            # The zero columns are uniform, trimmed off; offsets refer to the whole filter.
            assert motif.core[0] >= known["left"][f]
            assert best.offset == -known["left"][f]
            assert motif.n_sites == 0
        else:
            assert motif.n_sites > 0


# ---- 3. activation windows against a naive reference ---------------------------------------

def geometry(framework, length, width, stride, dilation, padding):
    """Left padding and number of output positions, as each framework defines them."""
    span = dilation * (width - 1) + 1
    if framework == "pytorch":
        if padding == "same":
            left = (span - 1) // 2
            return left, length
        pad = 0 if padding == "valid" else int(padding)
        return pad, (length + 2 * pad - span) // stride + 1
    if padding == "valid":
        return 0, (length - span) // stride + 1
    if padding == "causal":
        return span - 1, -(-length // stride)
    n_out = -(-length // stride)                       # TensorFlow "SAME"
    total = max((n_out - 1) * stride + span - length, 0)
    return total // 2, n_out


def naive_counts(x, kernel, bias, framework, stride, dilation, padding, threshold):
    """Conv output by hand (kernel (F, K, 4) ACGT), then base counts of the windows above
    threshold x max, window by window."""
    n, length, _ = x.shape
    n_filters, width, _ = kernel.shape
    left, n_out = geometry(framework, length, width, stride, dilation, padding)
    act = np.zeros((n, n_out, n_filters))
    for i in range(n):
        for p in range(n_out):
            for f in range(n_filters):
                total = bias[f]
                for k in range(width):
                    col = p * stride - left + dilation * k
                    if 0 <= col < length:
                        total += float(x[i, col] @ kernel[f, k])
                act[i, p, f] = total
    maxima = act.max(axis=(0, 1))
    counts = np.zeros((n_filters, width, 4))
    sites = np.zeros(n_filters, dtype=np.int64)
    for f in range(n_filters):
        if maxima[f] <= 0:
            continue
        for i in range(n):
            for p in range(n_out):
                if act[i, p, f] > threshold * maxima[f]:
                    sites[f] += 1
                    for k in range(width):
                        col = p * stride - left + dilation * k
                        if 0 <= col < length:
                            counts[f, k] += x[i, col]
    return act, counts, sites


def torch_conv(width, stride, dilation, padding, length, n_filters=5):
    torch.manual_seed(3)
    conv = torch.nn.Conv1d(4, n_filters, width, stride=stride, dilation=dilation,
                           padding=padding)
    module = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveMaxPool1d(1),
                                 torch.nn.Flatten(), torch.nn.Linear(n_filters, 1))
    kernel = conv.weight.detach().numpy().transpose(0, 2, 1)          # by hand: (F, 4, K)
    return kx.load_model(module, input_length=length), kernel, conv.bias.detach().numpy()


def keras_conv(width, stride, dilation, padding, length, n_filters=5):
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(n_filters, width, strides=stride, dilation_rate=dilation,
                            padding=padding, name="conv"),
        keras.layers.GlobalMaxPooling1D(name="gmp"),
        keras.layers.Dense(1, name="dense"),
    ])
    kernel = np.asarray(model.get_layer("conv").kernel)                # (K, 4, F)
    bias = np.random.default_rng(3).normal(0, 0.1, n_filters)
    model.get_layer("conv").set_weights([kernel, bias])
    return kx.load_model(model), kernel.transpose(2, 0, 1), bias


CONV_CASES = [
    ("pytorch", 7, 1, 1, "same", 0.5),
    ("pytorch", 6, 1, 1, "same", 0.5),          # even kernel: one more column right than left
    ("pytorch", 7, 1, 1, 0, 0.5),
    ("pytorch", 7, 1, 1, "valid", 0.3),
    ("pytorch", 7, 1, 1, 2, 0.5),
    ("pytorch", 5, 1, 2, "same", 0.5),
    ("pytorch", 6, 1, 2, "same", 0.7),
    ("pytorch", 5, 1, 2, 3, 0.5),
    ("pytorch", 7, 2, 1, 3, 0.5),
    ("keras", 7, 1, 1, "same", 0.5),
    ("keras", 6, 1, 1, "same", 0.5),
    ("keras", 7, 1, 1, "valid", 0.3),
    ("keras", 5, 1, 2, "same", 0.5),
    ("keras", 6, 1, 2, "valid", 0.7),
    ("keras", 7, 2, 1, "valid", 0.5),
    ("keras", 7, 2, 1, "same", 0.5),            # length 61: TF pads 3 left, as for stride 1
    # TensorFlow pads ((n_out - 1) * s + span - L) // 2 on the left: 2 here, not 3.
    pytest.param("keras", 7, 2, 1, "same", 0.5, id="keras-7-2-1-same-0.5-length60"),
    ("keras", 5, 1, 1, "causal", 0.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("framework, width, stride, dilation, padding, threshold", CONV_CASES)
def test_activation_counts_match_naive_reference(request, framework, width, stride, dilation,
                                                 padding, threshold):
    length = 60 if request.node.callspec.id.endswith("length60") else 61
    build = torch_conv if framework == "pytorch" else keras_conv
    model, kernel, bias = build(width, stride, dilation, padding, length)
    x = random_onehot(30, length, seed=11)
    x[3, 10:14] = 0.25                          # ambiguous bases (N as uniform)
    x[7, :3] = 0.25
    conv = model.filters.conv_layers()[0]
    assert (conv.stride, conv.dilation) == (stride, dilation)
    act, ref_counts, ref_sites = naive_counts(x, kernel, bias, framework, stride, dilation,
                                              padding, threshold)
    # The reference's geometry is that of the framework: same conv output.
    np.testing.assert_allclose(kx.layers.activations(model, x, conv.name), act, atol=1e-4)
    counts, sites = activation_counts(model, x, conv, threshold, batch_size=7)
    assert ref_sites.sum() > 0
    np.testing.assert_array_equal(sites, ref_sites)
    np.testing.assert_array_equal(counts, ref_counts)


def test_activation_counts_skip_filters_that_never_fire():
    model, kernel, bias = torch_conv(5, 1, 1, "same", 40, n_filters=2)
    module = model.predictor.module
    with torch.no_grad():
        module[0].weight[1] = 0
        module[0].bias[1] = -1.0
    conv = model.filters.conv_layers()[0]
    counts, sites = activation_counts(model, random_onehot(10, 40, seed=2), conv)
    assert sites[1] == 0 and not counts[1].any() and sites[0] > 0


# ---- 4. weights method: saturation, activation correlation, weight norm --------------------

def softmax_by_hand(kernel):
    e = np.exp(kernel - kernel.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_weight_saturation_grows_with_kernel_scale(known, framework, tiny_db):
    """Motif kernels at a typical first-layer scale (|w| < 0.35) give a softmax far from 0 and 1;
    the same kernels times 50 give near one-hot columns (the zero columns stay uniform)."""
    small_kernels = known["kernels"] / 10
    assert np.abs(small_kernels).max() < 0.35
    small = kx.motifs(KNOWN_BUILDERS[framework](small_kernels), method="weights",
                      database=tiny_db)
    large = kx.motifs(KNOWN_BUILDERS[framework](small_kernels * 50), method="weights",
                      database=tiny_db)
    for f in range(len(small_kernels)):
        print(f"{framework} filter {f}: saturation {small[f].details['saturation']:.3f} -> "
              f"{large[f].details['saturation']:.3f} x50")
        assert small[f].details["saturation"] < 0.01
        assert large[f].details["saturation"] > 0.5
        # The definition: share of the kernel softmax's entries within eps of 0 or 1.
        for found, kernel in ((small, small_kernels[f]), (large, small_kernels[f] * 50)):
            pfm = softmax_by_hand(kernel)
            np.testing.assert_allclose(found[f].pfm, pfm, rtol=1e-5, atol=1e-7)
            expected = np.mean((pfm < SATURATION_EPS) | (pfm > 1 - SATURATION_EPS))
            assert found[f].details["saturation"] == pytest.approx(expected)


def test_weight_saturation_of_random_kernels(tiny_db):
    torch.manual_seed(5)
    module = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 9), torch.nn.ReLU(),
                                 torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 1))
    database = load_database(tiny_db)
    small = kx.motifs(kx.load_model(module, input_length=50), method="weights",
                      database=database)
    with torch.no_grad():
        module[0].weight *= 50
    large = kx.motifs(kx.load_model(module, input_length=50), method="weights",
                      database=database)
    assert max(m.details["saturation"] for m in small) == 0
    assert np.mean([m.details["saturation"] for m in large]) > 0.4


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_weights_method_details(known, framework):
    model = KNOWN_BUILDERS[framework](known["kernels"])
    without = kx.motifs(model, method="weights")
    with_seqs = kx.motifs(model, known["x"], method="weights")
    for f in range(len(known["ids"])):
        norm = np.linalg.norm(known["kernels"][f])
        for found in (without, with_seqs):
            assert found[f].details["weight_norm"] == pytest.approx(norm, rel=1e-5)
        assert "activation_correlation" not in without[f].details
        corr = with_seqs[f].details["activation_correlation"]
        print(f"{framework} filter {f}: activation_correlation {corr:.3f}")
        assert corr > 0.8
        assert with_seqs[f].n_sites > 0 and without[f].n_sites == 0
        # Sequences change nothing but the correlation and the sites.
        np.testing.assert_array_equal(with_seqs[f].pfm, without[f].pfm)
        assert [m.id for m in with_seqs[f].matches] == [m.id for m in without[f].matches]
    assert with_seqs.settings["n_sequences"] == 300 and without.settings["n_sequences"] == 0


def test_weight_norm_activation_method(tiny_db):
    model, kernel, _ = torch_conv(7, 1, 1, "same", 50)
    found = kx.motifs(model, random_onehot(20, 50, seed=1), database=tiny_db)
    for f, motif in enumerate(found):
        assert motif.details["weight_norm"] == pytest.approx(np.linalg.norm(kernel[f]), rel=1e-6)
        assert "saturation" not in motif.details


# ---- 5. matrices ------------------------------------------------------------------------------

def test_frequencies_normalise_rows_and_make_empty_rows_uniform():
    counts = np.array([[2, 0, 0, 2], [0, 0, 0, 0], [1, 3, 0, 0], [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(frequencies(counts), [[0.5, 0, 0, 0.5], [0.25] * 4,
                                                     [0.25, 0.75, 0, 0], [0.25] * 4])
    stacked = frequencies(np.stack([counts, counts[::-1]]))
    assert stacked.shape == (2, 4, 4)
    np.testing.assert_allclose(stacked.sum(-1), 1)


def test_log_odds():
    pfm = np.array([[1, 0, 0, 0], [0.25] * 4, [0.5, 0, 0.5, 0]])
    lo = log_odds(pfm)
    np.testing.assert_allclose(lo[1], 0, atol=1e-12)
    c = 0.01
    np.testing.assert_allclose(lo, np.log2((pfm + c * 0.25) / (1 + c) / 0.25))
    assert lo[0, 0] > 1.9 and np.isfinite(lo).all() and lo[0, 1] < -5
    background = np.array([0.4, 0.1, 0.1, 0.4])
    np.testing.assert_allclose(log_odds(np.tile(background, (2, 1)), background), 0, atol=1e-12)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(log_odds(pfm, pseudocount=0)[[0, 2], [0, 2]], [2, 1])


def test_information_content():
    pfm = np.array([[0, 0, 1, 0], [0.25] * 4, [0.5, 0.5, 0, 0], [0.7, 0.1, 0.1, 0.1]])
    ic = information_content(pfm)
    np.testing.assert_allclose(ic[:3], [2, 0, 1], atol=1e-12)
    np.testing.assert_allclose(ic[3], 2 + 0.7 * np.log2(0.7) + 0.3 * np.log2(0.1))
    background = np.array([0.4, 0.1, 0.1, 0.4])
    np.testing.assert_allclose(information_content(np.array([[1.0, 0, 0, 0]]), background),
                               [np.log2(1 / 0.4)])
    np.testing.assert_allclose(information_content(background[None], background), [0],
                               atol=1e-12)


def test_trim():
    assert trim(np.array([0.1, 0.2, 1.5, 0.1, 2.0, 0.25])) == (2, 5)   # inner dips are kept
    assert trim(np.array([1.0, 0.0, 0.5])) == (0, 3)
    assert trim(np.array([0.29, 0.3, 0.29]), min_bits=0.3) == (1, 2)    # at min_bits: kept
    assert trim(np.array([0.1, 0.5, 0.1]), min_bits=1.0) == (0, 0)
    assert trim(np.zeros(6)) == (0, 0)


def test_flat_matrix_has_empty_core_and_no_match(tiny_db):
    motif = build_motif("flat", np.full((8, 4), 0.25), n_sites=3)
    assert motif.core == (0, 0) and motif.matches == [] and motif.best is None
    np.testing.assert_allclose(motif.information_content, 0, atol=1e-12)
    # A zero filter is flat by weights: no core, no matches; the others are matched.
    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 7), torch.nn.ReLU(),
                                 torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(3, 1))
    with torch.no_grad():
        module[0].weight[1] = 0
        module[0].weight[0] *= 30
    found = kx.motifs(kx.load_model(module, input_length=40), method="weights",
                      database=tiny_db)
    assert found[1].core == (0, 0) and found[1].matches == []
    assert found[0].core[1] > found[0].core[0] and len(found[0].matches) == 3


# ---- 6. Benjamini-Hochberg ---------------------------------------------------------------------

def direct_bh(p):
    """q_i = min over ranks j >= rank(i) of p_(j) m / j, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return np.array(q)


def test_benjamini_hochberg_equals_direct_implementation():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(6, 50)) ** 3
    p[0, :10] = p[0, 10]                         # ties
    p[1] = np.round(p[1], 1)
    p[2, :5] = 1.0
    q = benjamini_hochberg(p)
    assert q.shape == p.shape
    for row_p, row_q in zip(p, q):
        np.testing.assert_allclose(row_q, direct_bh(row_p), rtol=1e-12)
        order = np.argsort(row_p, kind="stable")
        assert np.all(np.diff(row_q[order]) >= 0)          # monotone in p
        assert np.all(row_q >= row_p) and np.all(row_q <= 1)
    np.testing.assert_allclose(benjamini_hochberg(p[3]), direct_bh(p[3]), rtol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2])),
                               [0.04, 0.16 / 3, 0.16 / 3, 0.2])


# ---- 7. databases ---------------------------------------------------------------------------

@pytest.mark.slow
def test_jaspar_older_release():
    from pyjaspar import jaspardb

    assert "JASPAR2024" in jaspardb().get_releases()
    old = jaspar("JASPAR2024")
    assert old.description["release"] == "JASPAR2024" and len(old) > 500
    assert {"MA0139.2", "MA1494.2"} <= set(old.ids) and "MA0466.3" not in old.ids
    assert len({base_id(i) for i in old.ids}) == len(old.ids)           # latest version only
    older = jaspar("JASPAR2022")
    assert older.description["release"] == "JASPAR2022" and len(older) != len(old)
    assert {"MA0139.1", "MA1494.1", "MA0466.3"} <= set(older.ids) and "MA0139.2" not in older.ids
    for pfm in old.pfms[:50]:
        assert pfm.shape[1] == 4
        np.testing.assert_allclose(pfm.sum(1), 1)
    newest = jaspar()
    assert newest.description["release"] == jaspardb().get_releases()[0]
    assert len({base_id(i) for i in newest.ids}) == len(newest.ids)


def test_motifs_with_older_release(known):
    model = torch_known(known["kernels"])
    found = kx.motifs(model, method="weights", release="JASPAR2024")
    assert found.database["release"] == "JASPAR2024"
    old_ids = set(jaspar("JASPAR2024").ids)
    for f, motif in enumerate(found):
        assert all(m.id in old_ids for m in motif.matches)
        assert base_id(motif.best.id) == KNOWN[f][0]


def test_unknown_jaspar_release_lists_available():
    from pyjaspar import jaspardb

    with pytest.raises(kx.InputError, match="JASPAR1999") as err:
        kx.motifs(torch_known(np.ones((1, 5, 4))), method="weights", release="JASPAR1999")
    for release in jaspardb().get_releases():
        assert release in str(err.value)


def test_meme_file_database(known, tmp_path):
    from memelite.io import write_meme

    path = tmp_path / "chosen.meme"
    write_meme(str(path), {f"{i} {n}": p.T for i, n, p in
                           zip(known["ids"], known["names"], known["pfms"])})
    db = load_database(path)
    assert db.ids == tuple(known["ids"]) and db.names == tuple(known["names"])
    for got, pfm in zip(db.pfms, known["pfms"]):
        np.testing.assert_allclose(got, pfm, rtol=1e-6)
    for database in (str(path), path, db):
        found = kx.motifs(torch_known(known["kernels"]), method="weights", database=database,
                          n_matches=2)
        assert found.database["source"] == "MEME file"
        assert found.database["path"] == str(path.resolve())
        for f, motif in enumerate(found):
            assert len(motif.matches) == 2
            assert (motif.best.id, motif.best.name) == (known["ids"][f], known["names"][f])
            assert motif.best.q_value < 0.05


def test_meme_file_missing_or_empty(tmp_path):
    model = torch_known(np.ones((1, 5, 4)))
    with pytest.raises(kx.InputError, match="does not exist"):
        kx.motifs(model, method="weights", database=str(tmp_path / "nope.meme"))
    empty = tmp_path / "empty.meme"
    empty.write_text("MEME version 4\n\nALPHABET= ACGT\n")
    with pytest.raises(kx.InputError, match="no MEME motif"):
        kx.motifs(model, method="weights", database=empty)


def test_database_object_is_used_as_given():
    pfm = np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]] * 0.97 + 0.0075
    db = MotifDatabase(("X1",), ("x",), (pfm,), {"source": "test"})
    assert load_database(db) is db
    kernel = log_odds(pfm)[None]
    found = kx.motifs(torch_known(kernel, length=30), method="weights", database=db)
    assert found.database == {"source": "test"} and found[0].best.id == "X1"


# ---- 8. errors ------------------------------------------------------------------------------

def two_conv_module(middle_channels=8):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv1d(4, middle_channels, 5, padding=2), torch.nn.ReLU(),
        torch.nn.Conv1d(middle_channels, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten(), torch.nn.Linear(6, 1))


def test_activation_method_needs_sequences():
    model = kx.load_model(two_conv_module(), input_length=30)
    with pytest.raises(kx.InputError, match="needs sequences"):
        kx.motifs(model)


def test_unknown_method():
    model = kx.load_model(two_conv_module(), input_length=30)
    with pytest.raises(kx.InputError, match="activation, weights"):
        kx.motifs(model, random_onehot(3, 30), method="saliency")


def test_layer_that_is_not_a_first_layer_conv(tiny_db):
    model = kx.load_model(two_conv_module(), input_length=30)
    assert [c.name for c in model.filters.conv_layers()] == ["0"]
    found = kx.motifs(model, method="weights", layer="0", database=tiny_db)
    assert found.settings["layer"] == "0" and found[0].name == "0/filter_0"
    for layer in ("2", "1", "nope"):
        with pytest.raises(kx.InputError, match=r"those are 0$"):
            kx.motifs(model, method="weights", layer=layer, database=tiny_db)


def test_keras_layer_that_is_not_a_first_layer_conv(tiny_db):
    import keras

    keras.utils.set_random_seed(0)
    model = kx.load_model(keras.Sequential([
        keras.Input((30, 4)),
        keras.layers.Conv1D(8, 5, padding="same", activation="relu", name="first"),
        keras.layers.Conv1D(6, 3, padding="same", name="second"),
        keras.layers.GlobalMaxPooling1D(name="gmp"),
        keras.layers.Dense(1, name="dense"),
    ]))
    with pytest.raises(kx.InputError, match=r"'second'.*those are first$"):
        kx.motifs(model, random_onehot(5, 30), layer="second")
    assert kx.motifs(model, random_onehot(5, 30), layer="first",
                     database=tiny_db).settings["layer"] == "first"


def test_deeper_conv_with_four_input_channels_is_rejected():
    model = kx.load_model(two_conv_module(middle_channels=4), input_length=30)
    with pytest.raises(kx.InputError, match="those are 0$"):
        kx.motifs(model, random_onehot(5, 30), layer="2")


def test_model_without_conv_layer():
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 20, 1))
    model = kx.load_model(module, input_length=20)
    with pytest.raises(kx.InputError, match="no 1-D convolution"):
        kx.motifs(model, random_onehot(3, 20), method="activation")
    with pytest.raises(kx.InputError, match="no 1-D convolution"):
        kx.motifs(model, method="weights")
