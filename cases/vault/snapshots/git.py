"""Git repositories as evidence: a bundle of every ref, the refs, and the commit history.

Pure; no Django. ``snapshot_git`` clones a repository given by URL (https, http, ssh, git, file) or
local path with ``git clone --mirror`` (all refs, not only branches), writes ``git bundle create
--all`` as the evidence file, and reads the refs and every reachable commit (author, committer,
dates with their original offsets, message, files touched) as structured data for timeline
analysis.

The repository is hostile input. Git runs without a shell, with ``--`` before the source, with
prompts off and only the one transport the source names allowed; sources that look like options
(``-oProxyCommand=...``), remote-helper syntax (``ext::...``) and other schemes are refused. A
mirror clone never checks out files, runs hooks or fetches submodules. Commit objects are read
with ``git cat-file --batch`` (length-prefixed) and files touched with ``git diff-tree -z``, so no
commit message or file name, whatever bytes it holds, can forge a record of the history.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from cases.vault.errors import AcquisitionError, RefusedSource, SourceGone, utc_timestamp
from cases.vault.safety import sha256_file
from cases.vault.snapshots import Clock, Progress, iso, redact_text, redact_url, utc_now

GIT = "git"
ALLOWED_SCHEMES: frozenset[str] = frozenset({"https", "http", "ssh", "git", "file"})

# Environment variables that would point git at another repository or configuration.
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~+-]+@[A-Za-z0-9][A-Za-z0-9.-]*:[^:]")
_HEX_ID = re.compile(rb"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_STATUS = re.compile(rb"^[ACDMRTUXB][0-9]*$")
_IDENT = re.compile(rb"^(.*) <([^<>]*)> (-?[0-9]+) ([+-][0-9]{4})$", re.S)


@dataclass(frozen=True)
class FileChange:
    """One file a commit touched, against its first parent (root commits: against nothing)."""

    status: str  # A, D, M, T (git diff-tree --name-status; no rename detection)
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "path": self.path}


@dataclass(frozen=True)
class CommitInfo:
    """A commit as recorded. Dates keep the offset the commit itself carries (ISO 8601); names,
    messages and paths are text, with undecodable bytes written as ``\\xNN``."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: str | None
    committer_name: str
    committer_email: str
    committed_at: str | None
    message: str
    files: tuple[FileChange, ...] = ()
    signed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "parents": list(self.parents),
            "author_name": self.author_name,
            "author_email": self.author_email,
            "authored_at": self.authored_at,
            "committer_name": self.committer_name,
            "committer_email": self.committer_email,
            "committed_at": self.committed_at,
            "message": self.message,
            "files": [[f.status, f.path] for f in self.files],
            "signed": self.signed,
        }


@dataclass(frozen=True)
class GitSnapshot:
    """What ``snapshot_git`` acquired. ``refs`` maps every ref to the commit it names (annotated
    tags peeled; their tag objects are in ``tag_objects``). ``head`` is the ref HEAD points to in
    the source, ``head_commit`` its commit (None when that ref does not exist)."""

    source: str  # as given, with any password removed
    bundle_path: Path
    bundle_size: int
    bundle_sha256: str
    refs: dict[str, str]
    tag_objects: dict[str, str]
    head: str | None
    head_commit: str | None
    commits: tuple[CommitInfo, ...]
    tool: str
    fetched_at: datetime
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bundle_path": str(self.bundle_path),
            "bundle_size": self.bundle_size,
            "bundle_sha256": self.bundle_sha256,
            "refs": dict(self.refs),
            "tag_objects": dict(self.tag_objects),
            "head": self.head,
            "head_commit": self.head_commit,
            "commits": [c.to_dict() for c in self.commits],
            "tool": self.tool,
            "fetched_at": iso(self.fetched_at),
            "parameters": dict(self.parameters),
        }


# --- The source ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    url: str  # what git is given
    scheme: str  # the transport allowed
    local: bool


def _parse_source(source: str) -> _Source:
    if not source or source != source.strip():
        raise RefusedSource("refused git source: empty, or with leading or trailing spaces")
    if re.search(r"[\x00-\x1f\x7f]", source):
        raise RefusedSource("refused git source: it contains control characters")
    if source.startswith("-"):
        raise RefusedSource(
            f"refused git source {redact_url(source)!r}: it starts with '-' (option injection)"
        )
    if match := _SCHEME.match(source):
        scheme = match.group(1).lower()
        if scheme not in ALLOWED_SCHEMES:
            raise RefusedSource(
                f"refused git source {redact_url(source)!r}: scheme {scheme!r} is not one of"
                f" {', '.join(sorted(ALLOWED_SCHEMES))}"
            )
        try:
            parts = urlsplit(source)
            host, user = parts.hostname or "", parts.username or ""
        except ValueError as exc:
            raise RefusedSource(f"refused git source: not a valid URL ({exc})") from exc
        if host.startswith("-") or user.startswith("-"):
            raise RefusedSource(
                f"refused git source {redact_url(source)!r}: host or user starts with '-'"
            )
        url = scheme + source[len(scheme) :]
        return _Source(url=url, scheme=scheme, local=scheme == "file")
    if _HELPER.match(source):
        raise RefusedSource(
            f"refused git source {source!r}: remote-helper syntax ('<transport>::') is not allowed"
        )
    if _SCP_LIKE.match(source):
        return _Source(url=source, scheme="ssh", local=False)
    # A plain path: made absolute, so that git can take no part of it for a host or an option.
    return _Source(url=str(Path(source).absolute()), scheme="file", local=True)


# --- Running git ---------------------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"})
    return env


def _run(
    args: Sequence[str],
    *,
    cwd: Path | None,
    timeout_s: float,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
) -> tuple[int, bytes, str]:
    """Run git (no shell) in its own process group, killed whole on timeout; (rc, out, err)."""
    proc = subprocess.Popen(  # noqa: S603 - fixed program, arguments as a list, no shell
        [GIT, *args],
        cwd=cwd,
        env=_git_env(),
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise
    return proc.returncode, out or b"", err.decode("utf-8", errors="replace")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - already gone
        pass
    proc.communicate()


def _check(
    args: Sequence[str], *, cwd: Path | None, timeout_s: float, what: str, **kw: Any
) -> bytes:
    try:
        rc, out, err = _run(args, cwd=cwd, timeout_s=timeout_s, **kw)
    except subprocess.TimeoutExpired:
        raise AcquisitionError(
            f"git: {what} timed out after {timeout_s:g} s", transient=True
        ) from None
    if rc != 0:
        raise AcquisitionError(
            f"git: {what} failed: {_last_lines(err)}", transient=False
        )  # after a good clone, a failure here is not the network's
    return out


def git_version() -> str:
    """``"git 2.39.5"``: the tool as recorded on each snapshot."""
    try:
        rc, out, _ = _run(["--version"], cwd=None, timeout_s=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AcquisitionError(f"git is not available: {exc}", transient=False) from exc
    words = out.decode("ascii", errors="replace").split()
    return f"git {words[2]}" if rc == 0 and len(words) >= 3 else "git (unknown version)"


def _last_lines(err: str, n: int = 3) -> str:
    lines = [line.strip() for line in redact_text(err).splitlines() if line.strip()]
    return " | ".join(lines[-n:])[:1000] or "no message"


_GONE = (
    re.compile(r"returned error: (404|410)"),
    re.compile(r"repository '.*' not found", re.I),
    re.compile(r"repository not found", re.I),
    re.compile(r"does not appear to be a git repository"),
    re.compile(r"repository '.*' does not exist"),
    re.compile(r"project you were looking for could not be found", re.I),
)
_AUTH = (
    re.compile(r"could not read (Username|Password)"),
    re.compile(r"Authentication failed"),
    re.compile(r"Permission denied"),
    re.compile(r"returned error: (401|403)"),
    re.compile(r"Host key verification failed"),
)
_TRANSIENT = (
    re.compile(r"returned error: (5[0-9][0-9]|408|429)"),
    re.compile(r"Could not resolve host"),
    re.compile(r"Temporary failure in name resolution"),
    re.compile(r"Failed to connect"),
    re.compile(r"Connection (refused|reset|timed out|closed)", re.I),
    re.compile(r"timed out", re.I),
    re.compile(r"Operation too slow"),
    re.compile(r"early EOF"),
    re.compile(r"unexpected disconnect"),
    re.compile(r"RPC failed"),
    re.compile(r"remote end hung up", re.I),
    re.compile(r"Could not read from remote repository"),
    re.compile(r"SSL_ERROR|TLS|GnuTLS", re.I),
)


def _clone_error(err: str, source: _Source, at: datetime) -> AcquisitionError:
    """Map a failed clone's stderr to the error the task acts on."""
    shown = _last_lines(err)
    for pattern in _GONE:
        match = pattern.search(err)
        if not match:
            continue
        if source.scheme in ("http", "https"):
            code = match.group(1) if match.re.groups else "404"
            return SourceGone(
                f"repository returned {code} at {utc_timestamp(at)} ({shown})", observed_at=at
            )
        return SourceGone(
            f"git: repository not found at {utc_timestamp(at)} ({shown})", observed_at=at
        )
    for pattern in _AUTH:
        if pattern.search(err):
            return AcquisitionError(
                f"git: the repository asks for credentials, or does not exist for us ({shown})",
                transient=False,
            )
    for pattern in _TRANSIENT:
        if pattern.search(err):
            return AcquisitionError(
                f"git: clone failed, may succeed later ({shown})", transient=True
            )
    return AcquisitionError(f"git: clone failed ({shown})", transient=False)


# --- The snapshot --------------------------------------------------------------------------------


def snapshot_git(
    source: str,
    workdir: Path,
    *,
    timeout_s: float = 1800,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> GitSnapshot:
    """Clone ``source`` (URL or local path) whole and record it; see the module docstring.

    Leaves ``workdir/repository.bundle`` (the evidence file) and nothing else in ``workdir``.
    Raises ``RefusedSource`` for a source in a form never fetched, ``SourceGone`` when the
    repository is not there (with the time), ``AcquisitionError`` otherwise (``transient`` for
    network failures and timeouts; an empty repository is permanent).
    """
    parsed = _parse_source(source)
    report = progress or (lambda _message: None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tool = git_version()
    mirror = Path(tempfile.mkdtemp(prefix="mirror-", dir=workdir))
    try:
        report(5)  # cloning
        _clone(parsed, mirror, timeout_s=timeout_s, clock=clock)
        fetched_at = clock()
        report(60)  # reading refs
        refs, tag_objects = _refs(mirror, timeout_s)
        if not refs:
            raise AcquisitionError(
                f"git: the repository is empty (no refs) at {utc_timestamp(fetched_at)}",
                transient=False,
            )
        head = _head(mirror, timeout_s)
        report(70)  # bundling
        bundle = _bundle(mirror, workdir, timeout_s)
        report(85)  # reading the history
        commits = _history(mirror, timeout_s)
    finally:
        shutil.rmtree(mirror, ignore_errors=True)
    size, digest = sha256_file(bundle)
    report(100)
    return GitSnapshot(
        source=redact_url(source),
        bundle_path=bundle,
        bundle_size=size,
        bundle_sha256=digest,
        refs=refs,
        tag_objects=tag_objects,
        head=head,
        head_commit=refs.get(head) if head else None,
        commits=commits,
        tool=tool,
        fetched_at=fetched_at,
        parameters={"clone": "mirror", "transport": parsed.scheme, "timeout_s": timeout_s},
    )


def _clone(source: _Source, mirror: Path, *, timeout_s: float, clock: Clock) -> None:
    config = ["-c", "protocol.allow=never", "-c", f"protocol.{source.scheme}.allow=always"]
    if source.scheme in ("http", "https"):
        config += ["-c", "protocol.http.allow=always", "-c", "protocol.https.allow=always"]
        config += ["-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60"]
    if source.scheme == "ssh":
        config += ["-c", "core.sshCommand=ssh -o BatchMode=yes -o ConnectTimeout=30"]
    args = [*config, "clone", "--mirror", "--quiet"]
    if source.local:
        args.append("--no-local")  # copy objects through the transport: no hard links, no
        # symlinked object directories taken over from the source
    args += ["--", source.url, str(mirror)]
    try:
        rc, _, err = _run(args, cwd=None, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise AcquisitionError(
            f"git: clone timed out after {timeout_s:g} s at {utc_timestamp(clock())}",
            transient=True,
        ) from None
    if rc != 0:
        raise _clone_error(err, source, clock())


def _refs(mirror: Path, timeout_s: float) -> tuple[dict[str, str], dict[str, str]]:
    out = _check(
        [
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(*objectname) %(refname)",
        ],
        cwd=mirror,
        timeout_s=timeout_s,
        what="listing refs",
    )
    refs: dict[str, str] = {}
    tags: dict[str, str] = {}
    for line in out.decode("utf-8", errors="backslashreplace").splitlines():
        obj, kind, peeled, name = line.split(" ", 3)
        if kind == "tag":
            tags[name] = obj
            refs[name] = peeled or obj
        else:
            refs[name] = obj
    return refs, tags


def _head(mirror: Path, timeout_s: float) -> str | None:
    try:
        rc, out, _ = _run(["symbolic-ref", "-q", "HEAD"], cwd=mirror, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:  # pragma: no cover - a local read
        return None
    if rc != 0:
        return None  # a detached HEAD
    return out.decode("utf-8", errors="backslashreplace").strip() or None


def _bundle(mirror: Path, workdir: Path, timeout_s: float) -> Path:
    final = workdir / "repository.bundle"
    part = workdir / ".repository.bundle.part"
    part.unlink(missing_ok=True)
    try:
        _check(
            ["bundle", "create", "--quiet", str(part), "--all"],
            cwd=mirror,
            timeout_s=timeout_s,
            what="bundle create",
        )
        _check(
            ["bundle", "verify", "--quiet", str(part)],
            cwd=mirror,
            timeout_s=timeout_s,
            what="bundle verify",
        )
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    return final


# --- History -------------------------------------------------------------------------------------


def _history(mirror: Path, timeout_s: float) -> tuple[CommitInfo, ...]:
    with tempfile.TemporaryDirectory(prefix="history-", dir=mirror) as tmp:
        shas_path = Path(tmp) / "shas"
        changes_path = Path(tmp) / "changes"
        with open(shas_path, "wb") as shas:
            _check(
                ["rev-list", "--all", "--date-order"],
                cwd=mirror,
                timeout_s=timeout_s,
                what="rev-list",
                stdout=shas,
            )
        with open(shas_path, "rb") as shas, open(changes_path, "wb") as changes:
            _check(
                [
                    "diff-tree",
                    "--stdin",
                    "-r",
                    "--root",
                    "-z",
                    "--name-status",
                    "--no-renames",
                    "--diff-merges=first-parent",
                ],
                cwd=mirror,
                timeout_s=timeout_s,
                what="diff-tree",
                stdin=shas,
                stdout=changes,
            )
        files = _parse_changes(changes_path)
        with open(shas_path, "rb") as shas:
            order = [line.strip().decode("ascii") for line in shas if line.strip()]
        raw = _cat_commits(mirror, shas_path, timeout_s)
    return tuple(_parse_commit(sha, raw[sha], files.get(sha, ())) for sha in order)


def _cat_commits(mirror: Path, shas_path: Path, timeout_s: float) -> dict[str, bytes]:
    with open(shas_path, "rb") as shas, tempfile.TemporaryFile() as out:
        _check(
            ["cat-file", "--batch"],
            cwd=mirror,
            timeout_s=timeout_s,
            what="cat-file",
            stdin=shas,
            stdout=out,
        )
        out.seek(0)
        objects: dict[str, bytes] = {}
        while header := out.readline():
            fields = header.split()
            if len(fields) != 3 or fields[1] != b"commit":
                raise AcquisitionError(
                    f"git: unexpected object in history: {header[:120]!r}", transient=False
                )
            size = int(fields[2])
            body = out.read(size)
            out.read(1)  # the newline after each object
            objects[fields[0].decode("ascii")] = body
    return objects


def _tokens(path: Path) -> Iterator[bytes]:
    """NUL-separated tokens of a file, read in chunks."""
    rest = b""
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            parts = (rest + chunk).split(b"\x00")
            rest = parts.pop()
            yield from parts
    if rest:
        yield rest


def _parse_changes(path: Path) -> dict[str, tuple[FileChange, ...]]:
    """Parse ``diff-tree --stdin -z --name-status``: a commit id, then status/path pairs. A status
    never looks like an id and a path only ever follows a status, so names cannot forge ids."""
    changes: dict[str, list[FileChange]] = {}
    current: list[FileChange] | None = None
    tokens = _tokens(path)
    for token in tokens:
        if _HEX_ID.match(token):
            current = changes.setdefault(token.decode("ascii"), [])
            continue
        if current is None or not _STATUS.match(token):
            raise AcquisitionError(
                f"git: unreadable diff-tree output near {token[:80]!r}", transient=False
            )
        status = token.decode("ascii")[0]
        paths = [next(tokens, b"")]
        if status in "RC":  # only with rename detection, which is off; kept for safety
            paths.append(next(tokens, b""))
        current.append(FileChange(status=status, path=" -> ".join(_text(p) for p in paths)))
    return {sha: tuple(items) for sha, items in changes.items()}


def _text(raw: bytes) -> str:
    """Bytes from a repository as JSON-safe text: UTF-8, other bytes as ``\\xNN``, NUL too."""
    return raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def _ident(raw: bytes) -> tuple[str, str, str | None]:
    match = _IDENT.match(raw)
    if not match:
        return _text(raw), "", None
    name, email, seconds, offset = match.groups()
    return _text(name), _text(email), _when(int(seconds), offset.decode("ascii"))


def _when(seconds: int, offset: str) -> str | None:
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    try:
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    except ValueError:  # an offset of 24 hours or more: only a hand-made commit has one
        zone = UTC
    try:
        return datetime.fromtimestamp(seconds, tz=zone).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _parse_commit(sha: str, raw: bytes, files: Sequence[FileChange]) -> CommitInfo:
    head, _, message = raw.partition(b"\n\n")
    parents: list[str] = []
    author: tuple[str, str, str | None] | None = None
    committer: tuple[str, str, str | None] | None = None
    encoding = "utf-8"
    signed = False
    for line in head.split(b"\n"):
        if line.startswith(b" "):
            continue  # the continuation of a multi-line header (a signature)
        key, _, value = line.partition(b" ")
        if key == b"parent":
            parents.append(value.decode("ascii", errors="replace"))
        elif key == b"author" and author is None:
            author = _ident(value)
        elif key == b"committer" and committer is None:
            committer = _ident(value)
        elif key == b"encoding":
            encoding = value.decode("ascii", errors="replace").strip() or "utf-8"
        elif key in (b"gpgsig", b"gpgsig-sha256"):
            signed = True
    author = author or ("", "", None)
    committer = committer or ("", "", None)
    try:
        text = message.decode(encoding).replace("\x00", "\\x00")
    except (LookupError, UnicodeDecodeError):
        text = _text(message)
    return CommitInfo(
        sha=sha,
        parents=tuple(parents),
        author_name=author[0],
        author_email=author[1],
        authored_at=author[2],
        committer_name=committer[0],
        committer_email=committer[1],
        committed_at=committer[2],
        message=text,
        files=tuple(files),
        signed=signed,
    )
