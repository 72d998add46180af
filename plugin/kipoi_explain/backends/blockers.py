"""The one error DeepLIFT raises for a model with operations it has no rule for, in either
framework: every blocker named, in the order the forward pass met them."""
from __future__ import annotations

#: Blockers named in one error; more are counted.
MAX_BLOCKERS = 8


def no_rule(blockers: dict[str, str]) -> str:
    """One line naming every operation without a rule (``where -> what to do instead``), the
    first :data:`MAX_BLOCKERS` of them, and each distinct hint once."""
    named = list(blockers)[:MAX_BLOCKERS]
    more = len(blockers) - len(named)
    hints = "; ".join(dict.fromkeys(blockers.values()))
    return (f"DeepLIFT has no rule for {', '.join(named)}"
            + (f" (and {more} more)" if more else "") + f"; {hints}")
