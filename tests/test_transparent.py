"""Entity importance in transparent models (kipoi_explain.entities): the bundled GenNet-style
example against its ground truth and against Captum, a Keras feature model against manual
computations, and the entity mapping's errors."""
import shutil

import numpy as np
import pytest
from conftest import EXAMPLE_DIR

import kipoi_explain as kx
from kipoi_explain.sequences.features import read_features
from kipoi_explain.transparent import read_entity_map

GENNET = EXAMPLE_DIR / "models" / "gennet"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"
CAUSAL_SNPS = {"rs0071", "rs0074", "rs0076", "rs0079"}
METHODS = ["grad_x_activation", "integrated_gradients", "ablation"]
COLUMNS = ["rank", "entity", "level", "layer", "unit", "mean", "mean_abs", "std", "n_samples"]


@pytest.fixture(scope="module")
def gennet():
    return kx.load_model(str(GENNET))


@pytest.fixture(scope="module")
def genotypes(gennet):
    """The 200 example samples, columns in the model's input order."""
    return read_features(GENOTYPES, (300,), read_entity_map(GENNET).level("snp").units)


@pytest.mark.parametrize("method", METHODS)
def test_the_causal_entities_rank_first_at_every_level(gennet, genotypes, method):
    x, _ = genotypes
    # Large blocks: 200 samples x 300 SNPs ablated one at a time are 60,000 small rows.
    options = {"batch_size": 4096, "method": method}
    if method == "integrated_gradients":
        options["n_steps"] = 20
    gene = kx.entities(gennet, x, level="gene", **options)
    pathway = kx.entities(gennet, x, level="pathway", **options)
    snp = kx.entities(gennet, x, level="snp", **options)
    assert gene.ranking()[0] == "GENE07" and gene.layer == "gene_act"
    assert pathway.ranking()[0] == "PATH_C" and pathway.layer == "pathway_act"
    assert set(snp.ranking()[:4]) == CAUSAL_SNPS and snp.layer == "input"
    for result, n_units in ((gene, 25), (pathway, 6), (snp, 300)):
        assert result.scores.shape == (200, n_units) and result.method == method
        assert result.entities == list(read_entity_map(GENNET).level(result.level).units)
    # A clear margin, not a near-tie that rounding could flip.
    gene_means = np.sort(np.abs(gene.scores).mean(0))
    assert gene_means[-1] > 3 * gene_means[-2]


def test_table_ranks_by_mean_absolute_score(gennet, genotypes):
    x, names = genotypes
    result = kx.entities(gennet, x, level="gene", method="grad_x_activation")
    table = result.table()
    assert list(table.columns) == COLUMNS
    assert table["rank"].tolist() == list(range(1, 26))
    mean_abs = np.abs(result.scores).mean(0)
    order = np.argsort(-mean_abs)
    assert table["unit"].tolist() == order.tolist()
    assert table["entity"].tolist() == [result.entities[i] for i in order] == result.ranking()
    np.testing.assert_allclose(table["mean_abs"], mean_abs[order], rtol=1e-6)
    np.testing.assert_allclose(table["mean"], result.scores.mean(0)[order], rtol=1e-5,
                               atol=1e-9)
    assert np.all(np.diff(table["mean_abs"]) <= 0)
    assert set(table["level"]) == {"gene"} and set(table["layer"]) == {"gene_act"}
    assert set(table["n_samples"]) == {200}
    assert result.samples == [f"sample{i}" for i in range(200)]
    assert result.target == {"columns": [0], "names": ["case"], "reduce": "sum"}
    np.testing.assert_allclose(result.predictions, gennet.predict(x), rtol=1e-6)


def test_a_table_file_keeps_sample_names_and_gives_the_same_scores(gennet, genotypes, tmp_path):
    import pandas as pd

    x, _ = genotypes
    table = pd.read_csv(GENOTYPES, sep="\t", index_col=0).iloc[:5]
    shuffled = tmp_path / "shuffled.tsv"
    # Columns in another order: the model's own order comes from entities.yaml.
    table[table.columns[::-1]].to_csv(shuffled, sep="\t")
    result = kx.entities(gennet, shuffled, level="pathway", method="grad_x_activation")
    assert result.samples == table.index.tolist()
    expected = kx.entities(gennet, x[:5], level="pathway", method="grad_x_activation")
    np.testing.assert_allclose(result.scores, expected.scores, rtol=1e-6)


@pytest.fixture(scope="module")
def few(genotypes):
    """16 samples as a tensor for Captum, and as an array."""
    import torch

    x = genotypes[0][:16]
    return x, torch.tensor(x)


def test_layer_integrated_gradients_equal_captum(gennet, few):
    from captum.attr import LayerIntegratedGradients

    x, tensor = few
    net = gennet.predictor.module
    for level, layer in (("gene", net.gene_act), ("pathway", net.pathway_act)):
        result = kx.entities(gennet, x, level=level, method="integrated_gradients",
                             baseline="zero_input", n_steps=32)
        expected, delta = LayerIntegratedGradients(net, layer).attribute(
            tensor, target=0, n_steps=32, method="gausslegendre",
            return_convergence_delta=True)
        np.testing.assert_allclose(result.scores, expected.detach().numpy(), atol=2e-6)
        np.testing.assert_allclose(result.delta, delta.detach().numpy(), atol=2e-6)
        assert result.settings["baseline"] == "zero_input" and result.settings["n_steps"] == 32


def test_integrated_gradients_at_the_input_equal_captum(gennet, few):
    from captum.attr import IntegratedGradients

    x, tensor = few
    result = kx.entities(gennet, x, level="snp", method="integrated_gradients", n_steps=32)
    expected = IntegratedGradients(gennet.predictor.module).attribute(tensor, baselines=0.0, target=0,
                                                            n_steps=32, method="gausslegendre")
    np.testing.assert_allclose(result.scores, expected.detach().numpy(), atol=2e-6)


def test_integrated_gradients_are_complete(gennet, few):
    """sum(scores) = f(x) - f(baseline), f(baseline) computed here from the weights."""
    import torch

    x, tensor = few
    net = gennet.predictor.module
    result = kx.entities(gennet, x, level="gene", method="integrated_gradients")
    with torch.no_grad():
        # Gene units held at 0 (the default baseline): the rest of the network from there.
        f_baseline = net.out(net.output(net.pathway_act(net.pathways(torch.zeros(1, 25)))))
        f_x = net(tensor)
    expected_gap = (f_x - f_baseline)[:, 0].numpy()
    assert np.abs(expected_gap).max() > 0.05
    np.testing.assert_allclose(result.scores.sum(1), expected_gap, atol=1e-4)
    np.testing.assert_allclose(result.delta, result.scores.sum(1) - expected_gap, atol=1e-6)
    assert np.abs(result.delta).max() < 1e-4


def test_grad_x_activation_equals_captum(gennet, few):
    from captum.attr import InputXGradient, LayerGradientXActivation

    x, tensor = few
    net = gennet.predictor.module
    for level, layer in (("gene", net.gene_act), ("pathway", net.pathway_act)):
        result = kx.entities(gennet, x, level=level, method="grad_x_activation")
        expected = LayerGradientXActivation(net, layer).attribute(tensor, target=0)
        np.testing.assert_allclose(result.scores, expected.detach().numpy(), rtol=1e-5,
                                   atol=1e-7)
        assert result.delta is None
    snp = kx.entities(gennet, x, level="snp", method="grad_x_activation")
    expected = InputXGradient(net).attribute(tensor.clone().requires_grad_(), target=0)
    np.testing.assert_allclose(snp.scores, expected.detach().numpy(), rtol=1e-5, atol=1e-7)


def naive_ablation(net, layer, tensor, n_units, fill=0.0):
    """f(x) minus f(x with one unit of ``layer`` set to ``fill``), one unit at a time."""
    import torch

    with torch.no_grad():
        f_x = net(tensor)[:, 0]
        drops = []
        for unit in range(n_units):
            def set_unit(module, args, output, unit=unit):
                output = output.clone()
                output[:, unit] = fill
                return output

            handle = layer.register_forward_hook(set_unit)
            drops.append((f_x - net(tensor)[:, 0]).numpy())
            handle.remove()
    return np.stack(drops, axis=1)


def test_ablation_equals_a_naive_loop(gennet, few):
    import torch

    x, tensor = few
    net = gennet.predictor.module
    for level, layer, n_units in (("gene", net.gene_act, 25), ("pathway", net.pathway_act, 6)):
        result = kx.entities(gennet, x, level=level, method="ablation", batch_size=7)
        np.testing.assert_allclose(result.scores, naive_ablation(net, layer, tensor, n_units),
                                   atol=1e-6)
    half = kx.entities(gennet, x, level="gene", method="ablation", fill=0.5)
    np.testing.assert_allclose(half.scores, naive_ablation(net, net.gene_act, tensor, 25, 0.5),
                               atol=1e-6)
    snp = kx.entities(gennet, x, level="snp", method="ablation")
    with torch.no_grad():
        f_x = net(tensor)[:, 0].numpy()
        for column in (0, 70, 78, 299):
            zeroed = tensor.clone()
            zeroed[:, column] = 0
            np.testing.assert_allclose(snp.scores[:, column], f_x - net(zeroed)[:, 0].numpy(),
                                       atol=1e-6)


@pytest.mark.parametrize("function, call", [
    ("motif extraction", lambda model, x: kx.motifs(model, x)),
    ("diagnose", lambda model, x: kx.diagnose(model, x)),
    ("attention maps", lambda model, x: kx.attention(model, x)),
])
def test_dna_only_functions_refuse_feature_models(gennet, genotypes, function, call):
    with pytest.raises(kx.InputError, match=rf"{function} needs a model of one-hot DNA; model "
                                            r"'gennet' takes features of shape \(300,\)"):
        call(gennet, genotypes[0][:2])


def test_variant_scoring_refuses_feature_models(gennet):
    from kipoi_explain.variants import score_variants

    with pytest.raises(kx.InputError, match="variant scoring needs a model of one-hot DNA.*"
                                            "features"):
        list(score_variants(gennet, "absent.vcf", EXAMPLE_DIR / "data" / "genome.fa"))


# ---- the mapping -------------------------------------------------------------------------------

def gennet_levels():
    """The example's mapping as a dict, to break one field at a time."""
    return {"levels": {level.name: {"layer": level.layer, "units": list(level.units)}
                       for level in read_entity_map(GENNET).levels}}


def test_unknown_level_names_the_declared_ones(gennet, genotypes):
    with pytest.raises(kx.InputError, match=r"entity level 'exon': .*entities.yaml declares "
                                            "snp, gene, pathway"):
        kx.entities(gennet, genotypes[0][:2], level="exon")


def test_wrong_unit_count_names_file_level_and_counts(gennet, genotypes, tmp_path):
    import yaml

    mapping = gennet_levels()
    mapping["levels"]["gene"]["units"] = mapping["levels"]["gene"]["units"][:24]
    path = tmp_path / "entities.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(kx.InputError, match=rf"{path}, level 'gene': 24 names for the 25 "
                                            "units of 'gene_act'"):
        kx.entities(gennet, genotypes[0][:2], level="gene", mapping=path)
    mapping["levels"]["snp"]["units"].append("rs9999")
    with pytest.raises(kx.InputError, match="level 'snp': 301 names for the 300 units"):
        kx.entities(gennet, genotypes[0][:2], level="snp", mapping=mapping)


def test_unknown_layer_is_named_with_the_models_layers(gennet, genotypes):
    mapping = gennet_levels()
    mapping["levels"]["gene"]["layer"] = "gene_activation"
    with pytest.raises(kx.InputError, match="level 'gene': layer 'gene_activation' is not a "
                                            "layer of model 'gennet'; layers are genes, gene_act"):
        kx.entities(gennet, genotypes[0][:2], level="gene", mapping=mapping)


def test_units_read_from_a_file_next_to_the_mapping(gennet, genotypes, tmp_path):
    genes = read_entity_map(GENNET).level("gene").units
    (tmp_path / "genes.txt").write_text("\n".join(genes[::-1]) + "\n\n")
    (tmp_path / "entities.yaml").write_text(
        "levels:\n  gene:\n    layer: gene_act\n    units: genes.txt\n")
    mapping = read_entity_map(tmp_path)
    assert mapping.level("gene").units == genes[::-1]
    result = kx.entities(gennet, genotypes[0][:4], level="gene", method="grad_x_activation",
                         mapping=tmp_path / "entities.yaml")
    assert result.ranking()[0] == "GENE19"  # GENE07's unit, renamed by the reversed file
    assert result.settings["mapping"] == str(tmp_path / "entities.yaml")


@pytest.mark.parametrize("text, message", [
    ("levels: [unclosed\n", "not valid YAML"),
    ("levels:\n  gene:\n    layer: gene_act\n    units: absent.txt\n",
     r"level 'gene': field 'units' names file '.*absent.txt', which does not exist"),
    ("levels:\n  gene:\n    layer: gene_act\n    units: [A, B, A, C, B]\n",
     "level 'gene': unit names repeated: A, B"),
    ("levels:\n  gene:\n    units: [A]\n", "level 'gene': field 'layer' must name a layer"),
    ("levels:\n  gene:\n    layer: gene_act\n    units: []\n",
     "field 'units' must be a non-empty list"),
    ("levels:\n  gene: gene_act\n", "level 'gene': expected a mapping with 'layer' and 'units'"),
    ("genes: [A]\n", "expected a mapping with 'levels'"),
])
def test_malformed_mappings_are_named(tmp_path, text, message):
    path = tmp_path / "entities.yaml"
    path.write_text(text)
    with pytest.raises(kx.InputError, match=message) as error:
        read_entity_map(path)
    assert str(path) in str(error.value)


def test_missing_mapping_file_is_named(tmp_path):
    with pytest.raises(kx.InputError, match=rf"entity mapping '{tmp_path}/entities.yaml' "
                                            "does not exist"):
        read_entity_map(tmp_path)


def test_a_model_without_mapping_is_refused(gennet, genotypes, tmp_path):
    bare = kx.load_model(gennet.predictor.module, layout=kx.FeatureLayout((300,)), name="bare")
    with pytest.raises(kx.InputError, match="model 'bare' declares no entities: no "
                                            "entities.yaml next to its model.yaml"):
        kx.entities(bare, genotypes[0][:2], level="gene")
    copy = tmp_path / "gennet"
    shutil.copytree(GENNET, copy, ignore=shutil.ignore_patterns("entities.yaml"))
    with pytest.raises(kx.InputError, match="declares no entities"):
        kx.entities(str(copy), genotypes[0][:2], level="gene")
    # The same model with a mapping given works.
    result = kx.entities(bare, genotypes[0][:2], level="gene", mapping=GENNET,
                         method="grad_x_activation")
    assert result.entities[6] == "GENE07"


# ---- a Keras feature model ---------------------------------------------------------------------

N_INPUTS, N_GENES = 20, 5


@pytest.fixture(scope="module")
def keras_features():
    """Dense(5, tanh) "genes" -> Dense(2, tanh) "pathways" -> Dense(1, sigmoid); gene G3 (unit 2)
    carries nearly all the weight into the pathways."""
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((N_INPUTS,))
    genes = keras.layers.Dense(N_GENES, activation="tanh", name="genes")(inputs)
    pathways = keras.layers.Dense(2, activation="tanh", name="pathways")(genes)
    net = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(pathways))
    kernel, bias = net.get_layer("pathways").get_weights()
    kernel *= 0.05
    kernel[2] = [2.0, -1.5]
    net.get_layer("pathways").set_weights([kernel, bias])
    mapping = {"levels": {
        "snp": {"layer": "input", "units": [f"s{i:02d}" for i in range(N_INPUTS)]},
        "gene": {"layer": "genes", "units": [f"G{i + 1}" for i in range(N_GENES)]},
        "pathway": {"layer": "pathways", "units": ["P1", "P2"]}}}
    x = np.random.default_rng(1).integers(0, 3, size=(12, N_INPUTS)).astype(np.float32)
    return net, kx.load_model(net), mapping, x


def keras_tail(net, genes):
    """The model's output from the "genes" activations on."""
    return net.get_layer("out")(net.get_layer("pathways")(genes))[:, 0]


def test_keras_feature_model_layout(keras_features):
    _, model, _, _ = keras_features
    assert not model.takes_dna and model.layout.shape == (N_INPUTS,)
    assert model.input_length is None


@pytest.mark.parametrize("method", METHODS)
def test_keras_feature_model_ranks_the_dominant_gene_first(keras_features, method):
    _, model, mapping, x = keras_features
    result = kx.entities(model, x, level="gene", method=method, mapping=mapping)
    assert result.ranking()[0] == "G3"
    assert result.scores.shape == (12, N_GENES)


def test_keras_integrated_gradients_equal_a_gradient_tape_computation(keras_features):
    import tensorflow as tf

    net, model, mapping, x = keras_features
    result = kx.entities(model, x, level="gene", method="integrated_gradients",
                         mapping=mapping, n_steps=24)
    act = np.asarray(net.get_layer("genes")(tf.constant(x)), dtype=np.float32)
    # Gauss-Legendre nodes on [0, 1], from numpy, not from the library.
    nodes, weights = np.polynomial.legendre.leggauss(24)
    nodes, weights = (nodes + 1) / 2, weights / 2
    total = np.zeros_like(act)
    for alpha, weight in zip(nodes, weights):
        path = tf.constant(alpha * act, dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(path)
            value = keras_tail(net, path)
        total += weight * np.asarray(tape.gradient(value, path))
    expected = total * act
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=1e-6)
    f_zero = np.asarray(keras_tail(net, tf.zeros((1, N_GENES))))
    gap = np.asarray(net(x))[:, 0] - f_zero
    np.testing.assert_allclose(result.delta, result.scores.sum(1) - gap, atol=1e-6)
    assert np.abs(result.delta).max() < 1e-4


def test_keras_grad_x_activation_and_ablation_equal_manual_computations(keras_features):
    import tensorflow as tf

    net, model, mapping, x = keras_features
    act = tf.constant(np.asarray(net.get_layer("genes")(tf.constant(x))))
    with tf.GradientTape() as tape:
        tape.watch(act)
        value = keras_tail(net, act)
    grad = np.asarray(tape.gradient(value, act))
    gxa = kx.entities(model, x, level="gene", method="grad_x_activation", mapping=mapping)
    np.testing.assert_allclose(gxa.scores, grad * np.asarray(act), rtol=1e-5, atol=1e-7)

    ablation = kx.entities(model, x, level="gene", method="ablation", mapping=mapping)
    f_x = np.asarray(value)
    for unit in range(N_GENES):
        ablated = np.asarray(act).copy()
        ablated[:, unit] = 0
        np.testing.assert_allclose(ablation.scores[:, unit],
                                   f_x - np.asarray(keras_tail(net, tf.constant(ablated))),
                                   atol=1e-6)
    snp = kx.entities(model, x, level="snp", method="ablation", mapping=mapping)
    zeroed = x.copy()
    zeroed[:, 5] = 0
    np.testing.assert_allclose(snp.scores[:, 5], np.asarray(net(x))[:, 0]
                               - np.asarray(net(zeroed))[:, 0], atol=1e-6)
