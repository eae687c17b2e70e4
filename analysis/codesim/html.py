"""A self-contained side-by-side HTML view of a ``TreeReport``: inline CSS, no scripts, no
external URLs; every piece of code and every path is escaped."""

from __future__ import annotations

from html import escape

from analysis.codesim.report import FilePair, TreeReport

MAX_PAIRS = 50
MAX_LINES = 5000
_CSS = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.side{display:flex;gap:1em}.side>div{flex:1;overflow:auto;max-height:40em;border:1px solid #ccc}
pre{margin:0;font-size:12px;line-height:1.35}
.ln{color:#888;display:inline-block;width:4em;text-align:right;margin-right:.5em}
.frag{font-size:11px;color:#555}
"""


def _colour(i: int) -> str:
    return f"hsl({(i * 137) % 360},70%,85%)"


def _code(text: str, spans: list[tuple[int, int, int]]) -> str:
    lines = text.split("\n")
    colour_of: dict[int, int] = {}
    for idx, start, end in spans:
        for ln in range(start, end + 1):
            colour_of.setdefault(ln, idx)
    out = []
    for n, line in enumerate(lines[:MAX_LINES], start=1):
        body = f'<span class="ln">{n}</span>{escape(line)}'
        if n in colour_of:
            out.append(
                f'<span style="background:{_colour(colour_of[n])}" '
                f'title="fragment {colour_of[n] + 1}">{body}</span>'
            )
        else:
            out.append(body)
    if len(lines) > MAX_LINES:
        out.append(escape(f"... {len(lines) - MAX_LINES} more lines not shown"))
    return "<pre>" + "\n".join(out) + "</pre>"


def _pair(report: TreeReport, n: int, pair: FilePair) -> str:
    left = report.sources.get("original", {}).get(pair.left_path, "")
    right = report.sources.get("suspect", {}).get(pair.right_path, "")
    lspans = [(i, f.left_lines[0], f.left_lines[1]) for i, f in enumerate(pair.fragments)]
    rspans = [(i, f.right_lines[0], f.right_lines[1]) for i, f in enumerate(pair.fragments)]
    frags = "".join(
        f'<li><span style="background:{_colour(i)}">fragment {i + 1}</span>: '
        f"lines {f.left_lines[0]}-{f.left_lines[1]} &harr; {f.right_lines[0]}-{f.right_lines[1]}"
        f" ({f.tokens} tokens)</li>"
        for i, f in enumerate(pair.fragments)
    )
    renames = "".join(
        f"<tr><td>{escape(r.original)}</td><td>{escape(r.suspect)}</td><td>{r.count}</td></tr>"
        for r in pair.rename_map
    )
    return (
        f'<section id="pair{n}"><h2>{escape(pair.left_path)} &harr; {escape(pair.right_path)}</h2>'
        f"<p>similarity {pair.symmetric:.3f}; suspect covered {pair.suspect_coverage:.1%}; "
        f"longest fragment {pair.longest_fragment} tokens</p>"
        f'<ul class="frag">{frags}</ul>'
        + (
            "<table><tr><th>original</th><th>suspect</th><th>seen</th></tr>" + renames + "</table>"
            if renames
            else ""
        )
        + f'<div class="side"><div>{_code(left, lspans)}</div>'
        f"<div>{_code(right, rspans)}</div></div></section>"
    )


def render_html(report: TreeReport) -> str:
    """The report as one HTML page: summary, tree-level rename map, then each file pair side by
    side with matched fragments in matching colours (the best ``MAX_PAIRS`` pairs)."""
    rows = "".join(
        f'<tr><td><a href="#pair{i}">{escape(p.left_path)}</a></td><td>{escape(p.right_path)}</td>'
        f"<td>{p.symmetric:.3f}</td><td>{p.suspect_coverage:.1%}</td>"
        f"<td>{p.longest_fragment}</td></tr>"
        for i, p in enumerate(report.pairs[:MAX_PAIRS])
    )
    renames = "".join(
        f"<tr><td>{escape(r.original)}</td><td>{escape(r.suspect)}</td><td>{r.count}</td></tr>"
        for r in report.rename_map[:200]
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    params = escape(", ".join(f"{k}={v}" for k, v in report.params.items()))
    body = (
        "<h1>Code similarity report</h1>"
        f"<p>codesim {escape(report.version)}; {params}</p>"
        f"<p>{report.original_files} original files, {report.suspect_files} suspect files, "
        f"{report.base_files} base files. Share of the suspect covered by the original: "
        f"<b>{report.suspect_coverage:.1%}</b> ({report.covered_tokens} of "
        f"{report.suspect_tokens} tokens); longest fragment {report.longest_fragment} tokens.</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "<h2>Rename map</h2><table><tr><th>original</th><th>suspect</th><th>seen</th></tr>"
        + renames
        + "</table><h2>File pairs</h2><table><tr><th>original</th><th>suspect</th>"
        "<th>similarity</th><th>suspect covered</th><th>longest</th></tr>"
        + rows
        + "</table>"
        + "".join(_pair(report, i, p) for i, p in enumerate(report.pairs[:MAX_PAIRS]))
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Code similarity report</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
