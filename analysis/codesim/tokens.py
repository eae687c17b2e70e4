"""Source files and their normalised token streams (Pygments lexers; a plain-text fallback).

Normalisation removes what disguise changes cheaply: comments, whitespace and layout vanish,
identifiers become ``ID`` and literals ``STR`` / ``NUM``.  Keywords, operators, punctuation and
built-in names stay, since changing them changes the program.  Every token keeps its original
text and position so that matches map back to lines and columns.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text
from pygments.util import ClassNotFound

KIND_OTHER = 0
KIND_IDENT = 1
KIND_LITERAL = 2

# Extension -> canonical language name (the Pygments alias).  Anything else goes through
# Pygments' own filename patterns, then falls back to plain text.
EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyw": "python",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".scala": "scala",
    ".rb": "ruby",
    ".php": "php",
    ".swift": "swift",
    ".txt": "text",
    ".md": "text",
}
# Languages whose statements end with ``;`` or braces; elsewhere a line break at bracket depth 0
# also ends a statement.
BRACE_LANGS = frozenset(
    {"java", "c", "cpp", "csharp", "javascript", "typescript", "rust", "php", "kotlin", "scala"}
)
TEXT_LANG = "text"
_WORD = re.compile(r"[^\W\d]\w*|\d+(?:\.\d+)?|[^\w\s]", re.UNICODE)
_OPENERS = frozenset("([")
_CLOSERS = frozenset(")]")


@dataclass(frozen=True)
class SourceFile:
    """One file of a tree: ``path`` is relative and POSIX-style; ``lang`` a language name."""

    path: str
    text: str
    lang: str = "auto"


@dataclass(frozen=True)
class TokenStream:
    """Normalised tokens of one file, with the original text and position of each."""

    path: str
    lang: str
    syms: tuple[str, ...]
    texts: tuple[str, ...]
    kinds: tuple[int, ...]
    lines: tuple[int, ...]
    cols: tuple[int, ...]
    end_lines: tuple[int, ...]
    end_cols: tuple[int, ...]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.syms)

    def statements(self) -> list[tuple[int, int]]:
        """Token ranges ``[start, end)`` of statements: split at ``;``, ``{``, ``}`` and (outside
        brace languages) at line breaks outside brackets."""
        out: list[tuple[int, int]] = []
        start = 0
        depth = 0
        by_line = self.lang not in BRACE_LANGS
        n = len(self.syms)
        for i, s in enumerate(self.syms):
            if by_line and i > start and depth == 0 and self.lines[i] != self.end_lines[i - 1]:
                out.append((start, i))
                start = i
            if s in _OPENERS:
                depth += 1
            elif s in _CLOSERS:
                depth = max(0, depth - 1)
            if s in (";", "{", "}"):
                if i + 1 > start:
                    out.append((start, i + 1))
                start = i + 1
                depth = 0
        if start < n:
            out.append((start, n))
        return out


def detect_lang(path: str, requested: str = "auto") -> str:
    """The language to lex ``path`` as: ``requested`` unless it is ``auto``."""
    if requested and requested != "auto":
        return _canonical(requested)
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot > path.rfind("/") else ""
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    return _lang_from_filename(ext or path.rsplit("/", 1)[-1])


@lru_cache(maxsize=256)
def _canonical(name: str) -> str:
    name = name.lower()
    if name in ("text", "plain", "txt"):
        return TEXT_LANG
    try:
        lexer = get_lexer_by_name(name)
    except ClassNotFound:
        return TEXT_LANG
    return str(lexer.aliases[0]) if lexer.aliases else name


@lru_cache(maxsize=512)
def _lang_from_filename(name: str) -> str:
    probe = ("x" + name) if name.startswith(".") else name
    try:
        lexer = get_lexer_for_filename(probe)
    except ClassNotFound:
        return TEXT_LANG
    return str(lexer.aliases[0]) if lexer.aliases else TEXT_LANG


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer | None:
    if lang == TEXT_LANG:
        return None
    try:
        lexer: Lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    return lexer


class _Builder:
    def __init__(self, text: str, limit: int) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.limit = limit
        self.syms: list[str] = []
        self.texts: list[str] = []
        self.kinds: list[int] = []
        self.pos: list[tuple[int, int, int, int]] = []

    def full(self) -> bool:
        return len(self.syms) >= self.limit

    def _lc(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def add(self, sym: str, text: str, kind: int, start: int, end: int) -> None:
        line, col = self._lc(start)
        eline, ecol = self._lc(max(start, end - 1))
        self.syms.append(sym)
        self.texts.append(text)
        self.kinds.append(kind)
        self.pos.append((line, col, eline, ecol))

    def extend_last(self, text: str, end: int) -> None:
        self.texts[-1] += text
        eline, ecol = self._lc(max(0, end - 1))
        line, col, _, _ = self.pos[-1]
        self.pos[-1] = (line, col, eline, ecol)

    def build(self, path: str, lang: str, truncated: bool) -> TokenStream:
        cols: list[Any] = list(zip(*self.pos, strict=True)) if self.pos else [(), (), (), ()]
        return TokenStream(
            path=path,
            lang=lang,
            syms=tuple(self.syms),
            texts=tuple(self.texts),
            kinds=tuple(self.kinds),
            lines=tuple(cols[0]),
            cols=tuple(cols[1]),
            end_lines=tuple(cols[2]),
            end_cols=tuple(cols[3]),
            truncated=truncated,
        )


def tokenize(source: SourceFile, *, lang: str = "auto", max_tokens: int = 200_000) -> TokenStream:
    """Lex ``source`` and normalise its tokens (at most ``max_tokens``; the rest is dropped)."""
    wanted = source.lang if source.lang != "auto" else lang
    language = detect_lang(source.path, wanted)
    text = source.text
    b = _Builder(text, max_tokens)
    lexer = _lexer(language)
    if lexer is None:
        language = TEXT_LANG
        truncated = _lex_text(text, b)
    else:
        try:
            truncated = _lex_pygments(lexer, text, b)
        except Exception:  # noqa: BLE001 - a lexer bug must not sink the whole run
            b = _Builder(text, max_tokens)
            language = TEXT_LANG
            truncated = _lex_text(text, b)
    return b.build(source.path, language, truncated)


def _lex_text(text: str, b: _Builder) -> bool:
    for m in _WORD.finditer(text):
        if b.full():
            return True
        word = m.group()
        kind = KIND_IDENT if (word[0].isalpha() or word[0] == "_") else KIND_OTHER
        if word[0].isdigit():
            kind = KIND_LITERAL
        b.add(word.lower(), word, kind, m.start(), m.end())
    return False


def _lex_pygments(lexer: Lexer, text: str, b: _Builder) -> bool:
    prev_string = False
    for start, ttype, value in lexer.get_tokens_unprocessed(text):
        end = start + len(value)
        if ttype in String:
            if prev_string:
                b.extend_last(value, end)
                continue
            if b.full():
                return True
            b.add("STR", value, KIND_LITERAL, start, end)
            prev_string = True
            continue
        prev_string = False
        stripped = value.strip()
        if not stripped:
            continue
        if ttype in Comment and ttype not in Comment.Preproc and ttype not in Comment.PreprocFile:
            continue
        if b.full():
            return True
        if ttype in Number:
            b.add("NUM", value, KIND_LITERAL, start, end)
        elif ttype in Name.Builtin or ttype in Keyword:
            b.add(stripped, stripped, KIND_OTHER, start, end)
        elif ttype in Name or (ttype in Text and stripped[0].isalpha()):
            b.add("ID", stripped, KIND_IDENT, start, end)
        elif ttype in Operator or ttype in Punctuation:
            _add_split(b, value, start)
        else:
            _add_split(b, value, start)
    return False


def _add_split(b: _Builder, value: str, start: int) -> None:
    for m in re.finditer(r"\S+", value):
        b.add(m.group(), m.group(), KIND_OTHER, start + m.start(), start + m.end())
