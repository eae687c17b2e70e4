"""The two modes: many-vs-many scoring of submissions, and repository-vs-repository comparison
with fragments, coverage and the rename map."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence

from analysis.codesim.features import DocFeatures, extract
from analysis.codesim.index import score_pairs
from analysis.codesim.params import DEFAULT_PARAMS, Params
from analysis.codesim.report import FilePair, Fragment, PairScore, Rename, TreeReport
from analysis.codesim.tiling import (
    all_kgrams,
    consistent_renames,
    greedy_tiles,
    kgram_mask,
    rename_pairs,
)
from analysis.codesim.tokens import SourceFile, TokenStream, tokenize
from analysis.codesim.version import __version__

Progress = Callable[[float], None]


def _stage(progress: Progress | None, lo: float, hi: float) -> Progress | None:
    if progress is None:
        return None
    report = progress
    return lambda f: report(lo + (hi - lo) * f)


def tokenize_all(
    files: Sequence[SourceFile], params: Params, progress: Progress | None = None
) -> list[TokenStream]:
    out = []
    for i, f in enumerate(files):
        out.append(tokenize(f, lang=params.lang, max_tokens=params.max_tokens_per_file))
        if progress is not None and (i % 50 == 0 or i + 1 == len(files)):
            progress((i + 1) / len(files))
    return out


def _features(stream: TokenStream, params: Params, text: str | None = None) -> DocFeatures:
    return extract(stream, k=params.k, window=params.window, ngram=params.ngram, text=text)


def _base_features(base: Sequence[SourceFile] | None, params: Params) -> DocFeatures | None:
    if not base:
        return None
    streams = tokenize_all(base, params)
    return DocFeatures.merge(
        [_features(s, params, f.text) for s, f in zip(streams, base, strict=True)]
    )


def iter_submission_scores(
    submissions: Mapping[str, Sequence[SourceFile]],
    *,
    base: Sequence[SourceFile] | None = None,
    params: Params = DEFAULT_PARAMS,
    progress: Progress | None = None,
) -> Iterator[PairScore]:
    """Many-vs-many, streamed: every pair of submissions scoring above ``params.min_score``, in
    name order of the left submission."""
    names = sorted(submissions)
    all_files = [f for n in names for f in submissions[n]]
    streams = tokenize_all(all_files, params, _stage(progress, 0.0, 0.6))
    docs: list[DocFeatures] = []
    pos = 0
    for n in names:
        count = len(submissions[n])
        parts = zip(streams[pos : pos + count], all_files[pos : pos + count], strict=True)
        docs.append(DocFeatures.merge([_features(s, params, f.text) for s, f in parts]))
        pos += count
    base_doc = _base_features(base, params)
    for pc in score_pairs(docs, base=base_doc, params=params, progress=_stage(progress, 0.6, 1.0)):
        yield PairScore(names[pc.left], names[pc.right], pc.score, pc.channels)


def score_submissions(
    submissions: Mapping[str, Sequence[SourceFile]],
    *,
    base: Sequence[SourceFile] | None = None,
    params: Params = DEFAULT_PARAMS,
    progress: Progress | None = None,
) -> list[PairScore]:
    """Many-vs-many: every pair of submissions (a submission is a list of files), best first."""
    out = list(iter_submission_scores(submissions, base=base, params=params, progress=progress))
    out.sort(key=lambda p: (-p.score, p.left, p.right))
    return out


def _fragment(a: TokenStream, b: TokenStream, left: int, right: int, length: int) -> Fragment:
    ea, eb = left + length - 1, right + length - 1
    return Fragment(
        left_path=a.path,
        left_lines=(a.lines[left], a.end_lines[ea]),
        left_cols=(a.cols[left], a.end_cols[ea]),
        right_path=b.path,
        right_lines=(b.lines[right], b.end_lines[eb]),
        right_cols=(b.cols[right], b.end_cols[eb]),
        tokens=length,
    )


def compare_trees(
    original: Sequence[SourceFile],
    suspect: Sequence[SourceFile],
    *,
    base: Sequence[SourceFile] | None = None,
    params: Params = DEFAULT_PARAMS,
    progress: Progress | None = None,
) -> TreeReport:
    """Repository against repository: score every original/suspect file pair through the index,
    then tile the pairs that share anything into fragments, base code masked out."""
    orig_streams = tokenize_all(original, params, _stage(progress, 0.0, 0.3))
    sus_streams = tokenize_all(suspect, params, _stage(progress, 0.3, 0.6))
    base_streams = tokenize_all(base or [], params)
    notes = [
        f"{s.path}: truncated to {params.max_tokens_per_file} tokens"
        for s in (*orig_streams, *sus_streams)
        if s.truncated
    ]
    texts = [f.text for f in (*original, *suspect)]
    docs = [
        _features(s, params, t) for s, t in zip((*orig_streams, *sus_streams), texts, strict=True)
    ]
    base_doc = _base_features(base, params)
    n_orig = len(orig_streams)
    candidates = sorted(
        score_pairs(
            docs,
            left=range(n_orig),
            right=range(n_orig, len(docs)),
            base=base_doc,
            params=params,
            progress=_stage(progress, 0.6, 0.7),
        ),
        key=lambda pc: (-pc.score, pc.left, pc.right),
    )[: params.max_report_pairs]

    base_grams: set[int] = set()
    for s in base_streams:
        base_grams |= all_kgrams(s, params.min_match)
    masks: dict[int, list[bool]] = {}

    def mask(i: int) -> list[bool]:
        if i not in masks:
            stream = orig_streams[i] if i < n_orig else sus_streams[i - n_orig]
            masks[i] = kgram_mask(stream, params.min_match, base_grams)
        return masks[i]

    covered: dict[int, set[int]] = {}
    tree_renames: Counter[tuple[str, str]] = Counter()
    pairs: list[FilePair] = []
    for done, pc in enumerate(candidates):
        a, b = orig_streams[pc.left], sus_streams[pc.right - n_orig]
        mb = mask(pc.right)
        tiles = greedy_tiles(a, b, min_match=params.min_match, mask_a=mask(pc.left), mask_b=mb)
        cov = covered.setdefault(pc.right - n_orig, set())
        for t in tiles:
            cov.update(range(t.right, t.right + t.length))
        own = sum(t.length for t in tiles)
        live = len(b) - sum(mb)
        aligned = rename_pairs(a, b, tiles)
        tree_renames.update(aligned)
        pairs.append(
            FilePair(
                left_path=a.path,
                right_path=b.path,
                symmetric=pc.score,
                suspect_coverage=own / live if live else 0.0,
                longest_fragment=max((t.length for t in tiles), default=0),
                channels=pc.channels,
                fragments=tuple(_fragment(a, b, t.left, t.right, t.length) for t in tiles),
                rename_map=tuple(Rename(o, s, c) for o, s, c in consistent_renames(aligned)),
            )
        )
        if progress is not None:
            progress(0.7 + 0.3 * (done + 1) / len(candidates))
    sus_live = sum(len(s) - sum(mask(n_orig + i)) for i, s in enumerate(sus_streams))
    covered_tokens = sum(len(c) for c in covered.values())
    if progress is not None:
        progress(1.0)
    return TreeReport(
        version=__version__,
        params=params.to_dict(),
        pairs=tuple(pairs),
        suspect_coverage=covered_tokens / sus_live if sus_live else 0.0,
        suspect_tokens=sus_live,
        covered_tokens=covered_tokens,
        longest_fragment=max((p.longest_fragment for p in pairs), default=0),
        rename_map=tuple(Rename(o, s, c) for o, s, c in consistent_renames(tree_renames)),
        original_files=len(original),
        suspect_files=len(suspect),
        base_files=len(base or []),
        notes=tuple(notes),
        sources={
            "original": {f.path: f.text for f in original},
            "suspect": {f.path: f.text for f in suspect},
        },
    )
