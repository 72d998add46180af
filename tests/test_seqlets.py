"""Seqlets from DeepSHAP maps of the example PyTorch model must land on the planted JASPAR sites
and group under the planted motifs; their genome spans must read back the seqlet's sequence."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kipoi_explain as kx
from kipoi_explain.motif import load_database
from kipoi_explain.motif.seqlets import COLUMNS, Seqlets, seqlets
from kipoi_explain.sequences import decode, reverse_complement
from kipoi_explain.sequences.genome import read_fasta

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BED = EXAMPLES / "data" / "regions.bed"
GENOME = EXAMPLES / "data" / "genome.fa"
PLANTED = ("MA0139", "MA1494", "MA0466")  # CTCF, HNF4A, CEBPB

# CTCF's importance has weak columns inside the site, so seqlets of 4-7 bp split it into pieces
# that match no database motif significantly; from 8 bp on the pieces stay whole.
MIN_LENGTH = 8


@pytest.fixture(scope="module")
def model():
    return kx.load_model(EXAMPLES / "models" / "pytorch_cnn")


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv(EXAMPLES / "data" / "planted_sites.tsv", sep="\t")


@pytest.fixture(scope="module")
def positives(model, sites):
    """DeepSHAP of all outputs on the 60 regions with planted sites."""
    seqs = kx.from_bed(BED, GENOME, 200)
    keep = [i for i, name in enumerate(seqs.names) if name in set(sites.region)]
    seqs = kx.SequenceSet(seqs.onehot[keep], [seqs.names[i] for i in keep],
                          [seqs.intervals[i] for i in keep])
    return kx.explain(model, seqs, "deepshap", target="all", n_references=10)


@pytest.fixture(scope="module")
def called(positives):
    return seqlets(positives, min_length=MIN_LENGTH)


@pytest.fixture(scope="module")
def genome():
    return dict(zip(*read_fasta(GENOME)))


def test_seqlets_land_on_planted_sites(called, sites):
    table = called.table
    on_site = np.mean([((sites.region == row.name) & (sites.window_start < row.end)
                        & (sites.window_end > row.start)).any() for row in table.itertuples()])
    covered = np.mean([((table.name == site.region) & (table.start < site.window_end)
                        & (table.end > site.window_start)).any() for site in sites.itertuples()])
    print(f"{len(table)} seqlets: {on_site:.3f} on a planted site; {covered:.3f} of "
          f"{len(sites)} sites covered")
    # measured 0.983 and 0.950
    assert on_site >= 0.9
    assert covered >= 0.85


def test_each_planted_motif_has_a_significant_group(called):
    by_id = {motif.details["group"].split(".")[0]: motif for motif in called.groups}
    for base_id in PLANTED:
        group = by_id[base_id]
        members = called.table[called.table.group == group.details["group"]]
        print(f"{group.name}: {group.n_sites} seqlets, seqlet q <= {members.match_q.max():.2g}, "
              f"group PFM best {group.best.id} q={group.best.q_value:.2g}")
        assert (members.match_q <= 0.05).all()
        assert group.best.id.split(".")[0] == base_id
        assert group.best.q_value <= 0.05


def test_table_and_groups_agree(called):
    table = called.table
    assert list(table.columns) == COLUMNS
    assert (table.end - table.start >= MIN_LENGTH).all()
    assert sum(motif.n_sites for motif in called.groups) == len(table)
    for motif in called.groups:
        group = motif.details["group"]
        assert motif.name == f"seqlets/{group}"
        assert motif.n_sites == motif.details["n_seqlets"] == (table.group == group).sum()
        assert np.allclose(motif.pfm.sum(axis=1), 1.0)
    assert called.groups[-1].name == "seqlets/unmatched"
    assert called.groups[-1].matches == []
    assert (table.match_q[table.group == "unmatched"] > 0.05).all()
    assert called.database["source"] == "JASPAR"
    assert called.settings["min_length"] == MIN_LENGTH


def test_genome_spans_read_back_the_seqlet(called, positives, genome):
    table = called.table
    starts = np.array([positives.intervals[i].start for i in table.seq])
    assert (table.genome_start.to_numpy() == starts + table.start.to_numpy()).all()
    assert (table.genome_end.to_numpy() == starts + table.end.to_numpy()).all()
    for row in table.itertuples():
        window = positives.inputs[row.seq, row.start:row.end]
        assert decode(window[None])[0] == genome[row.chrom][row.genome_start:row.genome_end]


def test_reverse_complemented_windows_mirror_the_span(model, tmp_path, genome):
    bed = tmp_path / "minus.bed"
    regions = pd.read_csv(BED, sep="\t", header=None).head(20)
    regions[5] = "-"
    regions.to_csv(bed, sep="\t", header=False, index=False)
    seqs = kx.from_bed(bed, GENOME, 200, use_strand=True)
    result = kx.explain(model, seqs, "deepshap", target="all", n_references=10)
    table = seqlets(result, min_length=MIN_LENGTH).table
    assert len(table) > 0
    for row in table.itertuples():
        interval = result.intervals[row.seq]
        assert (row.genome_start, row.genome_end) == (interval.end - row.end,
                                                      interval.end - row.start)
        window = result.inputs[row.seq, row.start:row.end]
        assert decode(reverse_complement(window)[None])[0] == \
            genome[row.chrom][row.genome_start:row.genome_end]


def test_group_is_aligned_on_the_database_motif_forward_strand():
    """A consensus planted on both strands stacks into one unmixed copy of it."""
    db = load_database()
    index = next(i for i, motif_id in enumerate(db.ids) if motif_id.startswith("MA0139."))
    consensus = db.pfms[index].argmax(axis=1)
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(30, 60))]
    site = np.eye(4, dtype=np.float32)[consensus]
    x[0::2, 20:20 + len(site)] = site
    x[1::2, 20:20 + len(site)] = reverse_complement(site)
    importance = rng.normal(0, 0.01, size=x.shape[:2]).astype(np.float32)
    importance[:, 20:20 + len(site)] += 1.0
    result = kx.Attribution(x * importance[..., None], "grad_x_input", {}, np.zeros((30, 1)), x,
                            names=[f"seq{i}" for i in range(30)])
    group = seqlets(result, min_length=MIN_LENGTH).groups[0]
    assert group.details["group"] == f"{db.ids[index]} {db.names[index]}"
    assert group.n_sites == 30
    stacked = decode(group.pfm[None])[0]
    assert decode(site[None])[0] in stacked


def test_no_seqlet_is_an_empty_result(positives):
    flat = replace(positives, scores=np.zeros_like(positives.scores))
    empty = seqlets(flat)
    assert isinstance(empty, Seqlets)
    assert len(empty) == 0 and empty.groups == []
    assert list(empty.table.columns) == COLUMNS


@pytest.mark.parametrize("options, argument", [
    ({"threshold": 0.0}, "threshold"),
    ({"threshold": 1.5}, "threshold"),
    ({"min_length": 10, "max_length": 5}, "min_length"),
    ({"min_length": 0}, "min_length"),
    ({"flank": -1}, "flank"),
    ({"max_q": 0.0}, "max_q"),
])
def test_bad_arguments_are_named(positives, options, argument):
    with pytest.raises(kx.InputError, match=argument):
        seqlets(positives, **options)
