"""A corpus of malformed inputs, and what every command must make of them: a one-line error
naming the file (and the record or field), never a traceback.

    python tests/malformed_corpus.py DIR        # writes the corpus to DIR, runs every case,
                                                # prints one JSON line per case

Each case is a command line of ``kipoi-explain`` and the text its error must name. Cases run in
this one process (``kipoi_explain.cli.main``), each with its own output folder; a case passes
when the command exits with status 2 or 3, wrote one error line to stderr naming the file, left
no output behind, and raised nothing.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TORCH = EXAMPLES / "models" / "pytorch_cnn"
KERAS = EXAMPLES / "models" / "keras_cnn"
GENOME = EXAMPLES / "data" / "genome.fa"
BED = EXAMPLES / "data" / "regions.bed"
SEQUENCES = EXAMPLES / "data" / "sequences.fa"


@dataclass
class Case:
    name: str
    argv: list
    names: str           # what the error line must contain


def _model(folder: Path, name: str, source: Path = TORCH, **files) -> Path:
    """A copy of an example model directory with some files replaced (None: removed)."""
    target = folder / "models" / name
    shutil.copytree(source, target)
    for file, content in files.items():
        path = target / file.replace("__", ".")
        if content is None:
            path.unlink()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return target


def make_corpus(folder: Path) -> list[Case]:
    """Write the malformed inputs under ``folder``; the cases that use them."""
    folder.mkdir(parents=True, exist_ok=True)
    yaml = (TORCH / "model.yaml").read_text()
    weights = (TORCH / "weights.pt").read_bytes()
    keras = (KERAS / "model.keras").read_bytes()
    models = {
        "yaml_syntax": _model(folder, "yaml_syntax", model__yaml="defined_as: [unclosed\n  x: :"),
        "yaml_list": _model(folder, "yaml_list", model__yaml="- a\n- b\n"),
        "yaml_empty": _model(folder, "yaml_empty", model__yaml=""),
        "yaml_no_defined_as": _model(folder, "yaml_no_defined_as",
                                     model__yaml=yaml.replace("defined_as: kipoi.model."
                                                              "PyTorchModel\n", "")),
        "yaml_unknown_class": _model(folder, "yaml_unknown_class",
                                     model__yaml=yaml.replace("kipoi.model.PyTorchModel",
                                                              "kipoi.model.NoSuchModel", 1)),
        "yaml_bad_shape": _model(folder, "yaml_bad_shape",
                                 model__yaml=yaml.replace("(4, 200)", "(4, two hundred)")),
        "no_yaml": _model(folder, "no_yaml", model__yaml=None),
        "weights_missing": _model(folder, "weights_missing", weights__pt=None),
        "weights_truncated": _model(folder, "weights_truncated",
                                    weights__pt=weights[:len(weights) // 3]),
        "weights_garbage": _model(folder, "weights_garbage", weights__pt=b"\x00garbage" * 64),
        "weights_empty": _model(folder, "weights_empty", weights__pt=b""),
        "module_syntax": _model(folder, "module_syntax", model__py="def broken(:\n"),
        "module_no_class": _model(folder, "module_no_class", model__py="import torch\n"),
        "keras_truncated": _model(folder, "keras_truncated", KERAS,
                                  model__keras=keras[:len(keras) // 2]),
        "keras_garbage": _model(folder, "keras_garbage", KERAS, model__keras=b"PK\x03\x04junk"),
    }
    files = folder / "files"
    files.mkdir(exist_ok=True)
    truncated_keras = files / "truncated.keras"
    truncated_keras.write_bytes(keras[:len(keras) // 2])
    garbage_h5 = files / "garbage.h5"
    garbage_h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    garbage_pt = files / "garbage.keras"
    garbage_pt.write_bytes(b"not a zip")
    gz_fasta = files / "genome.fa.gz"
    gz_fasta.write_bytes(gzip.compress(GENOME.read_bytes()))
    binary_fasta = files / "binary.fa"
    binary_fasta.write_bytes(bytes(range(256)) * 4)
    empty_fasta = files / "empty.fa"
    empty_fasta.write_text("")
    no_header_fasta = files / "noheader.fa"
    no_header_fasta.write_text("ACGTACGT\nACGT\n")
    ragged = files / "ragged.fa"
    ragged.write_text(">a\n" + "A" * 200 + "\n>b\n" + "C" * 150 + "\n")
    letters = files / "letters.fa"
    letters.write_text(">a\n" + "ACGTXZ" * 33 + "AC\n")
    beds = {"two_columns": "chr1\t100\n", "words": "chr1\tten\ttwenty\tx\n",
            "backwards": "chr1\t500\t100\tx\n", "negative": "chr1\t-5\t100\tx\n",
            "no_contig": "chrZ\t100\t300\tx\n", "past_end": "chr1\t29950\t30000\tedge\n",
            "empty": "", "binary": "\x00\x01\x02\n"}
    for name, text in beds.items():
        (files / f"{name}.bed").write_text(text)
    vcfs = {"no_header": "chr1\t100\tx\tA\tC\t.\tPASS\t.\n",
            "garbage": "\x00\x01garbage\n",
            "short_line": "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                          "chr1\t100\tx\tA\n",
            "bad_pos": "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                       "chr1\tten\tx\tA\tC\t.\tPASS\t.\n"}
    for name, text in vcfs.items():
        (files / f"{name}.vcf").write_text(text)
    good_vcf = files / "good.vcf"
    good_vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\t"
                        "QUAL\tFILTER\tINFO\nchr1\t500\tx\tA\tC\t.\tPASS\t.\n")
    (files / "truncated.vcf.gz").write_bytes(gzip.compress(b"##fileformat=VCFv4.2\n")[:20])
    meme = files / "bad.meme"
    meme.write_text("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2\n"
                    "1 0 0\n")
    contig_map = files / "map.txt"
    contig_map.write_text("1 chr1 extra\n")
    npy_garbage = files / "garbage.npy"
    npy_garbage.write_bytes(b"not numpy")
    import numpy as np

    wrong_shape = files / "wrong_shape.npy"
    np.save(wrong_shape, np.zeros((3, 7), dtype=np.float32))
    a_file = files / "a_file.txt"
    a_file.write_text("x")
    a_folder = files / "a_folder.h5"
    a_folder.mkdir(exist_ok=True)

    seqs = ["--fasta", GENOME, "--bed", BED, "--no-progress"]
    cases = []
    for name, model in models.items():
        for command in ("explain", "predict"):
            cases.append(Case(f"{command}-model-{name}",
                              [command, model, *seqs, "-o", "{out}/o.h5" if command == "explain"
                               else "{out}/o.tsv"], model.name))
    cases += [Case("explain-model-missing", ["explain", files / "nowhere", *seqs, "-o",
                                             "{out}/o.h5"], "nowhere"),
              Case("explain-keras-file-truncated", ["explain", truncated_keras, *seqs, "-o",
                                                    "{out}/o.h5"], "truncated.keras"),
              Case("explain-keras-file-garbage", ["explain", garbage_pt, *seqs, "-o",
                                                  "{out}/o.h5"], "garbage.keras"),
              Case("explain-h5-file-garbage", ["explain", garbage_h5, *seqs, "-o",
                                               "{out}/o.h5"], "garbage.h5")]
    for name, fasta in (("gzip", gz_fasta), ("binary", binary_fasta), ("empty", empty_fasta),
                        ("no_header", no_header_fasta)):
        for command, out in (("explain", "o.h5"), ("screen", "o.tsv"), ("predict", "o.tsv")):
            cases.append(Case(f"{command}-fasta-{name}", [command, TORCH, "--fasta", fasta,
                                                          "--bed", BED, "--no-progress", "-o",
                                                          f"{{out}}/{out}"], fasta.name))
        cases.append(Case(f"score-vcf-fasta-{name}",
                          ["score-vcf", TORCH, "--vcf", good_vcf, "--fasta", fasta,
                           "-o", "{out}/o.vcf.gz", "--no-progress"], fasta.name))
        cases.append(Case(f"tracks-fasta-{name}",
                          ["tracks", TORCH, "--fasta", fasta, "--chrom", "chr1", "-o",
                           "{out}/t.bw", "--no-progress"], fasta.name))
    for name, fasta in (("ragged", ragged), ("letters", letters), ("empty", empty_fasta),
                        ("binary", binary_fasta)):
        for command, out in (("explain", "o.h5"), ("motifs", "m"), ("attention", "a.h5"),
                             ("diagnose", "d.json")):
            cases.append(Case(f"{command}-sequences-{name}",
                              [command, TORCH, "--sequences", fasta, "--no-progress", "-o",
                               f"{{out}}/{out}"], fasta.name))
    for name in beds:
        for command, out in (("explain", "o.h5"), ("screen", "o.tsv")):
            cases.append(Case(f"{command}-bed-{name}",
                              [command, TORCH, "--fasta", GENOME, "--bed", files / f"{name}.bed",
                               "--no-progress", "-o", f"{{out}}/{out}"], f"{name}.bed"))
        if name != "past_end":              # a region inside the contig: tracks take it
            cases.append(Case(f"tracks-bed-{name}",
                              ["tracks", TORCH, "--fasta", GENOME, "--bed",
                               files / f"{name}.bed", "-o", "{out}/t.bw", "--no-progress"],
                              f"{name}.bed"))
    for name in (*vcfs, "truncated"):
        vcf = files / (f"{name}.vcf" if name != "truncated" else "truncated.vcf.gz")
        cases.append(Case(f"score-vcf-{name}", ["score-vcf", TORCH, "--vcf", vcf, "--fasta",
                                                GENOME, "-o", "{out}/o.vcf.gz", "--no-progress"],
                          vcf.name))
    cases += [
        Case("score-vcf-motifs-meme", ["score-vcf", TORCH, "--vcf", good_vcf,
                                       "--fasta", GENOME, "--motifs", meme, "-o",
                                       "{out}/o.vcf.gz", "--no-progress"], "bad.meme"),
        Case("score-vcf-contig-map", ["score-vcf", TORCH, "--vcf", good_vcf,
                                      "--fasta", GENOME, "--contig-map", contig_map, "-o",
                                      "{out}/o.vcf.gz", "--no-progress"], "map.txt"),
        Case("explain-baseline-garbage", ["explain", TORCH, *seqs, "--method",
                                          "integrated_gradients", "--baseline", npy_garbage,
                                          "-o", "{out}/o.h5"], "garbage.npy"),
        Case("explain-baseline-shape", ["explain", TORCH, *seqs, "--method",
                                        "integrated_gradients", "--baseline", wrong_shape, "-o",
                                        "{out}/o.h5"], "(3, 7)"),
        Case("explain-extra-input-garbage", ["explain", TORCH, *seqs, "--extra-input",
                                             f"x={npy_garbage}", "-o", "{out}/o.h5"], "x"),
    ]
    outputs = [("explain", "o.h5"), ("predict", "o.tsv"), ("screen", "o.tsv"),
               ("attention", "a.h5"), ("diagnose", "d.json")]
    for command, out in outputs:
        cases.append(Case(f"{command}-output-folder", [command, TORCH, *seqs, "-o", a_folder],
                          "a_folder.h5"))
        cases.append(Case(f"{command}-output-under-a-file",
                          [command, TORCH, *seqs, "-o", a_file / out], "a_file.txt"))
    cases += [
        Case("score-vcf-output-folder", ["score-vcf", TORCH, "--vcf", files / "bad_pos.vcf",
                                         "--fasta", GENOME, "-o", files, "--no-progress"],
             "files"),
        Case("score-vcf-tsv-under-a-file", ["score-vcf", TORCH, "--vcf", files / "bad_pos.vcf",
                                            "--fasta", GENOME, "-o", "{out}/o.vcf.gz", "--tsv",
                                            a_file / "o.tsv", "--no-progress"], "a_file.txt"),
        Case("motifs-output-a-file", ["motifs", TORCH, *seqs, "-o", a_file], "a_file.txt"),
        Case("tracks-output-under-a-file", ["tracks", TORCH, "--fasta", GENOME, "--chrom",
                                            "chr1", "-o", a_file / "t.bw"], "a_file.txt"),
    ]
    return cases


def run_case(case: Case, out: Path) -> dict:
    """Run one case in this process; what it did."""
    from kipoi_explain.cli.main import main

    out.mkdir(parents=True, exist_ok=True)
    argv = [str(a).replace("{out}", str(out)) for a in case.argv]
    stdout, stderr = io.StringIO(), io.StringIO()
    raised = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
        except BaseException:  # noqa: BLE001 - what the corpus exists to find
            status, raised = None, traceback.format_exc()
    lines = [line for line in stderr.getvalue().splitlines()
             if line.startswith("kipoi-explain ")]
    error = lines[-1] if lines else ""
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    return {"case": case.name, "status": status, "error": error, "raised": raised,
            "traceback": "Traceback" in stderr.getvalue() or raised is not None,
            "named": case.names in error, "left": left}


def main() -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    folder = Path(sys.argv[1])
    cases = make_corpus(folder / "corpus")
    for i, case in enumerate(cases):
        print(json.dumps(run_case(case, folder / "out" / str(i))), flush=True)


if __name__ == "__main__":
    main()
