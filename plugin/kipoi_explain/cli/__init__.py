"""Command line: ``kipoi-explain <command> ...`` and, as a Kipoi plugin, ``kipoi explain ...``."""
from .main import cli_main, main

__all__ = ["cli_main", "main"]
