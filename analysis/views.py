"""Result pages of analyses: the pair table, and a side-by-side viewer with syntax highlighting
(Pygments), matched fragments in matching colours, links to jump between fragments, and the
rename map. Code is untrusted: Pygments escapes it, and nothing of it is marked safe unescaped."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from analysis import selectors
from analysis.models import AnalysisRun
from cases import selectors as case_selectors
from cases.errors import NotFound

MAX_VIEW_BYTES = 2 * 1024 * 1024


def _committee_access(request: HttpRequest, number: str) -> Any:
    try:
        access = case_selectors.case_get_for_user(user=request.user, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not access.is_committee:
        raise Http404("No analysis that you can see.")
    return access


def _report(access: Any, run: AnalysisRun) -> dict[str, Any]:
    from cases.evidence.services import evidence_stream

    output = run.outputs.filter(name="report.json").select_related("item__blob").first()
    if run.status != AnalysisRun.Status.SUCCEEDED or output is None:
        return {}
    body = b"".join(evidence_stream(access=access, item=output.item, purpose="results page"))
    return dict(json.loads(body))


@login_required
def run_detail(request: HttpRequest, number: str, run_id: int) -> HttpResponse:
    access = _committee_access(request, number)
    try:
        run = selectors.run_get(access, run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    report = _report(access, run)
    pairs = [
        {**pair, "index": i, "percent": round(100 * pair["suspect_coverage"])}
        for i, pair in enumerate(report.get("pairs", []))
    ]
    context = {
        "case": access.case,
        "run": run,
        "report": report,
        "pairs": pairs,
        "institution": getattr(settings, "SLIPCASE_INSTITUTION", ""),
    }
    return render(request, "analysis/run_detail.html", context)


def _lexer(path: str) -> Any:
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def _colour(i: int) -> str:
    return f"hsl({(i * 137) % 360}, 70%, 85%)"


def _side(text: str, path: str, prefix: str) -> str:
    formatter = HtmlFormatter(linenos="inline", linespans=prefix, wrapcode=True)
    return highlight(text[:MAX_VIEW_BYTES], _lexer(path), formatter)


@login_required
def pair_view(request: HttpRequest, number: str, run_id: int, index: int) -> HttpResponse:
    access = _committee_access(request, number)
    try:
        run = selectors.run_get(access, run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    report = _report(access, run)
    pairs = report.get("pairs", [])
    if not 0 <= index < len(pairs):
        raise Http404("No such pair in this run.")
    pair = pairs[index]
    sources = report.get("sources", {})
    left_text = sources.get("original", {}).get(pair["left_path"], "")
    right_text = sources.get("suspect", {}).get(pair["right_path"], "")
    fragments = []
    rules = []
    for i, frag in enumerate(pair["fragments"]):
        colour = _colour(i)
        fragments.append({**frag, "n": i + 1, "colour": colour})
        for side, lines in (("L", frag["left_lines"]), ("R", frag["right_lines"])):
            for line in range(lines[0], lines[1] + 1):
                # Pygments wraps line N in <span id="{side}-N">.
                rules.append(f"#{side}-{line} {{ background: {colour}; }}")
    style = HtmlFormatter().get_style_defs(".highlight") + "\n" + "\n".join(rules)
    context = {
        "case": access.case,
        "run": run,
        "pair": pair,
        "index": index,
        "fragments": fragments,
        "left_html": mark_safe(_side(left_text, pair["left_path"], "L")),  # noqa: S308 - Pygments escapes the code
        "right_html": mark_safe(_side(right_text, pair["right_path"], "R")),  # noqa: S308
        "style": mark_safe(style),  # noqa: S308 - generated from integers and Pygments' own CSS
        "renames": format_html_join(
            "",
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            ((r["original"], r["suspect"], r["count"]) for r in pair["rename_map"]),
        ),
        "institution": getattr(settings, "SLIPCASE_INSTITUTION", ""),
    }
    return render(request, "analysis/pair_view.html", context)
