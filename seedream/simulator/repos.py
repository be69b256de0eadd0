"""In-memory Oxen repositories: just enough of the repo server for reference uploads."""

from __future__ import annotations

import datetime
import threading
import uuid
from dataclasses import dataclass, field


class RepoError(Exception):
    """A repository operation failed; ``str(exc)`` is the detail shown to the client."""


class RepoNotFoundError(RepoError):
    """The repository, branch, commit or path does not exist."""


@dataclass(frozen=True)
class Commit:
    """An immutable snapshot of a repository's files."""

    id: str
    parent_ids: list[str]
    message: str
    author: str
    email: str
    timestamp: str
    files: dict[str, bytes]

    def describe(self) -> dict[str, object]:
        """The ``commit`` object of a CommitResponse (contract 9)."""
        return {
            "id": self.id,
            "parent_ids": list(self.parent_ids),
            "message": self.message,
            "author": self.author,
            "email": self.email,
            "timestamp": self.timestamp,
        }


@dataclass
class Repo:
    """One repository with its branches and every commit ever made."""

    namespace: str
    name: str
    description: str
    is_public: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        """The ``repository`` object returned on creation."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "description": self.description,
            "is_public": self.is_public,
        }


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RepoStore:
    """Every repository, keyed by (namespace, name). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repos: dict[tuple[str, str], Repo] = {}

    def create(
        self,
        namespace: str,
        name: str,
        *,
        description: str = "",
        is_public: bool = True,
        author: str = "Oxen Simulator",
        email: str = "simulator@localhost",
    ) -> Repo | None:
        """Create a repository with a ``main`` branch; None if it already exists."""
        with self._lock:
            if (namespace, name) in self._repos:
                return None
            repo = Repo(namespace, name, description, is_public)
            initial = Commit(uuid.uuid4().hex, [], "Initial commit", author, email, _now(), {})
            repo.commits[initial.id] = initial
            repo.branches["main"] = initial.id
            self._repos[(namespace, name)] = repo
            return repo

    def get(self, namespace: str, name: str) -> Repo | None:
        """The repository, if it exists."""
        with self._lock:
            return self._repos.get((namespace, name))

    def commit(
        self,
        namespace: str,
        name: str,
        branch: str,
        files: dict[str, bytes],
        *,
        message: str,
        author: str,
        email: str,
    ) -> Commit:
        """Add or replace ``files`` on ``branch`` in one new commit."""
        with self._lock:
            repo = self._repos.get((namespace, name))
            if repo is None:
                raise RepoNotFoundError(f"Repository {namespace}/{name} not found")
            head_id = repo.branches.get(branch)
            if head_id is None:
                raise RepoNotFoundError(f"Branch {branch} not found in {namespace}/{name}")
            snapshot = {**repo.commits[head_id].files, **files}
            commit = Commit(uuid.uuid4().hex, [head_id], message, author, email, _now(), snapshot)
            repo.commits[commit.id] = commit
            repo.branches[branch] = commit.id
            return commit

    def read(self, namespace: str, name: str, revision: str, path: str) -> tuple[Repo, bytes]:
        """A file at a branch or commit id, with its repository (for the visibility check)."""
        with self._lock:
            repo = self._repos.get((namespace, name))
            if repo is None:
                raise RepoNotFoundError(f"Repository {namespace}/{name} not found")
            commit_id = repo.branches.get(revision, revision)
            commit = repo.commits.get(commit_id)
            if commit is None:
                raise RepoNotFoundError(f"Revision {revision} not found in {namespace}/{name}")
            data = commit.files.get(path)
            if data is None:
                raise RepoNotFoundError(f"File {path} not found at {revision}")
            return repo, data

    def clear(self) -> None:
        """Delete every repository."""
        with self._lock:
            self._repos.clear()
