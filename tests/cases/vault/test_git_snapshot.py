"""Git snapshots of repositories made here: refs, bundle, history, and refusals.

Repositories are built with fixed author and committer dates so that every recorded fact can be
asserted exactly; they are reached by plain path, by file:// URL, and (for the HTTP failure
mapping) through a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cases.vault.errors import AcquisitionError, RefusedSource, SourceGone
from cases.vault.snapshots.git import GitSnapshot, snapshot_git

ALICE = ("Alice Analyst", "alice@example.org")
BOB = ("Bob Builder", "bob@example.net")
FIXED = datetime(2026, 11, 24, 22, 10, 3, tzinfo=UTC)
HEX40 = "0123456789abcdef0123456789abcdef01234567"


def git(cwd: Path, *args: str, who: tuple[str, str] = ALICE, date: str = "") -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
    }
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    done = subprocess.run(
        ["git", "-c", f"user.name={who[0]}", "-c", f"user.email={who[1]}", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    return done.stdout.decode().strip()


def for_each_ref(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)")
    refs = {}
    for line in out.splitlines():
        name, obj, *peeled = line.split(" ")
        refs[name] = peeled[0] if peeled and peeled[0] else obj
    return refs


@dataclass
class Repo:
    path: Path
    root: str
    feature: str
    main2: str
    merge: str


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """main: root -> main2 -> merge(feature); feature: root -> feature; tags v1 (light), v2."""
    path = tmp_path / "source"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# project\n")
    (path / "src").mkdir()
    (path / "src" / "a.py").write_text("print('a')\n")
    git(path, "add", ".")
    git(
        path,
        "commit",
        "-q",
        "-m",
        "Initial commit\n\nWith a body.",
        date="2024-03-01T10:00:00+01:00",
    )
    root = git(path, "rev-parse", "HEAD")

    git(path, "checkout", "-q", "-b", "feature")
    (path / "src" / "a.py").write_text("print('a, changed')\n")
    (path / "we ird\nname.txt").write_text("odd name\n")
    (path / HEX40).write_text("a file named like a commit id\n")
    git(path, "rm", "-q", "README.md")
    git(path, "add", ".")
    git(
        path,
        "commit",
        "-q",
        "-m",
        "Feature work\n\n" + HEX40 + "\nM\nsrc/forged.py",
        who=BOB,
        date="2024-03-02T08:30:00-05:00",
    )
    feature = git(path, "rev-parse", "HEAD")
    git(path, "tag", "-a", "v2", "-m", "annotated", date="2024-03-02T09:00:00-05:00")

    git(path, "checkout", "-q", "main")
    (path / "main.txt").write_text("main\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "Main work", date="2024-03-03T12:00:00+00:00")
    main2 = git(path, "rev-parse", "HEAD")
    git(path, "tag", "v1")
    git(
        path,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge feature",
        "feature",
        date="2024-03-04T12:00:00+09:00",
    )
    merge = git(path, "rev-parse", "HEAD")
    return Repo(path=path, root=root, feature=feature, main2=main2, merge=merge)


def by_sha(snapshot: GitSnapshot) -> dict[str, dict[str, object]]:
    return {c.sha: c.to_dict() for c in snapshot.commits}


def test_plain_path_snapshot_records_refs_head_and_bundle(repo: Repo, tmp_path: Path) -> None:
    stages: list[int] = []
    snap = snapshot_git(
        str(repo.path), tmp_path / "work", progress=stages.append, clock=lambda: FIXED
    )
    assert snap.refs == for_each_ref(repo.path)
    assert snap.refs["refs/heads/main"] == repo.merge
    assert snap.refs["refs/heads/feature"] == repo.feature
    assert snap.refs["refs/tags/v1"] == repo.main2
    assert snap.refs["refs/tags/v2"] == repo.feature  # annotated: peeled to its commit
    assert set(snap.tag_objects) == {"refs/tags/v2"}
    assert (snap.head, snap.head_commit) == ("refs/heads/main", repo.merge)
    assert snap.fetched_at == FIXED
    assert snap.tool.startswith("git 2.")
    assert stages == sorted(stages) and stages[-1] == 100
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["repository.bundle"]
    assert snap.bundle_size == snap.bundle_path.stat().st_size > 0
    json.dumps(snap.to_dict())


def test_the_bundle_verifies_and_clones_back_to_the_same_refs(repo: Repo, tmp_path: Path) -> None:
    snap = snapshot_git(str(repo.path), tmp_path / "work")
    verify = tmp_path / "verify"
    verify.mkdir()
    git(verify, "init", "-q")
    git(verify, "bundle", "verify", str(snap.bundle_path))
    git(tmp_path, "clone", "-q", "--mirror", str(snap.bundle_path), "restored.git")
    assert for_each_ref(tmp_path / "restored.git") == snap.refs


def test_history_records_authors_dates_messages_and_files(repo: Repo, tmp_path: Path) -> None:
    snap = snapshot_git(str(repo.path), tmp_path / "work")
    commits = by_sha(snap)
    assert set(commits) == {repo.root, repo.feature, repo.main2, repo.merge}

    root = commits[repo.root]
    assert root["parents"] == []
    assert (root["author_name"], root["author_email"]) == ALICE
    assert root["authored_at"] == root["committed_at"] == "2024-03-01T10:00:00+01:00"
    assert root["message"] == "Initial commit\n\nWith a body.\n"
    assert root["files"] == [["A", "README.md"], ["A", "src/a.py"]]

    feature = commits[repo.feature]
    assert (feature["author_name"], feature["committer_email"]) == (BOB[0], BOB[1])
    assert feature["authored_at"] == "2024-03-02T08:30:00-05:00"
    assert feature["parents"] == [repo.root]
    # A message and a file name that look like diff-tree output forge nothing.
    assert feature["files"] == [
        ["A", HEX40],
        ["D", "README.md"],
        ["M", "src/a.py"],
        ["A", "we ird\nname.txt"],
    ]
    assert HEX40 not in commits

    merge = commits[repo.merge]
    assert merge["parents"] == [repo.main2, repo.feature]
    assert merge["committed_at"] == "2024-03-04T12:00:00+09:00"
    # Against its first parent: what the merge brought into main.
    assert {tuple(f) for f in merge["files"]} == {  # type: ignore[attr-defined]
        ("A", HEX40),
        ("D", "README.md"),
        ("M", "src/a.py"),
        ("A", "we ird\nname.txt"),
    }


def test_file_url_gives_the_same_snapshot(repo: Repo, tmp_path: Path) -> None:
    by_path = snapshot_git(str(repo.path), tmp_path / "a")
    by_url = snapshot_git(repo.path.as_uri(), tmp_path / "b")
    assert by_url.refs == by_path.refs
    assert by_url.commits == by_path.commits
    assert by_url.parameters["transport"] == "file"


def test_hand_made_commit_with_hostile_bytes_is_recorded_safely(repo: Repo, tmp_path: Path) -> None:
    tree = git(repo.path, "rev-parse", f"{repo.root}^{{tree}}")
    raw = (
        f"tree {tree}\nparent {repo.root}\n".encode()
        + b"author Mall\xe9ry <m@x> 1700000000 +0530\n"
        + b"committer <not really> an ident\n"
        + b"\nmessage with a NUL \x00 and bad utf-8 \xff\n"
    )
    obj = tmp_path / "commit.raw"
    obj.write_bytes(raw)
    sha = git(repo.path, "hash-object", "--literally", "-t", "commit", "-w", str(obj))
    git(repo.path, "update-ref", "refs/hostile/one", sha)
    snap = snapshot_git(str(repo.path), tmp_path / "work")
    hostile = by_sha(snap)[sha]
    assert hostile["author_name"] == "Mall\\xe9ry"
    assert hostile["authored_at"] == "2023-11-15T03:43:20+05:30"
    assert hostile["committed_at"] is None
    assert hostile["message"] == "message with a NUL \\x00 and bad utf-8 \\xff\n"
    assert snap.refs["refs/hostile/one"] == sha
    json.dumps(snap.to_dict())


def test_a_missing_path_is_source_gone_with_a_time(tmp_path: Path) -> None:
    for source in (str(tmp_path / "nowhere"), (tmp_path / "nowhere").as_uri()):
        with pytest.raises(SourceGone) as caught:
            snapshot_git(source, tmp_path / "work", clock=lambda: FIXED)
        assert "repository not found at 2026-11-24T22:10:03Z" in caught.value.message
        assert caught.value.transient is False


def test_an_empty_repository_is_a_clear_permanent_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(AcquisitionError) as caught:
        snapshot_git(str(empty), tmp_path / "work")
    assert "empty" in caught.value.message
    assert caught.value.transient is False
    assert not (tmp_path / "work" / "repository.bundle").exists()


@pytest.mark.parametrize(
    "source",
    [
        "-oProxyCommand=touch {marker}",
        "--upload-pack=touch {marker}",
        "ext::sh -c touch% {marker}",
        "fd::17",
        "ftp://127.0.0.1/repo.git",
        "ssh://-oProxyCommand=touch%20{marker}/repo",
        "ssh://-oProxyCommand=touch%20{marker}@host/repo",
        "http://[::1/repo.git",
        "file:///tmp/x\n--upload-pack=touch {marker}",
        "",
    ],
)
def test_hostile_sources_are_refused_before_git_runs(tmp_path: Path, source: str) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(RefusedSource) as caught:
        snapshot_git(source.format(marker=marker), tmp_path / "work")
    assert caught.value.transient is False
    assert not marker.exists()
    assert not (tmp_path / "work").exists()


# --- over HTTP -----------------------------------------------------------------------------------


class _Status(BaseHTTPRequestHandler):
    status = 404

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_status() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def test_http_404_is_source_gone_with_the_time(
    http_status: tuple[str, ThreadingHTTPServer], tmp_path: Path
) -> None:
    base, server = http_status
    server.status = 404  # type: ignore[attr-defined]
    url = base.replace("http://", "http://officer:s3cret@") + "/gone.git"
    with pytest.raises(SourceGone) as caught:
        snapshot_git(url, tmp_path / "work", clock=lambda: FIXED)
    assert caught.value.message.startswith("repository returned 404 at 2026-11-24T22:10:03Z")
    assert "s3cret" not in caught.value.message


def test_http_5xx_is_transient(
    http_status: tuple[str, ThreadingHTTPServer], tmp_path: Path
) -> None:
    base, server = http_status
    server.status = 503  # type: ignore[attr-defined]
    with pytest.raises(AcquisitionError) as caught:
        snapshot_git(base + "/busy.git", tmp_path / "work")
    assert caught.value.transient is True
    assert not isinstance(caught.value, SourceGone)


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AcquisitionError) as caught:
        snapshot_git(f"http://127.0.0.1:{port}/x.git", tmp_path / "work")
    assert caught.value.transient is True
