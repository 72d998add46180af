"""Every fenced example of the READMEs runs, so the documentation cannot rot.

The fenced blocks tagged ``python``, ``bash``, ``sh``, ``shell`` or ``console`` of README.md,
server/README.md, clients/README.md and examples/README.md are extracted and run as a reader
would run them, in a fresh temporary directory (never in the repository) holding symlinks to the
repository's ``examples/`` and ``server/`` (for examples/README.md, a copy of ``examples/``:
its training scripts rewrite the models and data beside themselves) and a ``.venv`` symlink to the
running interpreter's environment, so that ``.venv/bin/...`` and the commands on ``PATH`` are
this environment's:

- each file's Python blocks in order, in one fresh interpreter (later blocks use the names of
  earlier ones); a failure names the file, the block's line and the error;
- each shell block with ``bash -e -o pipefail``, in order, in one directory per file (later
  commands read earlier outputs); a failure names the file and the block's line;
- a block that starts ``kipoi-explain-server`` is started, asked for its models until it answers,
  and stopped with SIGTERM (it would serve for ever); a Python block that talks to
  ``localhost:50051`` talks to a real server this module starts on a free loopback port, serving
  the names the blocks use. In both cases the port ``50051`` of the block's text is replaced by
  the free port, the one change made to any block's text;
- untagged blocks are printed outputs (benchmark tables) and are not run; the ``yaml`` block
  (an ``entities.yaml``) is parsed and checked against the bundled GenNet model's.

Checked rather than run (README.md's "Quick start"):

- the install prefix of the two set-up lines, ``python3 -m venv .venv && .venv/bin/pip install
  ... &&``: creating an environment and installing into it takes minutes and the network, and
  is what ``.ci/run`` does on every CI run. Each ``pip install`` is checked instead (the extras
  it names exist in setup.cfg; a pinned ``--no-deps`` package is installed at that version), and
  the command after the prefix runs with ``.venv/bin/`` resolving to this environment;
- every pytest command (the test suite's line, and ``-m "not slow"``, its quick subset): running
  the suite from inside itself would recurse. The full suite's line must equal the line
  ``.ci/run`` runs (CI executes it), and a ``-m`` expression may name only markers setup.cfg
  registers.

Long examples run on reduced inputs through the variable the READMEs document:
``KIPOI_EXPLAIN_EXAMPLES_QUICK=1`` makes the training scripts of examples/ run as with
``--quick``.
"""
import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLE_DIR, free_port, serve, wait_for

pytestmark = pytest.mark.slow

ROOT = EXAMPLE_DIR.parent
DOCS = ["README.md", "server/README.md", "clients/README.md", "examples/README.md"]
SHELLS = {"bash", "sh", "shell", "console"}
#: The address the documented clients and servers use; replaced by a free port's.
ADDRESS_PORT = "50051"
#: The models the documented client blocks name, served as those names.
SERVED = {"cnn": EXAMPLE_DIR / "models" / "pytorch_cnn",
          "transformer": EXAMPLE_DIR / "models" / "pytorch_transformer",
          "gennet": EXAMPLE_DIR / "models" / "gennet"}
#: The README's set-up lines: create the environment, install, then run something in it.
SETUP = re.compile(r"^python3 -m venv \.venv && ((?:\.venv/bin/pip install [^&]+&& )+)(.+)$")
#: The environment every example runs in: outputs quiet, plots without a display, and the
#: documented switch for reduced inputs.
EXAMPLE_ENV = {"MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2",
               "KIPOI_EXPLAIN_EXAMPLES_QUICK": "1"}
SERVER_START_S = 180
BLOCK_TIMEOUT_S = 600

#: Runs the Python blocks given in a JSON file in one namespace; each block is compiled with
#: its README's name and line numbers, so a traceback points into the README.
RUNNER = textwrap.dedent("""
    import json, sys, traceback
    namespace = {"__name__": "__main__"}
    for doc, line, text in json.load(open(sys.argv[1])):
        print(f"--- {doc}:{line}", flush=True)
        try:
            exec(compile("\\n" * line + text, doc, "exec"), namespace)
        except BaseException as error:
            traceback.print_exc()
            sys.exit(f"{doc}, block at line {line}: {type(error).__name__}: {error}")
""")


@dataclass(frozen=True)
class Block:
    """One fenced block: its file, the line of its opening fence, its tag and its text."""

    doc: str
    line: int
    lang: str
    text: str


def fenced_blocks(doc: str) -> list[Block]:
    """Every fenced block of ``doc`` (a path relative to the repository), in order."""
    found, opening, body = [], None, []
    for number, line in enumerate((ROOT / doc).read_text().splitlines(), 1):
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence and opening is None:
            opening, body = (number, fence.group(1)), []
        elif fence:
            found.append(Block(doc, opening[0], opening[1], "\n".join(body) + "\n"))
            opening = None
        elif opening is not None:
            body.append(line)
    return found


def blocks_of(doc: str, langs: set[str]) -> list[Block]:
    return [block for block in fenced_blocks(doc) if block.lang in langs]


def workspace(directory: Path, doc: str) -> Path:
    """``directory`` set up as a reader's checkout for ``doc``'s examples: ``examples/`` and
    ``server/`` linked to the repository's (for examples/README.md, ``examples/`` is a copy:
    its training scripts rewrite their models and data beside themselves), and ``.venv``
    linked to this interpreter's environment."""
    if doc == "examples/README.md":
        shutil.copytree(EXAMPLE_DIR, directory / "examples")
    else:
        (directory / "examples").symlink_to(EXAMPLE_DIR)
    (directory / "server").symlink_to(ROOT / "server")
    (directory / ".venv").symlink_to(sys.prefix)
    return directory


def example_env() -> dict:
    """This process's environment with this interpreter's environment first on ``PATH``."""
    return {**os.environ, **EXAMPLE_ENV,
            "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def where(block: Block) -> str:
    return f"{block.doc}, block at line {block.line}"


# ---- the set-up lines -------------------------------------------------------------------------

def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def check_install(command: str) -> None:
    """Check a documented ``.venv/bin/pip install`` instead of running it: its extras exist,
    and a package pinned ``==`` is installed at that version."""
    from importlib.metadata import version

    extras = set(setup_cfg()["options.extras_require"])
    for requirement in shlex.split(command)[2:]:
        named = re.fullmatch(r"-e|--no-deps|\.\[([\w,]+)\]", requirement)
        pinned = re.fullmatch(r"([\w.-]+)==([\w.]+)", requirement)
        if pinned:
            assert version(pinned[1]) == pinned[2], f"{command}: {pinned[1]} is not {pinned[2]}"
        elif named and named[1]:
            missing = set(named[1].split(",")) - extras
            assert not missing, f"{command}: no extra {sorted(missing)} in setup.cfg"
        else:
            assert named, f"{command}: {requirement!r} is neither an extra nor a pin"


def check_pytest_line(line: str) -> None:
    """A documented test command: the full suite's line is the one ``.ci/run`` runs, and any
    ``-m`` expression names registered markers only."""
    ci_line = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    arguments = shlex.split(line.split("&& ")[-1])
    assert arguments[:3] == [".venv/bin/python", "-m", "pytest"], line
    if len(arguments) == 3:
        assert line == ci_line, f"the test command differs from .ci/run's:\n{line}\n{ci_line}"
    registered = {entry.split(":")[0].strip()
                  for entry in setup_cfg()["tool:pytest"].get("markers", "").splitlines()
                  if ":" in entry}
    for flag, value in zip(arguments[3:], arguments[4:]):
        if flag == "-m":
            named = set(re.findall(r"\w+", value)) - {"and", "or", "not"}
            assert named <= registered, f"{line}: unregistered markers {named - registered}"


def runnable(block: Block) -> str:
    """``block``'s text with each set-up line checked and replaced by what it runs after the
    install, and each pytest command checked and left out."""
    lines = []
    for line in block.text.splitlines():
        setup = SETUP.match(line)
        if setup:
            for install in setup[1].split("&& ")[:-1]:
                check_install(install.strip())
        if "-m pytest" in line:
            check_pytest_line(line)
            continue
        lines.append(setup[2] if setup else line)
    return "\n".join(lines) + "\n"


# ---- servers ----------------------------------------------------------------------------------

def answers(port: int) -> bool:
    """Whether a server on ``port`` lists its models."""
    import grpc
    from kipoi_explain.client import Client

    try:
        with Client(f"127.0.0.1:{port}", timeout=5) as client:
            return bool(client.models())
    except grpc.RpcError:
        return False


def run_server_block(block: Block, directory: Path) -> None:
    """Start each ``kipoi-explain-server`` command of ``block`` on a free port, wait until it
    answers, and stop it with SIGTERM."""
    for command in block.text.replace("\\\n", " ").splitlines():
        command = command.split("#")[0].strip()
        if not command:
            continue
        port = free_port()
        command = command.replace(ADDRESS_PORT, str(port))
        if "--port" not in command:
            command += f" --port {port}"
        process = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", f"exec {command}"],
                                   cwd=directory, env=example_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: process.poll() is not None or answers(port), SERVER_START_S,
                     f"{where(block)}: {command}")
            assert process.poll() is None, \
                f"{where(block)}: {command} exited:\n{process.stdout.read()}"
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0]
        assert process.returncode in (0, -signal.SIGTERM), \
            f"{where(block)}: {command} ended with {process.returncode}:\n{output}"


@pytest.fixture(scope="module")
def served():
    """A real server of the models the client examples name (``SERVED``) and the example
    genome as ``genome``, on a free loopback port."""
    running = serve(SERVED)
    yield running
    running.stop(0)


# ---- the tests --------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [doc for doc in DOCS if blocks_of(doc, {"python"})])
def test_python_blocks(doc, tmp_path, request):
    blocks = blocks_of(doc, {"python"})
    if any(f"localhost:{ADDRESS_PORT}" in block.text for block in blocks):
        port = str(request.getfixturevalue("served").port)
        blocks = [Block(b.doc, b.line, b.lang, b.text.replace(ADDRESS_PORT, port))
                  for b in blocks]
    directory = workspace(tmp_path, doc)
    (directory / "blocks.json").write_text(json.dumps([(b.doc, b.line, b.text) for b in blocks]))
    result = subprocess.run([sys.executable, "-c", RUNNER, "blocks.json"], cwd=directory,
                            env=example_env(), capture_output=True, text=True,
                            timeout=BLOCK_TIMEOUT_S)
    last = (result.stderr.strip().splitlines() or [f"{doc}: exit {result.returncode}"])[-1]
    assert result.returncode == 0, f"{last}\n{result.stdout[-3000:]}{result.stderr[-6000:]}"


@pytest.mark.parametrize("doc", [doc for doc in DOCS if blocks_of(doc, SHELLS)])
def test_shell_blocks(doc, tmp_path):
    directory = workspace(tmp_path, doc)
    failures = []
    for block in blocks_of(doc, SHELLS):
        if re.match(r"(\.venv/bin/)?kipoi-explain-server ", block.text.lstrip()):
            run_server_block(block, directory)
            continue
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", runnable(block)],
                                cwd=directory, env=example_env(), capture_output=True,
                                text=True, timeout=BLOCK_TIMEOUT_S)
        if result.returncode:
            failures.append(f"{where(block)} exited {result.returncode}:\n"
                            f"{result.stdout[-1500:]}{result.stderr[-3000:]}")
    assert not failures, "\n\n".join(failures)


def test_entities_yaml_block():
    """The documented ``entities.yaml`` parses and declares the levels and layers of the
    bundled GenNet model's own."""
    (block,) = blocks_of("README.md", {"yaml"})
    documented = yaml.safe_load(block.text)["levels"]
    bundled = yaml.safe_load((SERVED["gennet"] / "entities.yaml").read_text())["levels"]
    assert {name: level["layer"] for name, level in documented.items()} == \
        {name: level["layer"] for name, level in bundled.items()}, where(block)
    assert all("units" in level for level in documented.values()), where(block)
