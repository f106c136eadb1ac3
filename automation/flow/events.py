"""CI events in, one neutral ``Request`` out. Pure: a payload dict (or flags) -> frozen dataclass.

Reads the GitHub Actions events the engine acts on (push, pull_request, delete, schedule,
workflow_dispatch); anything else becomes a request of kind ``unsupported`` that plans to nothing.
Payload text (branch names, titles) is data only: it is validated, never passed to a shell.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.model.errors import ConfigError
from automation.model.request import DISPATCH_OPERATIONS, PUSH_PAYLOAD_COMMIT_LIMIT, SHA, PullRequest, Request


def _get(payload: Mapping[str, Any], dotted: str, kind: type | tuple[type, ...], event: str, required: bool = True) -> Any:
    value: Any = payload
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            if required:
                raise ConfigError(f"malformed {event} payload: missing field `{dotted}`")
            return None
        value = value[part]
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"malformed {event} payload: field `{dotted}` should be {name}, got {type(value).__name__}")
    return value


def _sha(value: str | None, what: str, event: str) -> str | None:
    if value is None:
        return None
    if not SHA.match(value):
        raise ConfigError(f"malformed {event} payload: `{what}` is not a 40-character commit SHA")
    return value


def _branch_of_ref(ref: str, event: str) -> str | None:
    """``refs/heads/x`` -> ``x``; tags and other refs -> None."""
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):]
    if ref.startswith("refs/"):
        return None
    raise ConfigError(f"malformed {event} payload: ref {ref!r} is not a full ref (refs/heads/...)")


def _push_changed_files(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The payload's own file lists, when they are complete (GitHub lists at most 20 commits)."""
    commits = payload.get("commits")
    if not isinstance(commits, list) or not commits:
        return None
    size = payload.get("size")
    if len(commits) >= PUSH_PAYLOAD_COMMIT_LIMIT or (isinstance(size, int) and size > len(commits)):
        return None
    files: set[str] = set()
    for commit in commits:
        if not isinstance(commit, Mapping):
            raise ConfigError("malformed push payload: `commits` must be a list of objects")
        if not any(key in commit for key in ("added", "removed", "modified")):
            # GitHub Actions' push payload (GITHUB_EVENT_PATH) has no file lists, unlike the webhook
            # examples: the payload cannot tell, so the files come from git (before..after).
            return None
        for key in ("added", "removed", "modified"):
            listed = commit.get(key, [])
            if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
                raise ConfigError(f"malformed push payload: `commits[].{key}` must be a list of paths")
            files.update(listed)
    return tuple(sorted(files))


def _pull_request(payload: Mapping[str, Any]) -> PullRequest:
    ev = "pull_request"
    pr = _get(payload, "pull_request", Mapping, ev)
    head_repo = _get(pr, "head.repo.full_name", str, ev, required=False)
    base_repo = _get(pr, "base.repo.full_name", str, ev, required=False)
    fork_flag = _get(pr, "head.repo.fork", bool, ev, required=False)
    # A deleted fork shows up as head.repo = null: treat it as a fork (no credentials for it).
    from_fork = bool(fork_flag) or head_repo is None or (base_repo is not None and head_repo != base_repo)
    return PullRequest(
        number=_get(pr, "number", int, ev),
        title=_get(pr, "title", str, ev),
        author=_get(pr, "user.login", str, ev),
        base=_get(pr, "base.ref", str, ev),
        head=_get(pr, "head.ref", str, ev),
        head_sha=_sha(_get(pr, "head.sha", str, ev), "pull_request.head.sha", ev) or "",
        base_sha=_sha(_get(pr, "base.sha", str, ev, required=False), "pull_request.base.sha", ev),
        draft=bool(_get(pr, "draft", bool, ev, required=False)),
        from_fork=from_fork,
        merged=bool(_get(pr, "merged", bool, ev, required=False)),
    )


def parse_event(name: str, payload: Mapping[str, Any]) -> Request:
    """Turn a GitHub Actions event (name + payload) into a Request. :raises ConfigError: malformed payload."""
    if not isinstance(payload, Mapping):
        raise ConfigError(f"malformed {name} payload: the event file must hold a JSON object")
    repo = _get(payload, "repository.full_name", str, name, required=False)
    actor = _get(payload, "sender.login", str, name, required=False)
    if name == "push":
        ref = _get(payload, "ref", str, name)
        branch = _branch_of_ref(ref, name)
        after = _sha(_get(payload, "after", str, name), "after", name)
        deleted = bool(payload.get("deleted"))
        return Request(event="push", action="deleted" if deleted else None, branch=branch, sha=after,
                       forced=bool(payload.get("forced")),
                       before=_sha(_get(payload, "before", str, name, required=False), "before", name),
                       payload_changed_files=_push_changed_files(payload), repository=repo,
                       actor=_get(payload, "pusher.name", str, name, required=False) or actor,
                       head_commit_message=_get(payload, "head_commit.message", str, name, required=False))
    if name == "pull_request":
        action = _get(payload, "action", str, name)
        pr = _pull_request(payload)
        return Request(event="pull_request", action=action, branch=pr.base, sha=pr.head_sha, pull_request=pr,
                       repository=repo, actor=actor)
    if name == "delete":
        ref_type = _get(payload, "ref_type", str, name)
        ref = _get(payload, "ref", str, name)
        return Request(event="delete", action=ref_type, branch=ref if ref_type == "branch" else None,
                       repository=repo, actor=actor)
    if name == "schedule":
        return Request(event="schedule", action=_get(payload, "schedule", str, name, required=False),
                       repository=repo, actor=actor)
    if name == "workflow_dispatch":
        inputs = _get(payload, "inputs", Mapping, name, required=False) or {}
        ref = _get(payload, "ref", str, name)
        operation = inputs.get("operation", "up")
        if operation not in DISPATCH_OPERATIONS:
            raise ConfigError(f"workflow_dispatch input `operation` must be one of {', '.join(sorted(DISPATCH_OPERATIONS))}, "
                              f"got {operation!r}")
        stack = inputs.get("stack") or None
        sha = inputs.get("sha") or None
        if sha is not None and not SHA.match(str(sha)):
            raise ConfigError("workflow_dispatch input `sha` must be a full 40-character commit SHA (to roll back to)")
        return Request(event="workflow_dispatch", action=operation, branch=_branch_of_ref(ref, name),
                       sha=sha, dispatch_stack=stack, dispatch_operation=operation, rollback=sha is not None,
                       repository=repo, actor=actor)
    return Request(event="unsupported", action=name, repository=repo, actor=actor)


def load_event(name: str, path: Path) -> Request:
    """Read a GitHub event payload file. :raises ConfigError: unreadable or not JSON."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"event payload {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"event payload {path} is a directory, not a JSON file") from None
    except OSError as exc:
        raise ConfigError(f"event payload {path} cannot be read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"event payload {path} is not valid JSON: {exc}") from None
    return parse_event(name, payload)


def from_environ(environ: Mapping[str, str], event_name: str | None = None, event_path: str | None = None) -> Request:
    """The current GitHub Actions event (``GITHUB_EVENT_NAME``/``GITHUB_EVENT_PATH``, or explicit overrides)."""
    name = event_name or environ.get("GITHUB_EVENT_NAME")
    path = event_path or environ.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise ConfigError("no CI event: pass --event-name and --event-path, set GITHUB_EVENT_NAME/GITHUB_EVENT_PATH, "
                          "or describe it with --branch/--sha (and --base for a pull request)")
    return load_event(name, Path(path))


def from_flags(branch: str, sha: str | None, base: str | None, pr_number: int | None = None, title: str | None = None,
               author: str | None = None, changed_files: tuple[str, ...] | None = None, deleted: bool = False,
               before: str | None = None) -> Request:
    """A request for any other CI: ``--branch`` (+ ``--base`` for a pull request, ``--deleted`` for a deletion,
    ``--before`` for the commit before a push, so the changed files come from git)."""
    if sha is not None and not SHA.match(sha):
        raise ConfigError("--sha must be a full 40-character commit SHA")
    if before is not None and not SHA.match(before):
        raise ConfigError("--before must be a full 40-character commit SHA")
    if before is not None and sha is None:
        raise ConfigError("--before needs --sha (the commit after the push)")
    if deleted:
        return Request(event="delete", action="branch", branch=branch)
    if base is not None:
        pr = PullRequest(number=pr_number or 0, title=title or "", author=author or "", base=base, head=branch,
                         head_sha=sha or "", base_sha=None, draft=False, from_fork=False, merged=False)
        return Request(event="pull_request", action="synchronize", branch=base, sha=sha, pull_request=pr)
    return Request(event="manual", branch=branch, sha=sha, before=before, payload_changed_files=changed_files, actor=author)
