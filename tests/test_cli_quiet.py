"""The command line keeps TensorFlow's and Kipoi's noise off stderr unless ``--verbose``, names
itself as it was called, and shows every default in ``--help``."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kipoi_explain.cli.main import build_parser, cli_main
from kipoi_explain.cli.quiet import NATIVE_LOG
from kipoi_explain.methods import METHODS
from kipoi_explain.options import keyword_defaults

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
KERAS = EXAMPLES / "models" / "keras_cnn"
TORCH = EXAMPLES / "models" / "pytorch_cnn"
SEQUENCES = EXAMPLES / "data" / "sequences.fa"
BIN = Path(sys.executable).parent
MAIN = sys.modules["kipoi_explain.cli.main"]
needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="needs tensorflow")


def run(*args, command=(sys.executable, "-m", "kipoi_explain")):
    # A user who set no TF_CPP_MIN_LOG_LEVEL (the tests' conftest sets one).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)


def explain_keras(tmp_path, *extra):
    out = tmp_path / "out.h5"
    done = run("explain", KERAS, "--sequences", SEQUENCES, "--method", "saliency", "-o", out,
               "--no-progress", "--no-plot", *extra)
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    return done


@pytest.mark.slow
@needs_tensorflow
def test_keras_run_is_quiet_by_default(tmp_path):
    done = explain_keras(tmp_path)
    noise = [line for line in done.stderr.splitlines()
             if NATIVE_LOG.match(line) or "pkg_resources" in line or "absl" in line]
    assert noise == []
    assert "explained" in done.stdout


@pytest.mark.slow
@needs_tensorflow
def test_verbose_is_accepted(tmp_path):
    done = explain_keras(tmp_path, "--verbose")
    # What TensorFlow logs depends on the machine; what shows is not filtered.
    assert "explained" in done.stdout


def test_native_log_lines_recognised():
    assert NATIVE_LOG.match("I0000 00:00:1796586414.181200   28987 port.cc:153] oneDNN ...")
    assert NATIVE_LOG.match("E0000 00:00:1796586417.826177   28987 cuda_platform.cc:52] failed")
    assert NATIVE_LOG.match("WARNING: All log messages before absl::InitializeLog() is called")
    assert not NATIVE_LOG.match("UserWarning: our own warning")
    assert not NATIVE_LOG.match("Traceback (most recent call last):")


def _help(parser, *argv) -> str:
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "--help"])


def test_help_shows_method_defaults(capsys):
    _help(build_parser(), "explain")
    text = " ".join(capsys.readouterr().out.split())
    steps = keyword_defaults(METHODS["integrated_gradients"])["n_steps"]
    references = keyword_defaults(METHODS["deepshap"])["n_references"]
    seed = keyword_defaults(METHODS["deepshap"])["seed"]
    for flag, value in (("n-steps", steps), ("n-references", references), ("seed", seed)):
        upper = flag.upper().replace("-", "_")
        option = re.search(rf"--{flag} {upper} (.*?)(?= --)", text).group(1)
        assert f"{value}" in option and "(default: " in option, option
    assert "--verbose" in text


def test_plugin_names_itself_kipoi_explain(capsys, monkeypatch):
    monkeypatch.setattr(MAIN, "silence", lambda: None)
    for raw, usage in ((["--help"], "usage: kipoi explain [-h]"),
                       (["attention", "--help"], "usage: kipoi explain attention [-h]")):
        with pytest.raises(SystemExit) as done:
            cli_main("explain", raw)
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(usage)
    with pytest.raises(SystemExit) as done:
        cli_main("explain", [TORCH, "--sequences", "no-such.fa", "-o", "x.h5"])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("kipoi explain: error: ")
    with pytest.raises(SystemExit) as done:
        cli_main("explain", [TORCH, "--sequences", SEQUENCES, "-o", "x.h5", "--bogus"])
    assert done.value.code == 2
    assert "kipoi explain: error: unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not (BIN / "kipoi").is_file(), reason="no kipoi console script")
def test_kipoi_console_script_is_quiet():
    done = run("explain", "--help", command=(str(BIN / "kipoi"),))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: kipoi explain ")
    assert "pkg_resources" not in done.stderr
