"""Secret canaries: a secret config value and a secret stack output never reach stdout, JSON, the PR
comment, the step summary, the logs or any file the engine writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from automation.cli.main import main
from tests.support.fake_github import FakeGitHub, serve
from tests.support.gitrepo import commit, git, project_repo
from tests.support.paths import EVENTS, ROOT

CONFIG_CANARY = "CANARY-config-7f3a9c1e"
OUTPUT_CANARY = "CANARY-output-5b2d8e4f"
TOKEN_CANARY = "ghs_CANARYtoken9876543210"


def _project(tmp_path: Path) -> tuple[Path, str]:
    repo = project_repo(tmp_path / "repo", ROOT)
    doc = yaml.safe_load((repo / "Pulumi.dev.yaml").read_text())
    doc["config"].update({"ghost-gitops:smtpHost": "smtp.example.com", "ghost-gitops:smtpUser": "mailer",
                          "ghost-gitops:mailFrom": "blog@example.com", "ghost-gitops:smtpPassword": {"secure": f"v1:{CONFIG_CANARY}"}})
    main_py = (repo / "__main__.py").read_text() + f'\npulumi.export("canary", pulumi.Output.secret("{OUTPUT_CANARY}"))\n'
    sha = commit(repo, {"Pulumi.dev.yaml": yaml.safe_dump(doc), "__main__.py": main_py}, "canaries")
    return repo, sha


def _event(tmp_path: Path, name: str, sha: str) -> Path:
    payload = json.loads((EVENTS / f"{name}.json").read_text())
    if name == "push":
        payload["after"] = sha
    else:
        payload["pull_request"]["head"]["sha"] = sha
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    return path


def _everything_written(*roots: Path) -> str:
    texts = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and ".git" not in path.parts and path.suffix not in {".py", ".pyc"}:
                texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_no_secret_reaches_any_output(tmp_path: Path) -> None:
    repo, sha = _project(tmp_path)
    summary = tmp_path / "summary.md"
    state = tmp_path / "state"
    seen: list[str] = []
    with serve(FakeGitHub()) as fake:
        environ = {"GITHUB_TOKEN": TOKEN_CANARY, "GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": "acme/blog",
                   "GITHUB_STEP_SUMMARY": str(summary)}
        for event, extra in (("pull_request_opened", ["--json"]), ("pull_request_opened", []), ("push", ["--json"])):
            out, err = io.StringIO(), io.StringIO()
            code = main(["--project-dir", str(repo), "run", "--event-name", event.split("_opened")[0],
                         "--event-path", str(_event(tmp_path, event, sha)), "--engine", "memory",
                         "--state-dir", str(state), "--lock-dir", str(tmp_path / "locks"), *extra],
                        environ=environ, out=out, err=err)
            assert code == 0, err.getvalue()
            seen += [out.getvalue(), err.getvalue()]
        history = io.StringIO()
        assert main(["--project-dir", str(repo), "history", "--stack", "dev", "--engine", "memory", "--state-dir", str(state),
                     "--json"], environ=environ, out=history, err=io.StringIO()) == 0
        seen.append(history.getvalue())
        comments = [c["body"] for c in fake.comments.values()]
        requests = [body for _, _, _, body in fake.requests]
    assert len(comments) == 1, "one comment for the PR and stack, edited in place"
    assert "Pulumi preview: `dev`" in comments[0]
    assert summary.read_text().count("ghost-gitops:report stack=dev") == 3
    report = json.loads(seen[4])["reports"][0]
    assert report["outputs"]["canary"] == "[secret]", "the secret output is there, masked"
    everything = "\n".join([*seen, *comments, *requests, summary.read_text(), _everything_written(state, tmp_path / "locks")])
    for canary in (CONFIG_CANARY, OUTPUT_CANARY, TOKEN_CANARY):
        assert canary not in everything, canary
    git(repo, "status", "--porcelain")  # the run left the repository intact
    assert git(repo, "status", "--porcelain") == ""
