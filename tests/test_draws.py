"""Random draws that belong to a sample: a set explained, screened or scored in parts (a job's
shards, chunks) gets what it gets in one piece, because each sample's draws are seeded by its
index in the whole set (``sample_index``)."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.draws import sample_indices, uniforms
from kipoi_explain.errors import InputError
from kipoi_explain.sequences.genome import open_fasta
from kipoi_explain.variants import score_variants
from kipoi_explain.variants.alleles import read_alleles

from conftest import EXAMPLE_DIR, other, random_onehot

GENOME = EXAMPLE_DIR / "data" / "genome.fa"


def test_uniforms_read_the_generators_own_stream():
    stream = np.random.default_rng(11).uniform(size=(40, 3))
    for index in (np.arange(40), np.array([7, 8, 9, 30, 2, 3]), np.array([39])):
        np.testing.assert_array_equal(uniforms(11, index, 3), stream[index])


def test_sample_indices():
    np.testing.assert_array_equal(sample_indices(5, 3), [5, 6, 7])
    np.testing.assert_array_equal(sample_indices(np.array([4, 1]), 2), [4, 1])
    with pytest.raises(InputError, match="expected one non-negative index per sample"):
        sample_indices(np.array([1, 2, 3]), 2)
    with pytest.raises(InputError, match="non-negative"):
        sample_indices(-1, 2)


@pytest.mark.parametrize("method, options", [
    ("deepshap", {"n_references": 3, "seed": 4}),
    ("expected_gradients", {"n_references": 3, "seed": 4}),
    ("smoothgrad", {"n_samples": 3, "seed": 4}),
    ("integrated_gradients", {"baseline": "shuffle", "n_references": 2, "n_steps": 4}),
    ("deeplift", {"baseline": "shuffle"}),
])
def test_explained_in_parts_equals_whole(model, method, options):
    x = random_onehot(7, seed=3)
    whole = kx.explain(model, x, method, target="pos", **options)
    parts = [kx.explain(model, x[lo:hi], method, target="pos", sample_index=lo, **options)
             for lo, hi in ((0, 3), (3, 4), (4, 7))]
    np.testing.assert_allclose(np.concatenate([p.scores for p in parts]), whole.scores,
                               rtol=1e-5, atol=1e-7)
    # Without its place in the set, a part draws the first sequences' references instead.
    alone = kx.explain(model, x[3:7], method, target="pos", **options)
    assert not np.allclose(alone.scores, whole.scores[3:7], rtol=1e-5, atol=1e-7)


def test_screened_in_parts_equals_whole(model):
    x = random_onehot(5, seed=8)
    whole = kx.screen(model, x, window=10, n_shuffles=2, seed=1, target="pos")
    parts = [kx.screen(model, x[lo:hi], window=10, n_shuffles=2, seed=1, target="pos",
                       sample_index=lo) for lo, hi in ((0, 2), (2, 5))]
    np.testing.assert_allclose(np.concatenate([p.perturbed for p in parts]), whole.perturbed,
                               rtol=1e-6)


def test_variant_attributions_do_not_depend_on_chunks(tmp_path, genome):
    rows = [f"chr1\t{p}\tv{p}\t{genome['chr1'][p - 1]}\t{other(genome['chr1'][p - 1])}\t.\tPASS\t."
            for p in (500, 900, 1400, 2100, 3300)]
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL"
                   "\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    model = kx.load_model(str(EXAMPLE_DIR / "models" / "pytorch_cnn"))
    options = dict(method="deepshap", n_references=3, target="CTCF")
    one = list(score_variants(model, vcf, GENOME, chunk_size=64, **options))
    chunked = list(score_variants(model, vcf, GENOME, chunk_size=2, **options))
    # The records 2-4 scored on their own, numbered from record 2 as a job's shard is.
    records = list(read_alleles(vcf, open_fasta(GENOME), 200))[2:]
    shard = list(score_variants(model, [a.record for a in records], GENOME, sample_index=2,
                                **options))
    for a, b in zip(one, chunked):
        np.testing.assert_allclose(a.attribution["diff"], b.attribution["diff"], atol=1e-7)
    assert [e.record_index for e in shard] == [2, 3, 4]
    for a, b in zip(one[2:], shard):
        np.testing.assert_allclose(a.attribution["diff"], b.attribution["diff"], atol=1e-7)


@pytest.mark.slow
def test_a_server_takes_the_place_of_its_samples(client):
    """``sample_index`` is an option of the request: a part sent to a server is seeded as the
    whole would be."""
    model = kx.load_model(str(EXAMPLE_DIR / "models" / "pytorch_cnn"))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(9).integers(0, 4, (5, 200))]
    whole = kx.explain(model, x, "deepshap", target="CTCF", n_references=3)
    part = client.explain("cnn", x[2:], method="deepshap", target="CTCF", n_references=3,
                          sample_index=2)
    np.testing.assert_allclose(part.scores, whole.scores[2:], rtol=1e-5, atol=1e-7)
