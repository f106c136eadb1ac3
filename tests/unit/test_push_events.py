"""Push events as GitHub Actions delivers them (GITHUB_EVENT_PATH: commits WITHOUT added/removed/modified, per
GitHub's documentation of the push event for workflows), planned in real git repositories, full and shallow."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from automation.cli.main import main
from tests.support.gitrepo import commit, git, project_repo
from tests.support.paths import ROOT
from tests.support.program import shared_stack_deployed


def _payload(repo: Path, branch: str, before: str, after: str, created: bool = False) -> dict[str, Any]:
    head = {"id": after, "tree_id": git(repo, "rev-parse", f"{after}^{{tree}}"), "distinct": True, "message": "change",
            "timestamp": "2026-11-27T10:00:00Z", "author": {"name": "A", "email": "a@example.com", "username": "alice"},
            "committer": {"name": "A", "email": "a@example.com", "username": "alice"}}
    return {"ref": f"refs/heads/{branch}", "before": "0" * 40 if created else before, "after": after, "created": created,
            "deleted": False, "forced": False, "base_ref": None, "compare": "https://github.com/acme/blog/compare/a...b",
            "commits": [head], "head_commit": head, "pusher": {"name": "alice", "email": "a@example.com"},
            "repository": {"full_name": "acme/blog", "name": "blog", "owner": {"login": "acme"}},
            "sender": {"login": "alice", "type": "User"}}


def _plan(checkout: Path, tmp: Path, payload: dict[str, Any]) -> dict[str, Any]:
    event = tmp / f"push-{payload['after'][:7]}.json"
    event.write_text(json.dumps(payload))
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(checkout), "plan", "--event-name", "push", "--event-path", str(event)],
                environ={}, out=out, err=err)
    assert code == 0, err.getvalue()
    return dict(json.loads(out.getvalue()))


def _origin(tmp: Path) -> tuple[Path, str, str, str]:
    origin = project_repo(tmp / "origin", ROOT)
    git(origin, "config", "uploadpack.allowReachableSHA1InWant", "true")
    c0 = git(origin, "rev-parse", "HEAD")
    c1 = commit(origin, {"README.md": "docs only\n"}, "docs")
    c2 = commit(origin, {"infra/network.py": (origin / "infra" / "network.py").read_text() + "\n# tweak\n"}, "network")
    return origin, c0, c1, c2


def test_an_actions_push_takes_its_changed_files_from_git(tmp_path: Path) -> None:
    origin, c0, c1, c2 = _origin(tmp_path)
    docs = _plan(origin, tmp_path, _payload(origin, "main", c0, c1))
    (op,) = docs["operations"]
    assert op["operation"] == "none" and "no infrastructure path changed" in op["reason"]
    assert docs["changed_files_source"] == "git diff (local clone)"
    infra = _plan(origin, tmp_path, _payload(origin, "main", c1, c2))
    (op,) = infra["operations"]
    assert (op["stack"], op["operation"], op["sha"]) == ("dev", "up", c2) and "1 infrastructure file(s)" in op["reason"]


def test_a_shallow_clone_fetches_what_the_diff_needs(tmp_path: Path) -> None:
    origin, _c0, c1, c2 = _origin(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", origin.as_uri(), str(clone))
    assert git(clone, "rev-list", "--count", "HEAD") == "1"
    docs = _plan(clone, tmp_path, _payload(origin, "main", c1, c2))
    (op,) = docs["operations"]
    assert op["operation"] == "up" and docs["changed_files_source"] == "git diff (after fetching the commits)"


def test_a_new_branch_deploys_its_whole_stack(tmp_path: Path) -> None:
    origin, _c0, _c1, c2 = _origin(tmp_path)
    docs = _plan(origin, tmp_path, _payload(origin, "dev/alice", "", c2, created=True))
    (op,) = docs["operations"]
    assert (op["stack"], op["operation"]) == ("dev-alice", "up") and "new branch" in op["reason"]


def test_flags_with_before_take_the_files_from_git_too(tmp_path: Path) -> None:
    origin, c0, c1, _c2 = _origin(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(origin), "plan", "--branch", "main", "--before", c0, "--sha", c1], environ={},
                out=out, err=err)
    assert code == 0, err.getvalue()
    (op,) = json.loads(out.getvalue())["operations"]
    assert op["operation"] == "none" and "no infrastructure path changed" in op["reason"]


def test_a_repository_path_with_a_space(tmp_path: Path) -> None:
    spaced = tmp_path / "my repos"
    spaced.mkdir()
    origin, c0, _c1, c2 = _origin(spaced)
    docs = _plan(origin, tmp_path, _payload(origin, "main", c0, c2))
    assert docs["operations"][0]["operation"] == "up"


def _dispatch(tmp: Path, stack: str, sha: str = "", actor: str = "carol") -> Path:
    """workflow_dispatch as a workflow receives it: `inputs` (strings, empty when not given), `ref`, `sender`."""
    payload = {"inputs": {"stack": stack, "operation": "up", "sha": sha}, "ref": "refs/heads/main",
               "repository": {"full_name": "acme/blog", "name": "blog", "owner": {"login": "acme"}},
               "sender": {"login": actor, "type": "User"}, "workflow": ".github/workflows/deploy.yml"}
    path = tmp / f"dispatch-{stack}-{sha[:7] or 'head'}.json"
    path.write_text(json.dumps(payload))
    return path


def test_a_dispatch_without_sha_deploys_the_ref_head_through_the_usual_checks(tmp_path: Path) -> None:
    origin, _c0, c1, c2 = _origin(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(origin), "plan", "--event-name", "workflow_dispatch", "--event-path",
                 str(_dispatch(tmp_path, "dev"))], environ={"GITHUB_SHA": c2}, out=out, err=err)
    assert code == 0, err.getvalue()
    (op,) = json.loads(out.getvalue())["operations"]
    assert (op["operation"], op["sha"]) == ("up", c2)
    # and the work-tree check applies: this checkout is at c2, so a dispatch naming c1 as the head is refused
    out, err = io.StringIO(), io.StringIO()
    code = main(["--project-dir", str(origin), "run", "--event-name", "workflow_dispatch", "--event-path",
                 str(_dispatch(tmp_path, "dev")), "--engine", "memory", "--state-dir", str(tmp_path / "s"),
                 "--lock-dir", str(tmp_path / "l")], environ={"GITHUB_SHA": c1}, out=out, err=err)
    assert code == 2 and "check out that commit first" in err.getvalue()


def test_dispatch_audits_name_who_started_them(tmp_path: Path) -> None:
    origin, _c0, c1, c2 = _origin(tmp_path)
    (origin / ".gitignore").write_text(".pulumi-state/\n")
    c3 = commit(origin, {}, "ignore state")
    engine = ["--engine", "memory", "--state-dir", str(tmp_path / "s"), "--lock-dir", str(tmp_path / "l"), "--json"]
    shared_stack_deployed(tmp_path / "s")
    out = io.StringIO()
    assert main(["--project-dir", str(origin), "run", "--event-name", "workflow_dispatch", "--event-path",
                 str(_dispatch(tmp_path, "dev")), *engine], environ={"GITHUB_SHA": c3}, out=out, err=io.StringIO()) == 0
    message = json.loads(out.getvalue())["reports"][0]["message"]
    assert message == f"main@{c3[:7]}: up started by hand (workflow_dispatch) by carol, no pull request approval (a manual run)"
    git(origin, "checkout", "-q", c1)
    out = io.StringIO()
    assert main(["--project-dir", str(origin), "run", "--event-name", "workflow_dispatch", "--event-path",
                 str(_dispatch(tmp_path, "dev", sha=c1, actor="dave")), *engine], environ={}, out=out,
                err=io.StringIO()) == 0
    (report,) = json.loads(out.getvalue())["reports"]
    assert report["status"] == "succeeded"
    assert report["message"].startswith(f"rollback to {c1[:7]} by dave: main@{c1[:7]}: up started by hand")
    assert c2  # the newer commit exists; the rollback went to the older one on purpose


def test_a_recreated_or_force_pushed_branch_compares_with_the_deployed_commit(tmp_path: Path) -> None:
    origin, _c0, _c1, c2 = _origin(tmp_path)
    (origin / ".gitignore").write_text(".pulumi-state/\n")
    git(origin, "checkout", "-q", "-b", "dev/alice")
    c3 = commit(origin, {}, "ignore state")
    engine = ["--engine", "memory", "--state-dir", str(tmp_path / "s"), "--lock-dir", str(tmp_path / "l"), "--json"]
    shared_stack_deployed(tmp_path / "s")

    def run(payload: dict[str, Any]) -> dict[str, Any]:
        event = tmp_path / f"run-{payload['after'][:7]}-{payload['forced']}.json"
        event.write_text(json.dumps(payload))
        out, err = io.StringIO(), io.StringIO()
        code = main(["--project-dir", str(origin), "run", "--event-name", "push", "--event-path", str(event), *engine],
                    environ={}, out=out, err=err)
        assert code == 0, err.getvalue()
        return dict(json.loads(out.getvalue())["reports"][0])

    first = run(_payload(origin, "dev/alice", "", c3, created=True))
    assert (first["operation"], first["status"]) == ("up", "succeeded")  # nothing deployed yet: the whole stack
    c4 = commit(origin, {"README.md": "only docs\n"}, "docs")
    again = run(_payload(origin, "dev/alice", "", c4, created=True))  # the branch was deleted and pushed again
    assert again["operation"] == "none" and f"against the deployed commit {c3[:7]}" in again["reason"]
    forced = _payload(origin, "dev/alice", "f" * 40, c4)
    forced["forced"] = True
    assert "against the deployed commit" in run(forced)["reason"]
    c5 = commit(origin, {"infra/network.py": (origin / "infra" / "network.py").read_text() + "# more\n"}, "infra")
    changed = run(_payload(origin, "dev/alice", "", c5, created=True))
    assert changed["operation"] == "up" and changed["status"] == "succeeded"
    assert c2
