"""Motif hits in attribution maps (``kx.hits``, ``kipoi-explain hits``) on the bundled example:
hits land on the planted sites, in genome coordinates, and ablating them moves the output."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
from pyjaspar import jaspardb

import kipoi_explain as kx
from conftest import EXAMPLE_DIR
from kipoi_explain import codec
from kipoi_explain.cli.main import main as cli_main
from kipoi_explain.commands.hits import PatternSource
from kipoi_explain.errors import InputError
from kipoi_explain.motif.hits import call_hits
from kipoi_explain.motif.matrices import information_content
from kipoi_explain.motif.patterns import load_patterns

CNN = EXAMPLE_DIR / "models" / "pytorch_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
REGIONS = EXAMPLE_DIR / "data" / "regions.bed"
PLANTED = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")
#: The planted motifs (JASPAR 2024), then decoys the model was never trained on.
PLANTED_IDS = ["MA0139.2", "MA1494.2", "MA0466.3"]
DECOYS = ["MA0079", "MA0106", "MA0037", "MA0002"]
RELEASE = "JASPAR2024"


@pytest.fixture(scope="module")
def model():
    return kx.load_model(CNN)


@pytest.fixture(scope="module")
def attribution(model):
    return kx.explain(model, kx.from_bed(REGIONS, GENOME, 200), method="deepshap",
                      target="all")


def _pfm(matrix_id):
    motif = jaspardb(release=RELEASE).fetch_motif_by_id(matrix_id)
    counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64).T
    return motif.name, counts / counts.sum(axis=1, keepdims=True)


def _scored(table: pd.DataFrame) -> tuple[float, float]:
    """Precision (hits of a planted motif covering >= 50% of a planted site of that motif, or
    of the hit) and recall (planted sites so covered)."""
    sites = PLANTED.assign(key=PLANTED.motif_id)
    pairs = table.assign(key=table.motif.str.split(" ").str[0], hit=np.arange(len(table))) \
        .merge(sites.reset_index(), on=["chrom", "key"], suffixes=("", "_site"))
    overlap = (np.minimum(pairs.end, pairs.end_site) -
               np.maximum(pairs.start, pairs.start_site)).clip(lower=0)
    good = pairs[overlap >= 0.5 * np.minimum(pairs.end - pairs.start,
                                             pairs.end_site - pairs.start_site)]
    return good.hit.nunique() / max(len(table), 1), good["index"].nunique() / len(PLANTED)


@pytest.mark.slow
def test_hits_land_on_planted_sites_in_genome_coordinates(attribution):
    patterns = load_patterns("jaspar", PLANTED_IDS + DECOYS, RELEASE)
    found = call_hits(attribution, patterns)
    table = found.table()
    precision, recall = _scored(table)
    # Measured: precision 0.96, recall 0.94 (119 hits for 121 planted sites).
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    decoys = table.motif.str.split(" ").str[0].str.split(".").str[0].isin(DECOYS)
    assert decoys.sum() <= 3
    assert table.sequence.str.startswith("neg").sum() <= 2
    assert (table.strand.isin(["+", "-"])).all() and (table.end > table.start).all()
    assert table.equals(table.sort_values(["chrom", "start"], kind="stable")
                        .reset_index(drop=True))
    # Calibrated against the permuted background: the hits are far in its tail.
    assert (found.p_value <= 1e-3).all() and len(found.thresholds) == len(patterns)
    # Strand: the planted strand of CTCF (a non-palindromic motif) is recovered.
    ctcf = table[table.motif == "MA0139.2 CTCF"].merge(
        PLANTED[PLANTED.motif_id == "MA0139.2"], on="chrom", suffixes=("", "_site"))
    ctcf = ctcf[(ctcf.start < ctcf.end_site) & (ctcf.start_site < ctcf.end)]
    assert (ctcf.strand == ctcf.strand_site).mean() >= 0.9


def test_reverse_strand_interval_maps_back_to_the_genome(model, tmp_path):
    site = PLANTED[PLANTED.motif_id == "MA0139.2"].iloc[0]
    region = pd.read_csv(REGIONS, sep="\t", header=None).set_index(3).loc[site.region]
    bed = tmp_path / "minus.bed"
    bed.write_text(f"{region[0]}\t{region[1]}\t{region[2]}\t{site.region}\t0\t-\n")
    seqs = kx.from_bed(bed, GENOME, 200, use_strand=True)
    result = kx.explain(model, seqs, method="deepshap", target="CTCF")
    hit = call_hits(result, load_patterns("jaspar", ["MA0139.2"], RELEASE)).table().iloc[0]
    assert result.intervals[0].reverse
    # Same genome span and strand as on the + window, though the sequence was reversed.
    assert hit.start >= site.start - 2 and hit.end <= site.end + 2
    assert hit.strand == site.strand
    assert hit.seq_start != hit.start - region[1]


def _write_meme(path):
    """The planted motifs' JASPAR 2024 matrices as a MEME file."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    for matrix_id in PLANTED_IDS:
        name, pfm = _pfm(matrix_id)
        lines += [f"MOTIF {matrix_id} {name}", "",
                  f"letter-probability matrix: alength= 4 w= {len(pfm)}",
                  *(" ".join(f"{v:.6f}" for v in row) for row in pfm), ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_meme_and_modisco_sources_give_the_same_hits(attribution, tmp_path):
    meme = _write_meme(tmp_path / "planted.meme")
    h5 = tmp_path / "modisco"
    h5.mkdir()
    # modisco-lite's save_hdf5 layout: pos_/neg_patterns/pattern_N/contrib_scores (W, 4).
    with h5py.File(h5 / "modisco_results.h5", "w") as out:
        for k, matrix_id in enumerate(PLANTED_IDS):
            pfm = _pfm(matrix_id)[1]
            group = out.create_group(f"pos_patterns/pattern_{k}")
            group["contrib_scores"] = pfm * information_content(pfm)[:, None]
            group["sequence"] = pfm
        out.create_group("neg_patterns/pattern_0")["contrib_scores"] = -np.eye(4)[[0, 1, 2]]
    from_meme = call_hits(attribution, load_patterns(meme)).table()
    from_jaspar = call_hits(attribution, load_patterns("jaspar", PLANTED_IDS, RELEASE)).table()
    assert from_meme[["chrom", "start", "end", "strand"]].equals(
        from_jaspar[["chrom", "start", "end", "strand"]])
    patterns = load_patterns(h5)
    assert [p.name for p in patterns] == ["pos_patterns.pattern_0", "pos_patterns.pattern_1",
                                          "pos_patterns.pattern_2", "neg_patterns.pattern_0"]
    only = load_patterns(h5 / "modisco_results.h5", ["pos_patterns.pattern_0"])
    assert [p.name for p in only] == ["pos_patterns.pattern_0"]
    # The MoDISco CWMs are the JASPAR ones: the same hits, but for the negative pattern's.
    from_modisco = call_hits(attribution, patterns).table()
    positive = from_modisco[from_modisco.motif.str.startswith("pos_")].reset_index(drop=True)
    assert positive[["chrom", "start", "end", "strand"]].equals(
        from_jaspar[["chrom", "start", "end", "strand"]])


def test_ablating_ctcf_hits_lowers_ctcf_more_than_random_windows(model):
    positives = kx.from_bed(REGIONS, GENOME, 200)
    found = kx.hits(model, positives, "jaspar", target="CTCF", motif_ids=["MA0139.2"],
                    release=RELEASE, ablate=True, n_shuffles=8)
    assert len(found) >= 30 and found.ablation is not None
    rng = np.random.default_rng(0)
    width = found.end - found.start
    start = rng.integers(0, 200 - width + 1)
    random = dataclasses.replace(found, start=start, end=start + width)
    baseline = kx.ablate_hits(model, positives, random, target="CTCF", n_shuffles=8)
    # Measured: mean -0.82 for the hits (sigmoid output), -0.08 for random windows.
    assert found.ablation.mean() < -0.5
    assert found.ablation.mean() < baseline.mean() - 0.4
    assert (found.ablation < baseline).mean() >= 0.8
    # The result travels through the codec (a server returns it).
    back = codec.decode(codec.encode(found))
    assert back.table().equals(found.table())


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "kipoi_explain", "hits", str(CNN), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_fasta_records_use_name_and_offset(tmp_path):
    windows = pd.read_csv(REGIONS, sep="\t", header=None)
    import pyfaidx

    genome = pyfaidx.Fasta(str(GENOME))
    chosen = pd.concat([windows[windows[3].str.startswith("pos")].iloc[:2],
                        windows[windows[3].str.startswith("neg")].iloc[:1]])
    fasta = tmp_path / "records.fa"
    fasta.write_text("".join(f">{r[3]}\n{genome[r[0]][r[1]:r[2]].seq}\n"
                             for r in chosen.itertuples(index=False)))
    out = tmp_path / "hits.bed.gz"
    proc = _cli("--sequences", str(fasta), "--motifs", "jaspar", "--release", RELEASE,
                "--motif-ids", ",".join(PLANTED_IDS), "--target", "all", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, sep="\t")
    assert table.columns[0] == "#chrom" and "p_value" in table.columns
    sites = PLANTED[PLANTED.region.isin(chosen[3])]
    # Hits are named by record, at offsets in it: each planted site in these windows is hit.
    for site in sites.itertuples():
        rows = table[(table["#chrom"] == site.region) &
                     (table.motif.str.startswith(site.motif_id))]
        assert ((rows.start < site.window_end) & (rows.end > site.window_start)).any()
    assert not table["#chrom"].eq(chosen.iloc[2, 3]).any()
    assert (tmp_path / "hits.json").is_file()


@pytest.mark.slow
def test_cli_writes_a_bigbed_with_the_rows_of_the_bed(tmp_path):
    import pybigtools

    common = ("--bed", str(REGIONS), "--fasta", str(GENOME), "--motifs", "jaspar",
              "--release", RELEASE, "--motif-ids", ",".join(PLANTED_IDS), "--target", "all")
    assert _cli(*common, "-o", str(tmp_path / "hits.bed")).returncode == 0
    proc = _cli(*common, "-o", str(tmp_path / "hits.bb"))
    assert proc.returncode == 0, proc.stderr
    bed = pd.read_csv(tmp_path / "hits.bed", sep="\t")
    reader = pybigtools.open(str(tmp_path / "hits.bb"))
    assert "float similarity" in reader.sql() and "string sequence" in reader.sql()
    read = [(chrom, *record[:5]) for chrom in ("chr1", "chr2")
            for record in reader.records(chrom)]
    expected = [(r[0], r[1], r[2], r[3], str(r[4]), r[5])
                for r in bed.iloc[:, :6].itertuples(index=False)]
    assert sorted(read) == sorted(expected) and len(read) > 100


def test_cli_refuses_bad_motifs_and_outputs(tmp_path, capsys):
    common = ("--bed", str(REGIONS), "--fasta", str(GENOME), "--target", "CTCF")
    checks = [
        (("--motifs", "jaspar", "--release", RELEASE, "--motif-ids", "MA9999.1",
          "-o", str(tmp_path / "a.bed")), "'MA9999.1'"),
        (("--motifs", str(REGIONS), "-o", str(tmp_path / "b.bed")), "MEME"),
        (("--motifs", "jaspar", "-o", str(REGIONS / "x.bed")), "nothing can be written"),
    ]
    for args, expected in checks:
        # In this process: the subprocess test above covers the command line's own start.
        assert cli_main(["hits", str(CNN), *common, *args, "--no-progress"]) == 2
        message = capsys.readouterr().err.strip()
        assert expected in message and "Traceback" not in message, message
        assert len(message.splitlines()) == 1, message
    not_h5 = tmp_path / "broken.h5"
    not_h5.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not a modisco-lite results file"):
        load_patterns(not_h5)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as out:
        out.create_group("pos_patterns/pattern_0")["sequence"] = np.ones((5, 4))
    with pytest.raises(InputError, match="contrib_scores"):
        load_patterns(empty)
    with pytest.raises(InputError, match="no modisco_results.h5"):
        load_patterns(tmp_path)


def test_server_reads_no_motif_file(tmp_path):
    kind = PatternSource()
    with pytest.raises(InputError, match="reads no motif file"):
        kind.on_server(str(tmp_path / "modisco"), "motifs", None)
    assert kind.on_server("jaspar", "motifs", None) == "jaspar"
    meme = tmp_path / "one.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF X1 ONE\n\n"
                    "letter-probability matrix: alength= 4 w= 2\n1 0 0 0\n0 0 0 1\n")
    sent = kind.to_wire(str(meme))
    assert list(sent) == ["X1 ONE"] and sent["X1 ONE"].shape == (2, 4)
    assert [p.name for p in load_patterns(sent, ["X1"])] == ["X1 ONE"]


@pytest.mark.slow
def test_a_server_calls_the_hits_the_library_calls(client, model, tmp_path):
    """A client reads its MEME file and sends the CWMs; the result travels by the codec."""
    meme = _write_meme(tmp_path / "planted.meme")
    sequences = EXAMPLE_DIR / "data" / "sequences.fa"
    local = kx.hits(model, sequences, str(meme), target="all", motif_ids=["CTCF"])
    remote = client.hits("cnn", str(sequences), str(meme), target="all", motif_ids=["CTCF"])
    assert len(remote) >= 30 and remote.motifs == ["MA0139.2 CTCF"]
    pd.testing.assert_frame_equal(remote.table().drop(columns=["attribution", "similarity",
                                                               "weight", "p_value"]),
                                  local.table().drop(columns=["attribution", "similarity",
                                                              "weight", "p_value"]))
    np.testing.assert_allclose(remote.similarity, local.similarity, atol=1e-4)


@pytest.mark.slow
def test_a_server_never_reads_a_motif_file_of_its_own(server):
    import grpc

    from kipoi_explain.v2 import explain_pb2 as pb
    from kipoi_explain.v2 import explain_pb2_grpc as pb_grpc

    request = pb.RunRequest(command="hits", model="cnn",
                            samples=codec.to_samples(["ACGT" * 50]),
                            options=codec.encode_entries({"motifs": "/etc/hostname"}))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.ExplainServiceStub(channel).Run(request, timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reads no motif file" in caught.value.details()
