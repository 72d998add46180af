"""FASTA and BED input: record order, kipoiseq-compatible resizing, strand, named errors."""
import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.sequences.alphabet import one_hot
from kipoi_explain.sequences.genome import read_bed, read_fasta, resize

from conftest import make_torch_cnn

RNG = np.random.default_rng(42)
CONTIGS = {
    "chr1": "".join(RNG.choice(list("ACGT"), 300)),
    "chr2": "".join(RNG.choice(list("ACGT"), 250)),
    "chrM": "acgtnACGTN" * 3,
}


def _rc(s):
    return s[::-1].translate(str.maketrans("ACGTNacgtn", "TGCANtgcan"))


@pytest.fixture
def genome(tmp_path):
    path = tmp_path / "genome.fa"
    with open(path, "w") as handle:
        for name, seq in CONTIGS.items():
            handle.write(f">{name} some description\n")
            for i in range(0, len(seq), 60):
                handle.write(seq[i:i + 60] + "\n")
    return path


def _bed(tmp_path, lines, name="peaks.bed"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


# ---- FASTA ------------------------------------------------------------------------------

def test_read_fasta_keeps_file_order_and_case(tmp_path):
    path = tmp_path / "seqs.fa"
    path.write_text(">zeta\nACGT\nAA\n>alpha\nccgg\nTT\n>mid\nNNNNAC\n")
    names, seqs = read_fasta(path)
    assert names == ["zeta", "alpha", "mid"]
    assert seqs == ["ACGTAA", "ccggTT", "NNNNAC"]


def test_from_fasta_encodes_records(tmp_path):
    path = tmp_path / "seqs.fa"
    path.write_text(">b\nACGTAC\n>a\nTTTTGG\n")
    result = kx.from_fasta(path)
    assert result.names == ["b", "a"]
    np.testing.assert_array_equal(result.onehot, one_hot(["ACGTAC", "TTTTGG"]))


def test_missing_fasta_file(tmp_path):
    with pytest.raises(kx.InputError, match="does not exist"):
        read_fasta(tmp_path / "absent.fa")


# ---- BED parsing ------------------------------------------------------------------------

def test_read_bed_fields_and_skipped_lines(tmp_path):
    path = _bed(tmp_path, ["track name=x", "# comment", "chr1\t10\t20\tpeakA\t0\t-",
                           "", "chr2\t5\t9", "chr1\t1\t3\t.\t0\t+"])
    intervals = read_bed(path)
    assert intervals == [kx.Interval("chr1", 10, 20, "peakA", "-"),
                         kx.Interval("chr2", 5, 9, "chr2:5-9", "."),
                         kx.Interval("chr1", 1, 3, "chr1:1-3", "+")]


def test_bed_two_columns_names_line(tmp_path):
    path = _bed(tmp_path, ["chr1\t10\t20", "# c", "chr1\t30"])
    with pytest.raises(kx.InputError) as err:
        read_bed(path)
    assert "line 3" in str(err.value) and "peaks.bed" in str(err.value)
    assert "2 tab-separated column" in str(err.value)


@pytest.mark.parametrize("line", ["chr1\t20\t20", "chr1\t30\t20", "chr1\t-5\t20"])
def test_bed_bad_interval_names_line(tmp_path, line):
    path = _bed(tmp_path, ["chr1\t1\t5", line])
    with pytest.raises(kx.InputError, match=r"line 2: interval .* must satisfy 0 <= start < end"):
        read_bed(path)


@pytest.mark.parametrize("line", ["chr1\t1.5\t20", "chr1\t10\tend", "chr1\t1e2\t300"])
def test_bed_non_integer_coordinates(tmp_path, line):
    path = _bed(tmp_path, [line])
    with pytest.raises(kx.InputError, match=r"line 1: .*must be\s+integers"):
        read_bed(path)


def test_bed_missing_or_empty(tmp_path):
    with pytest.raises(kx.InputError, match="does not exist"):
        read_bed(tmp_path / "absent.bed")
    with pytest.raises(kx.InputError, match="no interval"):
        read_bed(_bed(tmp_path, ["# only a comment"]))


# ---- resizing ---------------------------------------------------------------------------

@pytest.mark.parametrize("start, end", [(100, 150), (100, 151), (60, 61), (0, 1000), (83, 84),
                                        (40, 90), (41, 90)])
@pytest.mark.parametrize("length", [1, 10, 11, 100, 101])
def test_resize_matches_kipoiseq(start, end, length):
    from pybedtools import Interval as BedInterval
    from kipoiseq.transforms.functional import resize_interval

    expected = resize_interval(BedInterval("chr1", start, end, name="x", strand="-"), length)
    got = resize(kx.Interval("chr1", start, end, "x", "-"), length)
    assert (got.start, got.end) == (expected.start, expected.end)
    assert got.end - got.start == length
    assert (got.chrom, got.name, got.strand) == ("chr1", "x", "-")


def test_from_bed_resizes_and_reads(tmp_path, genome):
    bed = _bed(tmp_path, ["chr1\t100\t151\tpeakA", "chr2\t10\t30\tpeakB", "chr1\t200\t201"])
    result = kx.from_bed(bed, genome, length=20)
    assert result.names == ["peakA", "peakB", "chr1:200-201"]
    assert [(w.chrom, w.start, w.end) for w in result.intervals] == \
        [("chr1", 115, 135), ("chr2", 10, 30), ("chr1", 190, 210)]
    expected = [CONTIGS["chr1"][115:135], CONTIGS["chr2"][10:30], CONTIGS["chr1"][190:210]]
    np.testing.assert_array_equal(result.onehot, one_hot(expected))


def test_from_bed_without_length_keeps_intervals(genome):
    result = kx.from_bed([kx.Interval("chr2", 3, 13, "w")], genome)
    assert result.intervals == [kx.Interval("chr2", 3, 13, "w")]
    np.testing.assert_array_equal(result.onehot, one_hot([CONTIGS["chr2"][3:13]]))


def test_soft_masked_and_n_bases_from_genome(genome):
    result = kx.from_bed([kx.Interval("chrM", 0, 10, "m")], genome)
    np.testing.assert_array_equal(result.onehot, one_hot(["ACGTNACGTN"]))
    assert result.onehot[0, 4].tolist() == [0.25] * 4


def test_use_strand_reverse_complements_minus(tmp_path, genome):
    bed = _bed(tmp_path, ["chr1\t50\t70\tfwd\t0\t+", "chr1\t50\t70\trev\t0\t-",
                          "chrM\t0\t20\tmrev\t0\t-"])
    stranded = kx.from_bed(bed, genome, use_strand=True)
    plain = kx.from_bed(bed, genome)
    seq = CONTIGS["chr1"][50:70]
    np.testing.assert_array_equal(stranded.onehot[0], one_hot([seq])[0])
    np.testing.assert_array_equal(stranded.onehot[1], one_hot([_rc(seq)])[0])
    np.testing.assert_array_equal(stranded.onehot[2], one_hot([_rc(CONTIGS["chrM"][:20])])[0])
    # without use_strand both strands read the + strand
    np.testing.assert_array_equal(plain.onehot[1], one_hot([seq])[0])
    assert [w.strand for w in stranded.intervals] == ["+", "-", "-"]


# ---- errors naming the record -----------------------------------------------------------

def test_missing_contig_names_record(tmp_path, genome):
    bed = _bed(tmp_path, ["chr1\t10\t30\tok", "chrX\t10\t30\tpeakX"])
    with pytest.raises(kx.InputError) as err:
        kx.from_bed(bed, genome, length=20)
    message = str(err.value)
    assert "'peakX'" in message and "'chrX'" in message and "genome.fa" in message
    assert "naming" not in message          # no hint: neither X nor chrX is there


def test_missing_contig_chr_prefix_hint(tmp_path, genome):
    with pytest.raises(kx.InputError) as err:
        kx.from_bed(_bed(tmp_path, ["1\t10\t30\tpeak1"]), genome, length=20)
    message = str(err.value)
    assert "'peak1'" in message and "'1'" in message
    assert "it has 'chr1'" in message


def test_missing_contig_hint_other_direction(tmp_path):
    fasta = tmp_path / "ensembl.fa"
    fasta.write_text(">2\n" + "ACGT" * 20 + "\n")
    with pytest.raises(kx.InputError, match=r"'chr2'.*it has '2'"):
        kx.from_bed([kx.Interval("chr2", 0, 10, "p")], fasta)


@pytest.mark.parametrize("start, end, length", [(290, 300, 40), (0, 4, 20), (240, 251, None)])
def test_window_past_contig_end_names_record(genome, start, end, length):
    chrom = "chr2" if end == 251 else "chr1"
    with pytest.raises(kx.InputError) as err:
        kx.from_bed([kx.Interval(chrom, start, end, "edge")], genome, length=length)
    message = str(err.value)
    assert "'edge'" in message and "runs past" in message
    assert str(len(CONTIGS[chrom])) in message


def test_window_exactly_at_contig_end_is_fine(genome):
    result = kx.from_bed([kx.Interval("chr1", 280, 300, "end")], genome)
    np.testing.assert_array_equal(result.onehot, one_hot([CONTIGS["chr1"][280:]]))


# ---- explain keeps the intervals --------------------------------------------------------

def test_explain_on_bed_keeps_intervals(tmp_path, genome):
    bed = _bed(tmp_path, ["chr1\t100\t140\tpeakA\t0\t+", "chr2\t100\t200\tpeakB\t0\t-"])
    sequences = kx.from_bed(bed, genome, length=100, use_strand=True)
    model = kx.load_model(make_torch_cnn(), input_length=100)
    result = kx.explain(model, sequences, method="saliency")
    assert result.names == ["peakA", "peakB"]
    assert result.intervals == [kx.Interval("chr1", 70, 170, "peakA", "+"),
                                kx.Interval("chr2", 100, 200, "peakB", "-", reverse=True)]
    assert str(result.intervals[0]) == "chr1:70-170"
    # Sequence position 0 of a reverse-complemented window is the window's last genome base.
    assert result.intervals[1].to_genome(0, 10) == (190, 200)
    assert result.intervals[0].to_genome(0, 10) == (70, 80)
    np.testing.assert_array_equal(
        result.inputs, one_hot([CONTIGS["chr1"][70:170], _rc(CONTIGS["chr2"][100:200])]))
    np.testing.assert_allclose(result.scores, kx.input_gradient(model, result.inputs), rtol=1e-6)
