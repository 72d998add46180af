"""``python -m kipoi_explain ...`` is ``kipoi-explain ...``."""
from .cli.main import console

console()
