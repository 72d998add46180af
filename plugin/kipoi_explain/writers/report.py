"""What every HTML and Markdown report shares: one style, escaping, figures as PNG bytes
embedded in the page, and writing a text file whole or not at all."""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

CSS = """
body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}dt{font-weight:600;float:left;clear:left;
width:9rem}dd{margin-left:10rem}code{background:#f3f3f3;padding:0 .2rem}
.finding{margin:.7rem 0;padding:.3rem .8rem;border-left:4px solid #7f8c8d}
.finding ul{margin:.2rem 0}.finding.warning{border-color:#d68910}
.finding.error{border-color:#c0392b}
.badge{display:inline-block;border-radius:.6rem;padding:0 .5rem;font-size:.75em;
font-weight:700;color:#fff;text-transform:uppercase;background:#7f8c8d}
.badge.warning{background:#d68910}.badge.error{background:#c0392b}img{max-width:100%}
.verdict{font-size:1.1em;padding:.5rem 1rem;border-left:4px solid #2e86c1;background:#f4f8fb}
"""


def escape(text) -> str:
    """``text`` safe inside HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def png(figure, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image(png_bytes: bytes, alt: str) -> str:
    """An ``<img>`` holding the PNG itself, so that the page needs no other file."""
    data = base64.b64encode(png_bytes).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, body: list[str]) -> str:
    """A self-contained HTML page: no script, no stylesheet or image from elsewhere."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file beside it, replaced in one step."""
    path = Path(path)
    partial_path = path.with_name(path.name + ".partial")
    partial_path.write_text(text, encoding="utf-8")
    os.replace(partial_path, path)
    return path
