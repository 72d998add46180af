"""Region screens and insertion screens on the bundled example models: each perturbation agrees
with a per-window loop, the screen finds the planted CTCF sites, an implanted CTCF site raises the
CTCF output, windows map to genome coordinates on both strands, and bad options are refused."""
import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE_DIR, example_model

import kipoi_explain as kx
from kipoi_explain.sequences.shuffles import dinucleotide_shuffles
from kipoi_explain.sequences import decode, one_hot, reverse_complement

GENOME = EXAMPLE_DIR / "data" / "genome.fa"
SITES = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")


@pytest.fixture(scope="module")
def torch_model():
    return example_model("pytorch")


@pytest.fixture(scope="module")
def keras_model():
    return example_model("keras")


@pytest.fixture(scope="module")
def regions():
    return kx.from_bed(EXAMPLE_DIR / "data" / "regions.bed", GENOME, 200)


@pytest.fixture(scope="module")
def few(regions):
    """Three positives and two negatives, with their intervals."""
    keep = [0, 1, 2, 70, 90]
    return kx.SequenceSet(regions.onehot[keep], [regions.names[i] for i in keep],
                          [regions.intervals[i] for i in keep])


def naive(model, x, perturbed_rows, target="CTCF"):
    """``f(each perturbed sequence) - f(its original)``, one sequence at a time."""
    spec = model.target(target)
    reference = spec.apply(model.predict(x))
    return np.array([[spec.apply(model.predict(row[None]))[0] - reference[i] for row in rows]
                     for i, rows in enumerate(perturbed_rows)])


def windows(length, window, stride):
    return list(range(0, length - window + 1, stride))


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_mask_and_delete_equal_a_loop(framework, few, torch_model, keras_model):
    model = torch_model if framework == "pytorch" else keras_model
    x, window, stride = few.onehot, 30, 40
    starts = windows(200, window, stride)
    masked, deleted = [], []
    for seq in x:
        masked.append([np.concatenate([seq[:s], np.zeros((window, 4)), seq[s + window:]])
                       for s in starts])
        deleted.append([np.concatenate([seq[:s], seq[s + window:], np.zeros((window, 4))])
                        for s in starts])
    for name, rows in (("mask", masked), ("delete", deleted)):
        result = kx.screen(model, few, window=window, stride=stride, perturbation=name,
                           target="CTCF")
        assert result.starts.tolist() == starts
        assert result.ends.tolist() == [s + window for s in starts]
        assert result.perturbed.shape == (len(x), len(starts), 1)
        np.testing.assert_allclose(result.effects, naive(model, x, rows), atol=1e-6)


def test_delete_fills_from_the_genome_on_both_strands(torch_model, genome):
    """The bases after a + interval, or the reverse complement of those before a - interval
    (read with use_strand), move into the end of the sequence."""
    plus = kx.Interval("chr1", 1189, 1389, "plus", "+")
    minus = kx.Interval("chr1", 1737, 1937, "minus", "-")
    seqs = kx.from_bed([plus, minus], GENOME, 200, use_strand=True)
    window, stride = 25, 60
    follow = [one_hot([genome["chr1"][1389:1389 + window]])[0],
              reverse_complement(one_hot([genome["chr1"][1737 - window:1737]])[0])]
    rows = [[np.concatenate([seq[:s], seq[s + window:], fill])
             for s in windows(200, window, stride)] for seq, fill in zip(seqs.onehot, follow)]
    filled = kx.screen(torch_model, seqs, window=window, stride=stride, perturbation="delete",
                       genome=GENOME, target="CTCF")
    np.testing.assert_allclose(filled.effects, naive(torch_model, seqs.onehot, rows), atol=1e-6)
    with_n = kx.screen(torch_model, seqs, window=window, stride=stride, perturbation="delete",
                       target="CTCF")
    assert not np.allclose(filled.perturbed, with_n.perturbed)


def test_delete_fill_stops_at_the_contig_end(torch_model, genome):
    """Bases past the contig's end fill with N (all-zero rows)."""
    size = len(genome["chr1"])
    seqs = kx.from_bed([kx.Interval("chr1", size - 205, size - 5, "end")], GENOME, 200)
    model = torch_model
    result = kx.screen(model, seqs, window=20, stride=100, perturbation="delete",
                       genome=GENOME, target="CTCF")
    fill = np.concatenate([one_hot([genome["chr1"][size - 5:]])[0], np.zeros((15, 4))])
    rows = [[np.concatenate([seqs.onehot[0][:s], seqs.onehot[0][s + 20:], fill])
             for s in (0, 100)]]
    np.testing.assert_allclose(result.effects, naive(model, seqs.onehot, rows), atol=1e-6)


def test_shuffle_and_random_equal_a_loop_with_the_same_seeds(few, torch_model):
    x, window, stride, draws, seed = few.onehot, 20, 45, 3, 7
    starts = windows(200, window, stride)

    def seed_of(i, s, r):
        return int(np.random.SeedSequence([seed, i, s, r]).generate_state(1)[0])

    # Per sequence, the perturbed copies in (window, draw) order.
    shuffled, randomised = [], []
    for i, seq in enumerate(x):
        shuffled.append([]), randomised.append([])
        for s in starts:
            for r in range(draws):
                copy = dinucleotide_shuffles(seq[None, s:s + window], 1, seed_of(i, s, r))[0, 0]
                shuffled[-1].append(np.concatenate([seq[:s], copy, seq[s + window:]]))
                bases = np.random.default_rng(seed_of(i, s, r)).integers(0, 4, window)
                randomised[-1].append(np.concatenate([seq[:s], np.eye(4)[bases],
                                                      seq[s + window:]]))
    for name, rows in (("shuffle", shuffled), ("random", randomised)):
        result = kx.screen(torch_model, few, window=window, stride=stride, perturbation=name,
                           n_shuffles=draws, seed=seed, target="CTCF", batch_size=5)
        expected = naive(torch_model, x, rows).reshape(len(x), len(starts), draws)
        np.testing.assert_allclose(result.perturbed - result.reference[:, None, None],
                                   expected, atol=1e-6)
        np.testing.assert_allclose(result.effects, expected.mean(axis=2), atol=1e-6)
        assert result.table()["sd"].max() > 0
    # A dinucleotide shuffle keeps the window's base counts but moves its bases.
    first = np.array(shuffled[0][0])
    assert np.array_equal(first[:window].sum(axis=0), x[0, :window].sum(axis=0))
    assert not np.array_equal(first, x[0])


def test_result_does_not_depend_on_the_batch_size(few, torch_model):
    results = [kx.screen(torch_model, few, window=15, stride=20, n_shuffles=2,
                         target="CTCF", batch_size=size) for size in (3, 1000)]
    np.testing.assert_allclose(results[0].perturbed, results[1].perturbed, atol=1e-6)
    assert results[0].settings["batch_size"] == 3


def planted(regions, motif):
    """Indices of the regions holding ``motif`` and their sites' windows."""
    sites = SITES[SITES.motif_name == motif]
    names = sorted(set(sites.region))
    return [regions.names.index(n) for n in names], [
        list(zip(sites[sites.region == n].window_start, sites[sites.region == n].window_end))
        for n in names]


@pytest.mark.parametrize("perturbation", ["shuffle", "delete"])
def test_the_largest_drop_is_at_the_planted_ctcf_site(perturbation, regions, torch_model):
    index, spans = planted(regions, "CTCF")
    result = kx.screen(torch_model, regions.onehot[index], window=20, stride=10,
                       perturbation=perturbation, target="CTCF")
    best = result.effects.argmin(axis=1)
    hits = [any(s < site_end and site_start < e for site_start, site_end in sites)
            for s, e, sites in zip(result.starts[best], result.ends[best], spans)]
    # Measured: 38 of 39 (97 %) for shuffle and delete; the site's drop is nearly the whole
    # prediction (mean largest drop -0.81).
    assert len(index) == 39
    assert np.mean(hits) >= 0.85
    assert result.effects.min(axis=1).mean() < -0.5


@pytest.mark.parametrize("framework,mode", [("pytorch", "replace"), ("keras", "insert")])
def test_an_implanted_ctcf_site_raises_ctcf(framework, mode, regions, torch_model, keras_model):
    model = torch_model if framework == "pytorch" else keras_model
    index, spans = planted(regions, "CTCF")
    (start, end), = spans[1][:1]
    site = decode(regions.onehot[index[1]][None])[0][start:end]
    scrambled = "".join(np.random.default_rng(0).permutation(list(site)))
    negatives = regions.onehot[[i for i, n in enumerate(regions.names) if n.startswith("neg")]]
    implanted = kx.insertion(model, negatives, site, stride=25, mode=mode, target="CTCF")
    control = kx.insertion(model, negatives, scrambled, stride=25, mode=mode, target="CTCF")
    # Measured: mean rise 0.90-0.95 with the site, under 0.01 with its scramble, every sequence.
    assert implanted.effects.mean() > 0.5 and control.effects.mean() < 0.1
    assert np.mean(implanted.effects.mean(axis=1) > control.effects.mean(axis=1)) >= 0.9


def test_replace_and_insert_equal_string_edits(few, torch_model):
    element, positions = "ACGTTGCAACG", [0, 37, 189]
    texts = decode(few.onehot)
    for mode in ("replace", "insert"):
        edited = [[one_hot([t[:p] + element + (t[p + len(element):] if mode == "replace" else
                                               t[p:len(t) - len(element)])])[0]
                   for p in positions] for t in texts]
        result = kx.insertion(torch_model, few, element, positions=positions, mode=mode,
                              target="CTCF")
        assert result.perturbation == mode
        assert result.starts.tolist() == positions
        assert result.ends.tolist() == [p + len(element) for p in positions]
        np.testing.assert_allclose(result.effects, naive(torch_model, few.onehot, edited),
                                   atol=1e-6)


def test_genome_coordinates_of_windows_on_both_strands(torch_model, genome):
    plus = kx.Interval("chr1", 1189, 1389, "plus", "+")
    minus = kx.Interval("chr1", 1737, 1937, "minus", "-")
    seqs = kx.from_bed([plus, minus], GENOME, 200, use_strand=True)
    result = kx.screen(torch_model, seqs, window=30, stride=50, perturbation="mask")
    coordinates = result.genome_windows()
    assert coordinates[0].tolist() == [[1189 + s, 1219 + s] for s in (0, 50, 100, 150)]
    assert coordinates[1].tolist() == [[1937 - 30 - s, 1937 - s] for s in (0, 50, 100, 150)]
    for k, (s, e) in enumerate(zip(result.starts, result.ends)):
        lo, hi = coordinates[1, k]
        assert decode(reverse_complement(seqs.onehot[1, s:e])[None])[0] == genome["chr1"][lo:hi]
        lo, hi = coordinates[0, k]
        assert decode(seqs.onehot[0, s:e][None])[0] == genome["chr1"][lo:hi]
    table = result.table()
    assert table.columns.tolist() == ["sequence", "index", "window", "start", "end", "chrom",
                                      "genome_start", "genome_end", "reference", "perturbed",
                                      "sd", "effect"]
    assert table["genome_start"].tolist() == coordinates[..., 0].ravel().tolist()
    assert kx.screen(torch_model, seqs.onehot, window=30, perturbation="mask") \
        .genome_windows() is None


def test_the_region_and_its_last_partial_window(few, torch_model):
    result = kx.screen(torch_model, few, window=30, stride=25, start=10, end=120,
                       perturbation="mask")
    # Windows that would run past ``end`` are dropped: 10, 35, 60 (85 would end at 115 <= 120,
    # 110 would end at 140 > 120).
    assert result.starts.tolist() == [10, 35, 60, 85]
    assert result.settings["stride"] == 25 and result.settings["end"] == 120
    assert kx.screen(torch_model, few, window=50).starts.tolist() == [0, 50, 100, 150]


@pytest.mark.parametrize("options,named", [
    ({"window": 201}, "window=201"),
    ({"window": 0}, "window=0"),
    ({"stride": 0}, "stride=0"),
    ({"perturbation": "invert"}, "perturbation 'invert'"),
    ({"start": 150, "end": 120}, "start=150, end=120"),
    ({"start": 100, "window": 120}, "window=120"),
    ({"n_shuffles": 0}, "n_shuffles=0"),
    ({"perturbation": "mask", "n_shuffles": 3}, "n_shuffles=3"),
    ({"perturbation": "shuffle", "genome": GENOME}, "genome"),
    ({"perturbation": "delete", "genome": "missing.fa"}, "missing.fa"),
])
def test_screen_errors_name_the_option(options, named, few, torch_model):
    with pytest.raises(kx.InputError, match=named):
        kx.screen(torch_model, few, **options)


def test_screen_refuses_genome_fill_without_intervals(few, torch_model):
    with pytest.raises(kx.InputError, match="genome: the sequences carry no genomic intervals"):
        kx.screen(torch_model, few.onehot, perturbation="delete", genome=GENOME)


@pytest.mark.parametrize("sequence,options,named", [
    ("A" * 201, {}, "sequence: 201 bases, longer than"),
    ("", {}, "sequence: expected a non-empty"),
    ("ACGT", {"positions": [197]}, "positions: 197 out of range"),
    ("ACGT", {"positions": -1}, "positions: -1 out of range"),
    ("ACGT", {"positions": [1.5]}, "positions"),
    ("ACGT", {"stride": 0}, "stride=0"),
    ("ACGT", {"positions": [3], "stride": 2}, "stride: applies only without positions"),
    ("ACGT", {"mode": "append"}, "mode 'append'"),
    ("ACXT", {}, "sequence"),
])
def test_insertion_errors_name_the_option(sequence, options, named, few, torch_model):
    with pytest.raises(kx.InputError, match=named):
        kx.insertion(torch_model, few, sequence, **options)


def test_screen_needs_a_dna_model():
    model = kx.load_model(lambda v: v.sum(axis=1, keepdims=True), layout=kx.FeatureLayout((5,)))
    with pytest.raises(kx.InputError, match="a region screen needs a model of one-hot DNA"):
        kx.screen(model, np.zeros((2, 5), dtype=np.float32))


def test_settings_record_every_option(few, torch_model):
    result = kx.screen(torch_model, few, window=40, perturbation="random", seed=3,
                       target="CTCF")
    assert {"window", "stride", "start", "end", "n_shuffles", "seed", "genome", "perturbation",
            "target", "reduce", "bins", "ambiguous", "batch_size",
            "version"} <= set(result.settings)
    assert result.target["names"] == ["CTCF"]
    assert result.predictions.shape == (5, 3)
    assert result.model["name"] == "pytorch_cnn"
    np.testing.assert_allclose(result.reference, result.predictions[:, 0], rtol=1e-6)


def test_a_window_with_one_possible_shuffle_stays_unchanged(torch_model):
    """A homopolymer window has a single dinucleotide shuffle, itself: several draws of it are
    the sequence itself (effect 0), not an error."""
    text = "A" * 40 + "".join(np.random.default_rng(1).choice(list("ACGT"), 160))
    result = kx.screen(torch_model, text, window=40, perturbation="shuffle", n_shuffles=3)
    assert result.effects[0, 0] == pytest.approx(0, abs=1e-6)
    assert np.abs(result.effects[0, 1:]).max() > 0
