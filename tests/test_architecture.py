"""The shape of the code: light imports, no import loops, framework code in backends only, no
module reaching into another's private members, every command declared once."""
import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where each installed package of kipoi_explain lives in the repository.
PACKAGES = {"kipoi_explain": ROOT / "plugin" / "kipoi_explain",
            "kipoi_explain.server": ROOT / "server", "kipoi_explain.client": ROOT / "clients"}
HEAVY = ("torch", "tensorflow", "keras", "grpc")


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (generated stubs left out)."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if "_pb2" not in path.name:
                found[".".join((package, *parts))] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports, at any depth of its code (function-level
    imports count: a loop they hide is still a loop)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # The deepest module of the package the import names.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.mark.slow
def test_import_loads_no_framework_nor_grpc():
    """``import kipoi_explain``, the methods, the command declarations and the CLI load neither
    a deep-learning framework nor gRPC: those come with a model of theirs, or --remote."""
    code = ("import sys, time; t = time.perf_counter(); import kipoi_explain; "
            "print(time.perf_counter() - t); "
            "import kipoi_explain.methods, kipoi_explain.commands, kipoi_explain.cli.main; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split("\n")
    assert out[1] == "[]"
    assert float(out[0]) < 0.5


def test_no_import_loops():
    known = modules()
    graph = {name: imports(name, path, set(known)) for name, path in known.items()}
    # A module importing its own package's __init__ is how Python loads it; not a loop.
    graph = {name: {t for t in targets if not name.startswith(t + ".")}
             for name, targets in graph.items()}
    index, low, stack, on_stack, loops = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in graph:
        if node not in index:
            visit(node)
    assert loops == []


def test_frameworks_are_imported_by_backends_only():
    """torch, TensorFlow and Keras as model frameworks live in ``backends/``; elsewhere torch
    appears only as the array library tangermeme's functions take, inside functions."""
    allowed = {"kipoi_explain.sequences.shuffles", "kipoi_explain.motif.seqlets",
               "kipoi_explain.variants.motif_change"}
    for name, path in modules().items():
        if name.startswith("kipoi_explain.backends") or name in allowed:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                    else [node.module or ""]
                assert not any(n.split(".")[0] in ("torch", "tensorflow", "keras")
                               for n in names), f"{name}:{node.lineno} imports a framework"


def test_no_module_reaches_into_private_members():
    """Outside ``backends/`` (which must read the frameworks' own internals), code uses only
    the public members of what it did not define (``self`` and ``cls`` aside)."""
    for name, path in modules().items():
        if name.startswith("kipoi_explain.backends"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                    not node.attr.startswith("__"):
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                assert owner in ("self", "cls"), \
                    f"{name}:{node.lineno}: {ast.unparse(node)} is another's private member"


def test_the_server_never_patches_models():
    """The server's batching wraps capability providers; it sets no attribute on a model."""
    for path in PACKAGES["kipoi_explain.server"].glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                pytest.fail(f"{path.name}:{node.lineno}: setattr")


def test_every_declared_option_is_an_argument_of_its_function():
    """A declared option the library function does not take would be accepted by the CLI and
    the server and then fail inside the function."""
    from kipoi_explain.client import Client
    from kipoi_explain.commands import COMMANDS

    for name, command in COMMANDS.items():
        parameters = inspect.signature(command.function).parameters
        more = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        for param in command.params:
            assert more or param.name in parameters, (name, param.name)
        assert getattr(Client, name).__name__ == name
