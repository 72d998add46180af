"""``kipoi-explain ... --remote HOST:PORT``: each command run in process once locally and once
against a real server on a loopback port writes the same files."""
import json
import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import EXAMPLE_DIR, SERVER_BATCH, free_port, serve

from kipoi_explain.cli import main
from kipoi_explain.writers import read_hdf5

# Every test here talks to a server started for real: slow.
pytestmark = pytest.mark.slow

MODEL = EXAMPLE_DIR / "models" / "pytorch_cnn"
FREE_MODEL = EXAMPLE_DIR / "models" / "keras_cnn"
GENOME = EXAMPLE_DIR / "data" / "genome.fa"
BED = EXAMPLE_DIR / "data" / "regions.bed"


def cli(capsys, *args):
    """Exit status, stdout and stderr of ``kipoi-explain ARGS``, run in this process."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


#: A local run in the blocks a server uses, so that the settings both record are the same.
SERVER_BLOCKS = ("--batch-size", str(SERVER_BATCH))


def remote(server):
    return ["--remote", f"127.0.0.1:{server.port}"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, genome):
    """Small inputs: 20 example regions (planted motifs in the first 10) labelled by motif, 6
    sequences, and a VCF of SNVs, an MNV, an indel, a multi-allelic record and records that
    cannot be scored."""
    folder = tmp_path_factory.mktemp("remote_inputs")
    regions = pd.read_csv(BED, sep="\t", header=None)[50:70]
    regions.to_csv(folder / "regions.bed", sep="\t", header=False, index=False)
    sites = pd.read_csv(EXAMPLE_DIR / "data" / "planted_sites.tsv", sep="\t")
    labels = pd.DataFrame({"name": regions[3]})
    for motif in ("CTCF", "HNF4A"):
        labels[motif] = labels.name.isin(sites.region[sites.motif_name == motif]).astype(int)
    labels.to_csv(folder / "labels.tsv", sep="\t", index=False)
    records = (EXAMPLE_DIR / "data" / "sequences.fa").read_text().split(">")[1:7]
    (folder / "seqs.fa").write_text("".join(">" + r for r in records))
    chr1, chr2 = genome["chr1"], genome["chr2"]

    def other(base):
        return "C" if base != "C" else "G"

    rows = [("chr1", 1300, "snv", chr1[1299], other(chr1[1299])),
            ("chr1", 5000, "multi", chr1[4999], "A,T" if chr1[4999] not in "AT" else "C,G"),
            ("chr2", 700, "mnv", chr2[699:701], other(chr2[699]) + other(chr2[700])),
            ("chr2", 9000, "del", chr2[8999:9004], chr2[8999]),
            ("chr1", 20000, "ins", chr1[19999], chr1[19999] + "GATTACA"),
            ("chr1", 3000, "wrong_ref", other(chr1[2999]), chr1[2999]),
            ("chrX", 100, "no_contig", "A", "G")]
    (folder / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n##contig=<ID=chrX>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" +
        "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, i, r, a in rows))
    return folder


@pytest.mark.parametrize("method, options", [
    ("deepshap", ["--n-references", 4, "--seed", 3, "--target", "CTCF,HNF4A"]),
    ("ism", ["--start", 90, "--end", 110, "--target", "all", "--no-plot"]),
])
def test_explain_remote_writes_what_local_writes(server, inputs, tmp_path, capsys, method,
                                                 options):
    common = ["--fasta", GENOME, "--bed", inputs / "regions.bed", "--method", method,
              *options, "--no-progress"]
    assert cli(capsys, "explain", MODEL, *common, "-o", tmp_path / "local" / "a.h5")[0] == 0
    status, out, err = cli(capsys, "explain", "cnn", *common, *remote(server),
                           "-o", tmp_path / "remote" / "a.h5")
    assert status == 0, err
    assert "explained 20 sequences of 'cnn'" in out
    local, there = read_hdf5(tmp_path / "local" / "a.h5"), read_hdf5(tmp_path / "remote" / "a.h5")
    for field in ("scores", "inputs", "predictions"):
        np.testing.assert_allclose(getattr(there, field), getattr(local, field), atol=1e-5,
                                   err_msg=field)
    assert there.method == local.method == method
    assert there.target == local.target
    assert there.names == local.names and there.intervals == local.intervals
    assert there.model["fingerprint"] == local.model["fingerprint"]
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local").iterdir())


def test_motifs_remote_writes_what_local_writes(server, tmp_path, capsys):
    assert cli(capsys, "motifs", MODEL, "--method", "weights", "-o", tmp_path / "local")[0] == 0
    status, out, err = cli(capsys, "motifs", "cnn", "--method", "weights", *remote(server),
                           "-o", tmp_path / "remote")
    assert status == 0, err
    local = pd.read_csv(tmp_path / "local" / "matches.tsv", sep="\t")
    there = pd.read_csv(tmp_path / "remote" / "matches.tsv", sep="\t")
    assert local.motif.nunique() == 16
    pd.testing.assert_frame_equal(there, local, rtol=1e-5)
    # The wire carries matrices as float32: the sixth decimal of the MEME file may differ.
    assert _close((tmp_path / "remote" / "motifs.meme").read_text().split(),
                  (tmp_path / "local" / "motifs.meme").read_text().split())
    assert sorted(p.name for p in (tmp_path / "remote" / "logos").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local" / "logos").iterdir())


def test_diagnose_remote_sends_labels_and_names_the_free_model(server, inputs, tmp_path, capsys):
    """constraint_cost against the Keras example: a local path locally, the server's ``kcnn``
    remotely; the labels file is read here both times."""
    common = ["--fasta", GENOME, "--bed", inputs / "regions.bed", "--checks",
              "filter_scaling,constraint_cost", "--labels", inputs / "labels.tsv",
              "--no-progress"]
    assert cli(capsys, "diagnose", MODEL, *common, "--free-model", FREE_MODEL,
               "-o", tmp_path / "local" / "r.json")[0] == 0
    status, out, err = cli(capsys, "diagnose", "cnn", *common, "--free-model", "kcnn",
                           *remote(server), "-o", tmp_path / "remote" / "r.json")
    assert status == 0, err
    assert "2 checks on 20 sequences" in out
    local = json.loads((tmp_path / "local" / "r.json").read_text())
    there = json.loads((tmp_path / "remote" / "r.json").read_text())
    assert there["findings"] == local["findings"]
    assert _close(there["measurements"], local["measurements"])
    outputs = there["measurements"]["constraint_cost"]["outputs"]
    assert set(outputs) == {"CTCF", "HNF4A"} and outputs["CTCF"]["n"] == 20
    for suffix in (".md", ".html"):
        assert (tmp_path / "remote" / "r.json").with_suffix(suffix).is_file()


def _close(a, b, tolerance=1e-5) -> bool:
    """Nested JSON values (or lists of words) equal, numbers within ``tolerance``."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and \
            all(_close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and \
            all(_close(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            a, b = float(a), float(b)
        except ValueError:
            return False
    if isinstance(a, float) and isinstance(b, (int, float)):
        return bool(np.isclose(a, b, rtol=tolerance, atol=1e-6, equal_nan=True))
    return a == b


def vcf_records(path):
    with pysam.VariantFile(str(path)) as vcf:
        return [(r.chrom, r.pos, r.id, r.ref, r.alts, tuple(r.filter.keys()),
                 {k: r.info[k] for k in r.info}) for r in vcf]


def test_score_vcf_remote_streams_every_record(server, inputs, tmp_path, capsys):
    common = ["--vcf", inputs / "v.vcf", "--method", "deepshap", "--n-references", 2,
              "--target", "CTCF,CEBPB", "--motifs", "jaspar", "--no-progress"]
    out_local, out_remote = tmp_path / "local", tmp_path / "remote"
    assert cli(capsys, "score-vcf", MODEL, *common, "--fasta", GENOME,
               "-o", out_local / "o.vcf.gz", "--tsv", out_local / "o.tsv",
               "--attributions", out_local / "a.h5")[0] == 0
    status, out, err = cli(capsys, "score-vcf", "cnn", *common, *remote(server),
                           "--remote-fasta", "genome", "-o", out_remote / "o.vcf.gz",
                           "--tsv", out_remote / "o.tsv", "--attributions", out_remote / "a.h5")
    assert status == 0, err
    assert "7 VCF records read, 7 written as 8 alleles, one output record per ALT" in out
    local, there = vcf_records(out_local / "o.vcf.gz"), vcf_records(out_remote / "o.vcf.gz")
    assert [r[:6] for r in there] == [r[:6] for r in local]
    # The input is not sorted: the output is, by the header's contigs, then position.
    assert "v.vcf is not sorted; the output was sorted in memory" in out
    assert [r[2] for r in there] == ["snv", "wrong_ref", "multi", "multi", "ins", "mnv", "del",
                                     "no_contig"]
    assert (out_remote / "o.vcf.gz.tbi").is_file()
    for mine, theirs in zip(there, local):
        assert mine[6].keys() == theirs[6].keys()
        for key, value in mine[6].items():
            if isinstance(value, str):
                assert value == theirs[6][key], key
            else:
                np.testing.assert_allclose(value, theirs[6][key], rtol=1e-4, atol=1e-5,
                                           err_msg=key)
    assert sum("KX_MOTIF" in r[6] for r in there) > 0
    assert pd.read_csv(out_remote / "o.tsv", sep="\t").shape == \
        pd.read_csv(out_local / "o.tsv", sep="\t").shape
    with h5py.File(out_local / "a.h5") as a, h5py.File(out_remote / "a.h5") as b:
        assert list(b["keys"].asstr()) == list(a["keys"].asstr()) and len(a["keys"]) == 6
        for name in set(a) - {"keys"}:
            np.testing.assert_allclose(b[name][()], a[name][()], atol=1e-5, err_msg=name)


@pytest.mark.parametrize("args, message", [
    (["explain", "nope", "--sequences", "SEQS"], "NOT_FOUND: model 'nope'"),
    (["explain", "cnn", "--sequences", "SEQS", "--target", "NOPE"], "INVALID_ARGUMENT: "),
    (["explain", "cnn", "--sequences", "SEQS", "--device", "cpu"], "--device"),
    (["motifs", "cnn", "--method", "weights", "--database", "MEME"], "JASPAR releases only"),
    (["score-vcf", "cnn", "--vcf", "VCF", "--fasta", GENOME], "--remote-fasta NAME"),
    (["score-vcf", "cnn", "--vcf", "VCF", "--remote-fasta", "hg19"], "NOT_FOUND: fasta 'hg19'"),
    (["score-vcf", "cnn", "--vcf", "VCF", "--remote-fasta", "genome", "--motifs", "MEME"],
     "own JASPAR release only"),
])
def test_remote_errors_are_one_line_with_the_status(server, inputs, tmp_path, capsys, args,
                                                    message):
    meme = tmp_path / "db.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1 one\nletter-probability "
                    "matrix: alength= 4 w= 2\n1 0 0 0\n0 1 0 0\n")
    files = {"SEQS": inputs / "seqs.fa", "VCF": inputs / "v.vcf", "MEME": meme}
    args = [files.get(a, a) for a in args]
    output = tmp_path / ("o.vcf.gz" if args[0] == "score-vcf" else "o.h5")
    status, _, err = cli(capsys, *args, *remote(server), "-o", output, "--no-progress")
    assert status == 2
    assert message in err and err.startswith(f"kipoi-explain {args[0]}: error: ")
    assert "Traceback" not in err
    assert not output.exists()


def test_remote_options_need_remote(capsys, tmp_path):
    status, _, err = cli(capsys, "explain", MODEL, "--sequences", "x.fa", "--token", "t",
                         "-o", tmp_path / "o.h5")
    assert status == 2 and "--token" in err and "only with --remote" in err


def test_unreachable_server_is_exit_status_3(inputs, tmp_path, capsys):
    port = free_port()
    status, _, err = cli(capsys, "explain", "cnn", "--sequences", inputs / "seqs.fa",
                         "--remote", f"127.0.0.1:{port}", "--timeout", 20, "-o", tmp_path / "o.h5")
    assert status == 3 and "UNAVAILABLE: " in err and "Traceback" not in err


@pytest.fixture(scope="module")
def token_server():
    running = serve(models={"cnn": MODEL}, tokens=["t"])
    yield running
    running.stop(0)


def test_token_from_option_or_environment(token_server, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KIPOI_EXPLAIN_TOKEN", raising=False)
    command = ["explain", "cnn", "--sequences", inputs / "seqs.fa", "--method", "saliency",
               "--no-plot", *remote(token_server), "-o", tmp_path / "o.h5"]
    status, _, err = cli(capsys, *command)
    assert status == 2 and "UNAUTHENTICATED: missing authorization" in err
    status, _, err = cli(capsys, *command, "--token", "wrong")
    assert status == 2 and "UNAUTHENTICATED: invalid bearer token" in err
    assert not (tmp_path / "o.h5").exists()
    assert cli(capsys, *command, "--token", "t")[0] == 0
    assert read_hdf5(tmp_path / "o.h5").scores.shape == (6, 200, 4)
    (tmp_path / "o.h5").unlink()
    monkeypatch.setenv("KIPOI_EXPLAIN_TOKEN", "t")
    assert cli(capsys, *command)[0] == 0
    assert (tmp_path / "o.h5").is_file()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_with_the_servers_certificate(inputs, tmp_path, capsys):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    running = serve(models={"cnn": MODEL}, tls={"cert": str(cert), "key": str(key)})
    try:
        command = ["explain", "cnn", "--sequences", inputs / "seqs.fa", "--method", "saliency",
                   "--no-plot", "--remote", f"localhost:{running.port}", "--timeout", 30,
                   "-o", tmp_path / "o.h5"]
        status, _, err = cli(capsys, *command)     # plaintext to a TLS port fails
        assert status == 3 and "UNAVAILABLE" in err
        status, _, err = cli(capsys, *command, "--tls-ca", cert)
        assert status == 0, err
        assert read_hdf5(tmp_path / "o.h5").method == "saliency"
    finally:
        running.stop(0)


# Attention maps and entity importance (issue 7) ------------------------------------------------

GENNET = EXAMPLE_DIR / "models" / "gennet"
GENOTYPES = EXAMPLE_DIR / "data" / "genotypes.tsv"


@pytest.fixture(scope="module")
def interpret_server(tmp_path_factory):
    """A server with the tiny conv + transformer model (its convolution channels declared as
    entities) and the GenNet example; the tiny model's directory and a FASTA of five 100 bp
    sequences come along."""
    from conftest import make_tiny_transformer, random_onehot

    tiny = make_tiny_transformer(tmp_path_factory.mktemp("remote_tiny"), seed=3)
    (tiny / "entities.yaml").write_text(
        "levels:\n  filter:\n    layer: relu\n    units: [" +
        ", ".join(f"f{i}" for i in range(8)) + "]\n")
    fasta = tiny.parent / "seqs100.fa"
    fasta.write_text("".join(f">q{i}\n{''.join(np.array(list('ACGT'))[row])}\n"
                             for i, row in enumerate(random_onehot(5, 100, 9).argmax(-1))))
    running = serve(models={"tiny": tiny, "gennet": GENNET})
    yield running, tiny, fasta
    running.stop(0)


def _same_hdf5(a, b):
    """Every dataset and attribute of two HDF5 files is identical (NaN equal to NaN)."""
    def walk(x, y, where):
        assert sorted(x.keys()) == sorted(y.keys()), where
        assert dict(x.attrs) == dict(y.attrs), where
        for key in x:
            if isinstance(x[key], h5py.Group):
                walk(x[key], y[key], f"{where}/{key}")
            else:
                np.testing.assert_array_equal(x[key][()], y[key][()], err_msg=f"{where}/{key}")

    with h5py.File(a) as x, h5py.File(b) as y:
        walk(x, y, "")


@pytest.mark.parametrize("args", [
    ["--sequences", "SEQS", "--reduce", "rollout", "--query", 50],
    ["--bed", "BED", "--fasta", GENOME, "--layers", "1", "--heads", "0", "--reduce", "heads"],
])
def test_attention_remote_writes_what_local_writes(interpret_server, inputs, tmp_path, capsys,
                                                   args):
    server, tiny, fasta = interpret_server
    files = {"SEQS": fasta, "BED": inputs / "regions.bed"}
    args = [files.get(a, a) for a in args]
    assert cli(capsys, "attention", tiny, *args, "--no-progress", *SERVER_BLOCKS,
               "-o", tmp_path / "local" / "maps.h5")[0] == 0
    status, out, err = cli(capsys, "attention", "tiny", *args, *remote(server), "--no-progress",
                           "-o", tmp_path / "remote" / "maps.h5")
    assert status == 0, err
    assert "of 'tiny'" in out
    _same_hdf5(tmp_path / "local" / "maps.h5", tmp_path / "remote" / "maps.h5")
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local").iterdir()) == ["maps.h5", "maps.png"]


@pytest.mark.parametrize("model, args", [
    ("gennet", ["--input", GENOTYPES, "--level", "gene", "--method", "integrated_gradients",
                "--n-steps", 8, "--per-sample"]),
    ("gennet", ["--input", GENOTYPES, "--level", "pathway", "--method", "ablation",
                "--fill", "mean", "--target", "case"]),
    ("tiny", ["--input", "SEQS", "--level", "filter", "--method", "grad_x_activation",
              "--target", "right", "--per-sample"]),
])
def test_entities_remote_writes_what_local_writes(interpret_server, tmp_path, capsys, model,
                                                  args):
    server, tiny, fasta = interpret_server
    args = [fasta if a == "SEQS" else a for a in args]
    assert cli(capsys, "entities", GENNET if model == "gennet" else tiny, *args, "--no-progress",
               *SERVER_BLOCKS, "-o", tmp_path / "local" / "ranked.tsv")[0] == 0
    status, out, err = cli(capsys, "entities", model, *args, *remote(server), "--no-progress",
                           "-o", tmp_path / "remote" / "ranked.tsv")
    assert status == 0, err
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == names
    for name in names:
        if not name.endswith(".png"):
            assert (tmp_path / "remote" / name).read_text() == \
                (tmp_path / "local" / name).read_text(), name
    if model == "gennet":
        ranked = pd.read_csv(tmp_path / "remote" / "ranked.tsv", sep="\t")
        assert ranked.entity[0] == ("GENE07" if "gene" in args else "PATH_C")


@pytest.mark.parametrize("args, message", [
    (["attention", "gennet", "--sequences", "SEQS"], "INVALID_ARGUMENT: attention maps needs"),
    (["attention", "tiny", "--sequences", "SEQS", "--layers", "nope"],
     "INVALID_ARGUMENT: layer(s) 'nope'"),
    (["entities", "gennet", "--input", GENOTYPES, "--level", "tissue"],
     "INVALID_ARGUMENT: level 'tissue'"),
    (["entities", "gennet", "--input", GENOTYPES, "--level", "gene", "--mapping", GENOTYPES],
     "--mapping"),
])
def test_interpretation_remote_errors_are_one_line(interpret_server, tmp_path, capsys, args,
                                                   message):
    server, _, fasta = interpret_server
    args = [fasta if a == "SEQS" else a for a in args]
    output = tmp_path / ("o.h5" if args[0] == "attention" else "o.tsv")
    status, _, err = cli(capsys, *args, *remote(server), "-o", output, "--no-progress")
    assert status == 2, err
    assert message in err and err.startswith(f"kipoi-explain {args[0]}: error: ")
    assert "Traceback" not in err
    assert not output.exists()


@pytest.mark.parametrize("args", [
    ["--sequences", "SEQS", "--window", 40, "--stride", 20, "--n-shuffles", 2, "--seed", 4,
     "--target", "CTCF,HNF4A"],
    ["--bed", "BED", "--fasta", GENOME, "--perturbation", "mask", "--window", 25, "--start",
     50, "--end", 150, "--target", "all"],
    ["--sequences", "SEQS", "--insert", "CCGCGNGGNGGCAG", "--mode", "insert", "--stride", 31],
])
def test_screen_remote_writes_what_local_writes(server, inputs, tmp_path, capsys, args):
    files = {"SEQS": inputs / "seqs.fa", "BED": inputs / "regions.bed"}
    args = [files.get(a, a) for a in args]
    assert cli(capsys, "screen", MODEL, *args, "--no-progress", *SERVER_BLOCKS,
               "-o", tmp_path / "local" / "s.tsv")[0] == 0
    status, out, err = cli(capsys, "screen", "cnn", *args, *remote(server), "--no-progress",
                           "-o", tmp_path / "remote" / "s.tsv")
    assert status == 0, err
    assert "of 'cnn'" in out
    local = pd.read_csv(tmp_path / "local" / "s.tsv", sep="\t")
    there = pd.read_csv(tmp_path / "remote" / "s.tsv", sep="\t")
    assert len(local) > 0
    assert (tmp_path / "remote" / "s.tsv").read_text() == \
        (tmp_path / "local" / "s.tsv").read_text()
    assert (tmp_path / "remote" / "s.json").read_text() == \
        (tmp_path / "local" / "s.json").read_text()
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local").iterdir()) == ["s.json", "s.png", "s.tsv"]
    if "--bed" in args:                      # genome coordinates of the local intervals
        assert {"chrom", "genome_start"} <= set(there.columns)


def test_screen_remote_refuses_to_fill_deletions_from_a_local_fasta(server, inputs, tmp_path,
                                                                    capsys):
    output = tmp_path / "o.tsv"
    status, _, err = cli(capsys, "screen", "cnn", "--bed", inputs / "regions.bed", "--fasta",
                         GENOME, "--perturbation", "delete", *remote(server), "--no-progress",
                         "-o", output)
    assert status == 2 and "own FASTA files" in err and "Traceback" not in err
    assert err.startswith("kipoi-explain screen: error: ") and not output.exists()


def test_screen_remote_deletion_reads_and_fills_from_the_server_fasta(server, inputs, tmp_path,
                                                                      capsys):
    args = ["--bed", inputs / "regions.bed", "--perturbation", "delete", "--window", 40,
            "--use-strand", "--no-progress", "--no-plot"]
    assert cli(capsys, "screen", MODEL, *args, "--fasta", GENOME,
               "-o", tmp_path / "local.tsv")[0] == 0
    status, _, err = cli(capsys, "screen", "cnn", *args, "--server-fasta", "genome",
                         *remote(server), "-o", tmp_path / "remote.tsv")
    assert status == 0, err
    local = pd.read_csv(tmp_path / "local.tsv", sep="\t")
    there = pd.read_csv(tmp_path / "remote.tsv", sep="\t")
    pd.testing.assert_frame_equal(there, local)
    status, _, err = cli(capsys, "screen", MODEL, *args, "--server-fasta", "genome",
                         "-o", tmp_path / "x.tsv")
    assert status == 2 and "with --remote and --bed" in err
