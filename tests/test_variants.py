"""Variant effects: windows by hand, scores against direct model calls, every edge case kept."""
from pathlib import Path

import numpy as np
import pytest

import kipoi_explain as kx
from kipoi_explain.errors import InputError
from kipoi_explain.sequences import one_hot
from kipoi_explain.variants import STATUSES, score_variants
from kipoi_explain.variants.windows import reference_span, variant_window

from conftest import SPEC_VCF, other

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MODEL = EXAMPLES / "models" / "pytorch_cnn"
GENOME = EXAMPLES / "data" / "genome.fa"
L = 200
COMP = str.maketrans("ACGT", "TGCA")

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n" \
         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def cnn():
    return kx.load_model(MODEL)


def write_vcf(path, rows, header=HEADER):
    """rows: (chrom, pos, id, ref, alt) tuples."""
    lines = [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t." for c, p, i, r, a in rows]
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def by_hand_windows(seq, pos, ref, alt, length=L):
    """Reference and alternative windows of the model's length, built independently."""
    start = pos - 1
    r0 = start + len(ref) // 2 - length // 2
    ref_win = seq[r0:r0 + length]
    a_left = length // 2 - len(alt) // 2
    a_right = length - a_left - len(alt)
    alt_win = seq[start - a_left:start] + alt + seq[start + len(ref):start + len(ref) + a_right]
    assert len(ref_win) == len(alt_win) == length
    return ref_win, alt_win


def logit(p):
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


# 1. SNV scores against direct model calls ------------------------------------------------------

def test_snv_scores_equal_direct_predictions(tmp_path, cnn, genome):
    seq = genome["chr1"]
    positions = [500, 1234, 15000, 29000]
    rows = [("chr1", p, f"v{p}", seq[p - 1], other(seq[p - 1])) for p in positions]
    vcf = write_vcf(tmp_path / "snv.vcf", rows)
    effects = list(score_variants(cnn, vcf, GENOME))
    assert [e.status for e in effects] == ["OK"] * len(rows)
    for effect, (_, pos, _, ref, alt) in zip(effects, rows):
        window = seq[pos - 1 - 100:pos - 1 + 100]
        assert window[100] == ref
        alt_window = window[:100] + alt + window[101:]
        pred = cnn.predict(one_hot([window, alt_window]))
        assert effect.outputs == ("CTCF", "HNF4A", "CEBPB")
        np.testing.assert_allclose(effect.scores["ref"], pred[0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(effect.scores["alt"], pred[1], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(effect.scores["diff"], pred[1] - pred[0], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(effect.scores["logit_diff"], logit(pred[1]) - logit(pred[0]),
                                   rtol=1e-4, atol=1e-5)
        assert effect.window_start == pos - 1 - 100
        np.testing.assert_array_equal(effect.alt_to_ref, np.arange(pos - 101, pos + 99))


def test_target_subset_scores_selected_columns(tmp_path, cnn, genome):
    seq = genome["chr2"]
    pos = 7000
    vcf = write_vcf(tmp_path / "t.vcf", [("chr2", pos, ".", seq[pos - 1], other(seq[pos - 1]))])
    full = next(score_variants(cnn, vcf, GENOME))
    sub = next(score_variants(cnn, vcf, GENOME, target=["CEBPB", "CTCF"]))
    assert sub.outputs == ("CEBPB", "CTCF")
    np.testing.assert_allclose(sub.scores["diff"], full.scores["diff"][[2, 0]], rtol=1e-5)


# 2. Windows and coordinate maps by hand --------------------------------------------------------

G = "AACCGGTTACGTTGCAATGCCATGAGTCCAGTTCAGGACTTGACCATGGTACAGTAGCAT"  # 60 bp, position = index


@pytest.mark.parametrize("pos, ref, alt, length, ref_seq, alt_seq, alt_to_ref, ref_index", [
    # SNV, even L: ref window [25, 35), base at index 5 swapped.
    (31, G[30], "T", 10, G[25:35], G[25:30] + "T" + G[31:35],
     list(range(25, 35)), list(range(10))),
    # SNV, odd L: window [26, 35), variant at index 4.
    (31, G[30], "T", 9, G[26:35], G[26:30] + "T" + G[31:35],
     list(range(26, 35)), list(range(9))),
    # MNV (2 bp), odd L: ref allele at 4 - 1 = 3 of window [27, 36).
    (31, G[30:32], "GA", 9, G[27:36], G[27:30] + "GA" + G[32:36],
     list(range(27, 36)), list(range(9))),
    # Deletion of 2 bp (3 -> 1), even L: ref [26, 36); alt = G[25:30] + anchor + G[33:37].
    (31, G[30:33], G[30], 10, G[26:36], G[25:31] + G[33:37],
     [25, 26, 27, 28, 29, 30, 33, 34, 35, 36], [-1, 0, 1, 2, 3, 4, 7, 8, 9, -1]),
    # Deletion of 1 bp (2 -> 1), odd L: ref [27, 36); alt = G[26:31] + G[32:36].
    (31, G[30:32], G[30], 9, G[27:36], G[26:31] + G[32:36],
     [26, 27, 28, 29, 30, 32, 33, 34, 35], [-1, 0, 1, 2, 3, 5, 6, 7, 8]),
    # Insertion of 2 bp (1 -> 3), even L: ref [25, 35); alt = G[26:31] + "TT" + G[31:34].
    (31, G[30], G[30] + "TT", 10, G[25:35], G[26:31] + "TT" + G[31:34],
     [26, 27, 28, 29, 30, -1, -1, 31, 32, 33], [1, 2, 3, 4, 5, -1, -1, 6, 7, 8]),
    # Insertion of 1 bp (1 -> 2), odd L: alt allele at 4 - 1 = 3; alt = G[27:31] + "A" + G[31:35].
    (31, G[30], G[30] + "A", 9, G[26:35], G[27:31] + "A" + G[31:35],
     [27, 28, 29, 30, -1, 31, 32, 33, 34], [1, 2, 3, 4, -1, 5, 6, 7, 8]),
])
def test_variant_window_by_hand(pos, ref, alt, length, ref_seq, alt_seq, alt_to_ref, ref_index):
    for offset in (0, 3):
        window = variant_window(G[offset:], offset, pos, ref, alt, length)
        assert window.ref_seq == ref_seq
        assert window.alt_seq == alt_seq
        assert window.start == pos - 1 + len(ref) // 2 - length // 2
        np.testing.assert_array_equal(window.alt_to_ref, alt_to_ref)
        np.testing.assert_array_equal(window.ref_index(), ref_index)
        lo, hi = reference_span(pos, ref, alt, length)
        trimmed = variant_window(G[lo:hi], lo, pos, ref, alt, length)
        assert (trimmed.ref_seq, trimmed.alt_seq) == (ref_seq, alt_seq)


@pytest.mark.parametrize("length", [7, 8, 11, 12])
def test_variant_window_centred_on_alleles(length):
    rng = np.random.default_rng(length)
    for _ in range(40):
        n_ref, n_alt = rng.integers(1, 6, size=2)
        pos = 31
        ref = G[30:30 + n_ref]
        alt = ref[0] + "".join(rng.choice(list("ACGT"), size=n_alt - 1))
        window = variant_window(G, 0, pos, ref, alt, length)
        ref_start = length // 2 - n_ref // 2
        alt_start = length // 2 - n_alt // 2
        assert len(window.ref_seq) == len(window.alt_seq) == length
        assert window.ref_seq[ref_start:ref_start + n_ref] == ref
        assert window.alt_seq[alt_start:alt_start + n_alt] == alt
        # Left flank ends at the variant, right flank starts after REF.
        assert window.alt_seq[:alt_start] == G[30 - alt_start:30]
        assert window.alt_seq[alt_start + n_alt:] == G[30 + n_ref:30 + n_ref + length
                                                       - alt_start - n_alt]
        # Every mapped alt base is the genome base it maps to, except the allele's own bases.
        for i, g in enumerate(window.alt_to_ref):
            if g >= 0 and not alt_start <= i < alt_start + n_alt:
                assert window.alt_seq[i] == G[g]
        assert (window.alt_to_ref == -1).sum() == max(0, n_alt - n_ref)
        idx = window.ref_index()
        ok = idx >= 0
        np.testing.assert_array_equal(idx[ok], window.alt_to_ref[ok] - window.start)


# 3. Edge cases: explicit statuses, nothing dropped ---------------------------------------------

@pytest.fixture(scope="module")
def edge_vcf(tmp_path_factory, genome):
    s1, s2 = genome["chr1"], genome["chr2"]
    rows = [
        ("chr1", 1000, "snv", s1[999], other(s1[999])),                       # OK
        ("chr1", 2000, "multi", s1[1999], ",".join(b for b in "ACGT" if b != s1[1999])),  # 3
        ("chr1", 3000, "sym_del", s1[2999], "<DEL>"),
        ("chr1", 3001, "star", s1[3000], "*"),
        ("chr1", 3002, "bnd", s1[3001], s1[3001] + "]chr2:500]"),
        ("chr1", 4000, "mismatch", other(s1[3999]), "T" if s1[3999] != "T" else "A"),
        ("chrX", 100, "nocontig", "A", "C"),
        ("chr1", 50, "near_start", s1[49], other(s1[49])),
        ("chr1", 29990, "near_end", s1[29989], other(s1[29989])),
        ("chr1", 100, "edge_lo_out", s1[99], other(s1[99])),
        ("chr1", 101, "edge_lo_in", s1[100], other(s1[100])),
        ("chr1", 29901, "edge_hi_in", s1[29900], other(s1[29900])),
        ("chr1", 29902, "edge_hi_out", s1[29901], other(s1[29901])),
        ("chr1", 5000, "mono", s1[4999], "."),
        ("chr1", 6000, "long_ref", s1[5999:5999 + 201], s1[5999]),
        ("chr1", 7000, "long_alt", s1[6999], s1[6999] + "A" * 200),
        ("chr2", 8000, "del", s2[7999:8004], s2[7999]),                        # OK deletion
        ("chr2", 9000, "ins", s2[8999], s2[8999] + "GATTACA"),                 # OK insertion
        ("chr2", 9500, "mixed", s2[9499], f"{other(s2[9499])},<DEL>,{s2[9499]}TT"),
        ("chr2", 9600, "iupac", s2[9599], "R"),
    ]
    path = write_vcf(tmp_path_factory.mktemp("edge") / "edge.vcf", rows)
    return path, rows


EXPECTED = {
    "snv": ["OK"], "multi": ["OK"] * 3, "sym_del": ["SYMBOLIC_ALLELE"],
    "star": ["SYMBOLIC_ALLELE"], "bnd": ["SYMBOLIC_ALLELE"],
    "mismatch": ["REF_MISMATCH"], "nocontig": ["CONTIG_NOT_IN_FASTA"],
    "near_start": ["NEAR_CONTIG_END"], "near_end": ["NEAR_CONTIG_END"],
    "edge_lo_out": ["NEAR_CONTIG_END"], "edge_lo_in": ["OK"], "edge_hi_in": ["OK"],
    "edge_hi_out": ["NEAR_CONTIG_END"], "mono": ["NO_ALT"], "long_ref": ["ALLELE_TOO_LONG"],
    "long_alt": ["ALLELE_TOO_LONG"], "del": ["OK"], "ins": ["OK"],
    "mixed": ["OK", "SYMBOLIC_ALLELE", "OK"], "iupac": ["NOT_DNA"],
}


def test_every_edge_case_has_a_status(edge_vcf, cnn):
    path, rows = edge_vcf
    effects = list(score_variants(cnn, path, GENOME, chunk_size=4))
    assert len({e.record_index for e in effects}) == len(rows)      # records in = records out
    assert sorted({e.record_index for e in effects}) == list(range(len(rows)))
    got = {}
    for e in effects:
        got.setdefault(e.id, []).append(e.status)
    for name, statuses in EXPECTED.items():
        assert got[name] == statuses, name
    assert set(got) == set(EXPECTED)
    for e in effects:
        assert e.status == "OK" or e.status in STATUSES
        assert bool(e.scores) == (e.status == "OK")
        if e.status == "OK":
            assert all(np.isfinite(v).all() and v.shape == (3,) for v in e.scores.values())
    multi = [e for e in effects if e.id == "multi"]
    assert [e.alt_index for e in multi] == [0, 1, 2]
    assert [e.alt for e in multi] == rows[1][4].split(",")
    mono = next(e for e in effects if e.id == "mono")
    assert mono.alt is None and mono.key.endswith(":.")


def test_single_breakends_are_symbolic(tmp_path, cnn, genome):
    s1 = genome["chr1"]
    vcf = write_vcf(tmp_path / "sb.vcf", [("chr1", 3003, "a", s1[3002], s1[3002] + "."),
                                          ("chr1", 3004, "b", s1[3003], "." + s1[3003])])
    assert [e.status for e in score_variants(cnn, vcf, GENOME)] == ["SYMBOLIC_ALLELE"] * 2


def test_indel_scores_equal_direct_predictions(edge_vcf, cnn, genome):
    path, rows = edge_vcf
    effects = {e.id: e for e in score_variants(cnn, path, GENOME) if e.id in ("del", "ins")}
    for name in ("del", "ins"):
        _, pos, _, ref, alt = next(r for r in rows if r[2] == name)
        ref_win, alt_win = by_hand_windows(genome["chr2"], pos, ref, alt)
        pred = cnn.predict(one_hot([ref_win, alt_win]))
        np.testing.assert_allclose(effects[name].scores["ref"], pred[0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(effects[name].scores["alt"], pred[1], rtol=1e-5, atol=1e-7)


def contig_renamed_vcf(tmp_path, genome):
    s1 = genome["chr1"]
    header = HEADER.replace("ID=chr1", "ID=1").replace("ID=chr2", "ID=2")
    rows = [("1", 1000, "a", s1[999], other(s1[999])),
            ("2", 2000, "b", genome["chr2"][1999], other(genome["chr2"][1999])),
            ("chr1", 1000, "c", s1[999], other(s1[999]))]
    return write_vcf(tmp_path / "renamed.vcf", rows, header)


def test_contig_names_as_is_auto_and_file(tmp_path, cnn, genome):
    vcf = contig_renamed_vcf(tmp_path, genome)
    plain = list(score_variants(cnn, vcf, GENOME))
    assert [e.status for e in plain] == ["CONTIG_NOT_IN_FASTA", "CONTIG_NOT_IN_FASTA", "OK"]
    auto = list(score_variants(cnn, vcf, GENOME, contig_map="auto"))
    assert [e.status for e in auto] == ["OK", "OK", "OK"]
    assert [e.chrom for e in auto] == ["1", "2", "chr1"]                # VCF names kept
    np.testing.assert_allclose(auto[0].scores["diff"], auto[2].scores["diff"], rtol=1e-4,
                               atol=1e-8)
    mapping = tmp_path / "contigs.txt"
    mapping.write_text("# vcf fasta\n1\tchr1\n")
    mapped = list(score_variants(cnn, vcf, GENOME, contig_map=mapping))
    assert [e.status for e in mapped] == ["OK", "CONTIG_NOT_IN_FASTA", "OK"]
    np.testing.assert_allclose(mapped[0].scores["diff"], auto[0].scores["diff"], rtol=1e-4,
                               atol=1e-8)


def test_auto_contig_map_drops_chr_prefix(tmp_path, cnn, genome):
    fasta = tmp_path / "nochr.fa"
    fasta.write_text(">1\n" + genome["chr1"] + "\n")
    s1 = genome["chr1"]
    vcf = write_vcf(tmp_path / "chr.vcf", [("chr1", 1000, "a", s1[999], other(s1[999]))])
    assert next(score_variants(cnn, vcf, fasta)).status == "CONTIG_NOT_IN_FASTA"
    assert next(score_variants(cnn, vcf, fasta, contig_map="auto")).status == "OK"


def test_bad_arguments_raise_input_error(tmp_path, cnn, genome):
    vcf = contig_renamed_vcf(tmp_path, genome)
    bad = tmp_path / "bad_map.txt"
    bad.write_text("1 chr1 extra\n")
    with pytest.raises(InputError, match="columns"):
        list(score_variants(cnn, vcf, GENOME, contig_map=bad))
    with pytest.raises(InputError):
        list(score_variants(cnn, vcf, GENOME, contig_map=tmp_path / "missing.txt"))
    with pytest.raises(InputError, match="merge"):
        list(score_variants(cnn, vcf, GENOME, merge="max"))
    with pytest.raises(InputError, match="chunk_size"):
        list(score_variants(cnn, vcf, GENOME, chunk_size=0))
    with pytest.raises(InputError, match="nope.vcf' does not exist"):
        list(score_variants(cnn, tmp_path / "nope.vcf", GENOME))


# 4. Attributions ------------------------------------------------------------------------------

def test_attributions_equal_direct_explain(edge_vcf, cnn, genome):
    path, rows = edge_vcf
    effects = {e.id: e for e in score_variants(cnn, path, GENOME, method="grad_x_input",
                                               target="HNF4A")
               if e.id in ("snv", "del", "ins", "mono")}
    assert effects["mono"].attribution is None
    for name, chrom in (("snv", "chr1"), ("del", "chr2"), ("ins", "chr2")):
        e = effects[name]
        _, pos, _, ref, alt = next(r for r in rows if r[2] == name)
        ref_win, alt_win = by_hand_windows(genome[chrom], pos, ref, alt)
        direct_ref = kx.explain(cnn, one_hot([ref_win]), "grad_x_input", target="HNF4A").scores
        direct_alt = kx.explain(cnn, one_hot([alt_win]), "grad_x_input", target="HNF4A").scores
        np.testing.assert_allclose(e.attribution["ref"], direct_ref[0], rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(e.attribution["alt"], direct_alt[0], rtol=1e-5, atol=1e-8)
        assert e.attribution["diff"].shape == (L, 4)
        if name == "snv":
            np.testing.assert_allclose(e.attribution["diff"],
                                       direct_alt[0] - direct_ref[0], rtol=1e-5, atol=1e-8)
        start = pos - 1
        ref_start = start + len(ref) // 2 - L // 2
        a_left = L // 2 - len(alt) // 2
        a_right = L - a_left - len(alt)
        hand = (list(range(start - a_left, start))
                + [start + i if i < len(ref) else -1 for i in range(len(alt))]
                + list(range(start + len(ref), start + len(ref) + a_right)))
        np.testing.assert_array_equal(e.alt_to_ref, hand)
        aligned = np.zeros((L, 4), dtype=np.float32)
        for i, g in enumerate(hand):
            if g >= 0 and 0 <= g - ref_start < L:
                aligned[g - ref_start] = direct_alt[0][i]
        np.testing.assert_allclose(e.attribution["diff"], aligned - direct_ref[0],
                                   rtol=1e-5, atol=1e-8)
        if name == "del":
            # REF is 5 bp: the 4 deleted reference bases get alt attribution 0 (diff = -ref).
            deleted = np.arange(start + 1, start + len(ref)) - ref_start
            assert (e.attribution["ref"][deleted] != 0).any()
            np.testing.assert_allclose(e.attribution["diff"][deleted],
                                       -e.attribution["ref"][deleted], rtol=1e-6, atol=1e-9)
        if name == "ins":
            assert (np.asarray(hand) == -1).sum() == len(alt) - 1


def test_attributions_all_targets_explain_their_sum(tmp_path, cnn, genome):
    seq = genome["chr1"]
    vcf = write_vcf(tmp_path / "s.vcf", [("chr1", 12000, ".", seq[11999], other(seq[11999]))])
    e = next(score_variants(cnn, vcf, GENOME, method="grad_x_input"))
    win = seq[11999 - 100:11999 + 100]
    parts = sum(kx.explain(cnn, one_hot([win]), "grad_x_input", target=t).scores[0]
                for t in ("CTCF", "HNF4A", "CEBPB"))
    np.testing.assert_allclose(e.attribution["ref"], parts, rtol=1e-4, atol=1e-7)


# 5. Reverse complement merges -----------------------------------------------------------------

def test_reverse_complement_mean_and_absmax(edge_vcf, cnn, genome):
    path, rows = edge_vcf
    fwd = {(e.id, e.alt_index): e for e in score_variants(cnn, path, GENOME)}
    mean = {(e.id, e.alt_index): e for e in score_variants(cnn, path, GENOME,
                                                           reverse_complement=True)}
    absmax = {(e.id, e.alt_index): e for e in score_variants(cnn, path, GENOME,
                                                             reverse_complement=True,
                                                             merge="absmax")}
    picked_rc = picked_fwd = 0
    for name, chrom in (("snv", "chr1"), ("del", "chr2"), ("ins", "chr2"), ("edge_lo_in", "chr1"),
                        ("edge_hi_in", "chr1")):
        _, pos, _, ref, alt = next(r for r in rows if r[2] == name)
        ref_win, alt_win = by_hand_windows(genome[chrom], pos, ref, alt)
        rc_ref, rc_alt = ref_win.translate(COMP)[::-1], alt_win.translate(COMP)[::-1]
        p = cnn.predict(one_hot([ref_win, alt_win, rc_ref, rc_alt]))
        np.testing.assert_allclose(fwd[name, 0].scores["ref"], p[0], rtol=1e-5, atol=1e-7)
        m = mean[name, 0].scores
        np.testing.assert_allclose(m["ref"], (p[0] + p[2]) / 2, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(m["alt"], (p[1] + p[3]) / 2, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(m["diff"], (p[1] + p[3]) / 2 - (p[0] + p[2]) / 2,
                                   rtol=1e-4, atol=1e-7)
        a = absmax[name, 0].scores
        for k in range(3):
            forward, backward = p[1, k] - p[0, k], p[3, k] - p[2, k]
            strand = (2, 3) if abs(backward) > abs(forward) else (0, 1)
            picked_rc += strand == (2, 3)
            picked_fwd += strand == (0, 1)
            np.testing.assert_allclose(a["ref"][k], p[strand[0], k], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(a["alt"][k], p[strand[1], k], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(a["diff"][k], p[strand[1], k] - p[strand[0], k],
                                       rtol=1e-4, atol=1e-7)
    assert picked_rc and picked_fwd       # both branches of absmax exercised


# 6. The VCF 4.3 specification example ---------------------------------------------------------

def test_vcf43_spec_example(spec_fasta, cnn):
    path, text = spec_fasta
    effects = list(score_variants(cnn, SPEC_VCF, path, chunk_size=2))
    assert len({e.record_index for e in effects}) == 5
    assert len(effects) == 7      # 1 + 1 + 2 (A>G,T) + 1 (ALT '.') + 2 (GTC>G,GTCT)
    assert [(e.pos, e.ref, e.alt, e.status) for e in effects] == [
        (14370, "G", "A", "OK"), (17330, "T", "A", "OK"), (1110696, "A", "G", "OK"),
        (1110696, "A", "T", "OK"), (1230237, "T", None, "NO_ALT"),
        (1234567, "GTC", "G", "OK"), (1234567, "GTC", "GTCT", "OK")]
    assert [e.id for e in effects] == ["rs6054257", None, "rs6040355", "rs6040355", None,
                                       "microsat1", "microsat1"]
    assert list(effects[1].record.filter.keys()) == ["q10"]
    for e in effects[5:]:
        ref_win, alt_win = by_hand_windows(text, e.pos, e.ref, e.alt)
        pred = cnn.predict(one_hot([ref_win, alt_win]))
        np.testing.assert_allclose(e.scores["diff"], pred[1] - pred[0], rtol=1e-4, atol=1e-7)
    assert effects[5].alt_to_ref[100] == 1234566 and (effects[5].alt_to_ref != -1).all()
    assert (effects[6].alt_to_ref == -1).sum() == 1


# 7. Chunking and streaming order --------------------------------------------------------------

def test_chunk_size_does_not_change_results(edge_vcf, cnn):
    path, _ = edge_vcf
    one = list(score_variants(cnn, path, GENOME, method="grad_x_input", chunk_size=1))
    many = list(score_variants(cnn, path, GENOME, method="grad_x_input", chunk_size=256))
    assert [(e.record_index, e.alt_index, e.status) for e in one] == \
        [(e.record_index, e.alt_index, e.status) for e in many]
    for a, b in zip(one, many):
        assert a.scores.keys() == b.scores.keys()
        for k in a.scores:
            # float32 batches of different composition differ in the last bits.
            np.testing.assert_allclose(a.scores[k], b.scores[k], rtol=1e-4, atol=1e-5)
        assert (a.attribution is None) == (b.attribution is None)
        if a.attribution is not None:
            for k in a.attribution:
                np.testing.assert_allclose(a.attribution[k], b.attribution[k], rtol=1e-4,
                                           atol=1e-7)
    order = [(e.record_index, e.alt_index) for e in one]
    assert order == sorted(order)
    assert [e.record_index for e in one] == sorted(e.record_index for e in one)


def test_streaming_is_lazy(edge_vcf, cnn):
    path, rows = edge_vcf
    stream = score_variants(cnn, path, GENOME, chunk_size=1)
    first = next(stream)
    assert (first.id, first.record_index) == ("snv", 0)
    rest = list(stream)
    assert [e.id for e in rest][:3] == ["multi"] * 3


def test_motif_scanner_equals_a_naive_scan():
    from kipoi_explain.motif.database import jaspar
    from kipoi_explain.motif.matrices import log_odds
    from kipoi_explain.variants.motif_change import MotifScanner

    db = jaspar()
    small = type(db)(db.ids[:40], db.names[:40], db.pfms[:40], db.description)
    scanner = MotifScanner(small)
    rng = np.random.default_rng(3)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 200))]
    centre, span = np.array([100, 90, 120]), np.array([1, 3, 2])
    best = scanner.best_scores(x, centre, span)
    for i in range(3):
        for m, pfm in enumerate(small.pfms):
            pwm = log_odds(pfm)
            k = len(pwm)
            scores = [max((x[i, p:p + k] * pwm).sum(), (x[i, p:p + k] * pwm[::-1, ::-1]).sum())
                      for p in range(centre[i] - k + 1, centre[i] + span[i]) if p + k <= 200]
            assert best[i, m] == pytest.approx(max(scores), abs=1e-4)


def test_motif_p_values_match_simulation():
    from kipoi_explain.motif.database import jaspar
    from kipoi_explain.motif.matrices import log_odds
    from kipoi_explain.variants.motif_change import MotifScanner

    db = jaspar()
    small = type(db)(db.ids[:1], db.names[:1], db.pfms[:1], db.description)
    pwm = log_odds(small.pfms[0])
    rng = np.random.default_rng(0)
    scores = (np.eye(4)[rng.integers(0, 4, (200_000, len(pwm)))] * pwm).sum((1, 2))
    scanner = MotifScanner(small)
    for q in (0.5, 0.9, 0.99):
        score = np.quantile(scores, q)
        p = scanner.p_values(np.array([[score]]))[0, 0]
        assert p == pytest.approx(np.mean(scores >= score), rel=0.1, abs=2e-3)
    # The consensus is as rare as it gets: 4 ** -K, never 0.
    best = scanner.p_values(np.array([[pwm.max(1).sum() + 1.0]]))[0, 0]
    assert best == pytest.approx(4.0 ** -len(pwm), rel=1e-6)


def test_destroying_a_planted_ctcf_site_is_reported_as_ctcf_disrupted(tmp_path):
    from kipoi_explain.motif.database import jaspar

    db = jaspar()
    ctcf = db.pfms[db.ids.index("MA0139.2")]
    consensus = "".join("ACGT"[i] for i in ctcf.argmax(1))
    rng = np.random.default_rng(5)
    contig = list("".join(rng.choice(list("ACGT"), 2000)))
    contig[1000:1000 + len(consensus)] = consensus
    contig = "".join(contig)
    fasta = tmp_path / "g.fa"
    fasta.write_text(f">chr1\n{contig}\n")
    # Position of CTCF's most informative base, mutated to its least likely base.
    key = int(np.argmax((ctcf * np.log2(ctcf / 0.25 + 1e-9)).sum(1)))
    pos = 1000 + key + 1
    alt = "ACGT"[int(ctcf[key].argmin())]
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=2000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t{pos}\tdestroy\t{contig[pos - 1]}\t{alt}\t.\t.\t.\n")
    effect = next(score_variants(kx.load_model(MODEL), vcf, fasta, motifs=db))
    assert effect.motif["name"] == "CTCF" and effect.motif["delta"] < -3
    assert effect.motif["log10_p_change"] < -2


@pytest.mark.slow
def test_cli_writes_the_motif_fields(tmp_path):
    import subprocess
    import sys

    from cyvcf2 import VCF

    genome = (EXAMPLES / "data" / "genome.fa").read_text().split(">")[1].split("\n", 1)[1]
    base = genome.replace("\n", "")[4999]
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=30000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t5000\tsnv\t{base}\t{'A' if base != 'A' else 'C'}\t.\t.\t.\n")
    out = tmp_path / "out.vcf.gz"
    proc = subprocess.run([sys.executable, "-m", "kipoi_explain", "score-vcf", str(MODEL),
                           "--vcf", str(vcf), "--fasta", str(GENOME), "-o", str(out),
                           "--motifs", "jaspar", "--no-progress"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reader = VCF(str(out))
    for field in ("KX_MOTIF", "KX_MOTIF_DELTA", "KX_MOTIF_LOG10P"):
        assert reader.get_header_type(field)["ID"] == field
    record = next(iter(reader))
    assert record.INFO.get("KX_STATUS") == "OK"
