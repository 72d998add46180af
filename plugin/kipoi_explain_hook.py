"""Registers kipoi-explain in Kipoi's plugin list, so that ``kipoi explain ...`` works.

Kipoi's plugins are a hard-coded list read when ``kipoi.__main__`` is imported. The installed
``kipoi_explain_hook.pth`` imports this tiny module at interpreter start; it imports nothing
heavy, and only appends the entry once ``kipoi.plugin`` itself is imported.
"""
import importlib.abc
import importlib.util
import os
import sys

ENTRY = {"plugin": "kipoi_explain", "cli": True,
         "url": "https://github.com/kipoi/kipoi-explain",
         "description": "Explain models: saliency, IG, DeepLIFT/DeepSHAP, ISM (kipoi-explain)."}


def register(plugin_module) -> None:
    """Append kipoi-explain to ``kipoi.plugin.PLUGINS`` unless it is there already."""
    if not any(p["plugin"] == ENTRY["plugin"] for p in plugin_module.PLUGINS):
        plugin_module.PLUGINS.append(dict(ENTRY))


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "kipoi.plugin":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            original = spec.loader.exec_module

            def exec_module(module):
                original(module)
                register(module)

            spec.loader.exec_module = exec_module
        return spec


def quiet_kipoi_explain(argv) -> None:
    """``kipoi explain ...`` (but with ``--verbose``): Kipoi warns that ``pkg_resources`` is
    deprecated as it is imported, before the plugin runs; that one warning is filtered here.
    The plugin silences the rest (:mod:`kipoi_explain.cli.quiet`)."""
    if (len(argv) > 1 and argv[1] == "explain" and "--verbose" not in argv
            and os.path.basename(argv[0]) in ("kipoi", "kipoi.exe", "kipoi-script.py")):
        import warnings

        warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated",
                                category=UserWarning)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def install() -> None:
    quiet_kipoi_explain(getattr(sys, "argv", ()))
    if "kipoi.plugin" in sys.modules:
        register(sys.modules["kipoi.plugin"])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


install()
