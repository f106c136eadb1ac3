"""The team backend for real (issue 30): the engine on the REAL Pulumi CLI with its state in an S3 bucket and its
secrets encrypted by a KMS key, both made by ``bootstrap``. moto's server (moto 5.2.5, on 127.0.0.1) stands in for
AWS -- the only stand-in here; what it does not prove: IAM enforcement of the workflow roles, real KMS latency and
S3's consistency under load (README, "Team backend").

One story in file order (module-scoped), through ``python -m automation`` in subprocesses as the workflows call it,
on the fixture project (tests/data/fixture_project), whose "cloud" is a folder.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from automation.adapters.bootstrap import tls_only_policy
from tests.support import gitrepo
from tests.support.paths import FIXTURE_PROJECT, ROOT
from tests.support.realcli import require_cli

pytestmark = pytest.mark.cli

REGION = "us-east-1"
BUCKET = "acme-fixture-state"
CANARY = "team-backend-canary-7Hq2"  # a secure: config value, encrypted with the KMS key
AWS_SECRET = "moto-Secret-Key-team-4c1"
#: the AWS SDK's noise on every call to moto (its responses carry no checksum header)
SDK_NOISE = "Response has no supported checksum"


@dataclass
class Team:
    moto: str
    repo: Path
    tmp: Path
    cli: Path
    backend_url: str = ""
    secrets_provider: str = ""
    outputs: list[str] = field(default_factory=list)

    def env(self, home: str = "runner-1", **extra: str) -> dict[str, str]:
        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "HOME": str(self.tmp / home), "PULUMI_HOME": str(self.tmp / home / ".pulumi"), "LANG": "C.UTF-8",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "AWS_DEFAULT_REGION": REGION,
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "GHOST_GITOPS_PULUMI_ROOT": str(self.cli.parent.parent),
               "USER": "carol"}
        env.update(extra)
        return env

    def engine(self, *args: str, repo: Path | None = None, home: str = "runner-1", **extra: str
               ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "automation", "--project-dir", str(repo or self.repo), *args],
                              cwd=ROOT, env=self.env(home, **extra), capture_output=True, text=True, timeout=600,
                              check=False)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def backend_args(self, lock_dir: str = "locks-1") -> list[str]:
        return ["--backend-url", self.backend_url, "--secrets-provider", self.secrets_provider,
                "--lock-dir", str(self.tmp / lock_dir)]

    def s3(self) -> Any:
        return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key=AWS_SECRET,
                                     region_name=REGION).client("s3", endpoint_url=self.moto)  # type: ignore[call-overload]

    def objects(self) -> dict[str, bytes]:
        s3 = self.s3()
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}

    def versions(self, key: str) -> list[str]:
        found = self.s3().list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
        return [v["VersionId"] for v in found if v["Key"] == key]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    cli = require_cli()
    tmp = tmp_path_factory.mktemp("team-backend")
    # AWS-managed policies (ReadOnlyAccess, which the preview role gets) exist in moto only when asked for
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    repo = tmp / "repo"
    shutil.copytree(FIXTURE_PROJECT, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("__pycache__/\n.pulumi-state/\nPulumi.dev-*.yaml\n")
    (repo / "Pulumi.dev.yaml").write_text(f"config:\n  fixture:cloudDir: {tmp / 'cloud'}\n  fixture:zones:\n    - zone-a\n")
    try:
        yield Team(moto=f"http://{host}:{port}", repo=repo, tmp=tmp, cli=cli.path)
    finally:
        server.stop()
        os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    (report,) = json.loads(proc.stdout)["reports"]
    return dict(report)


def test_1_bootstrap_gives_the_backend_and_the_key_the_engine_uses(team: Team) -> None:
    args = ["bootstrap", "--region", REGION, "--bucket", BUCKET, "--repo", "acme/fixture", "--endpoint-url", team.moto,
            "--json"]
    first = team.engine(*args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["changed"] is True
    team.backend_url, team.secrets_provider = result["backend_url"], result["secrets_provider"]
    assert team.backend_url == f"s3://{BUCKET}?region={REGION}&awssdk=v2&endpoint={team.moto}&s3ForcePathStyle=true"
    assert team.secrets_provider == f"awskms://alias/ghost-gitops?region={REGION}&awssdk=v2&endpoint={team.moto}"
    again = team.engine(*args)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False, again.stderr
    s3 = team.s3()
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == tls_only_policy(BUCKET)
    assert AWS_SECRET not in first.stdout + first.stderr
    # moto (5.2.5) evaluates a Deny statement of a bucket policy without its Condition: the TLS-only policy's
    # `aws:SecureTransport: false` then refuses every object request, HTTPS included (403), which AWS does not. So the
    # stand-in is made no stricter than AWS by removing the policy (read back above) before the CLI uses the bucket.
    s3.delete_bucket_policy(Bucket=BUCKET)


def test_2_a_secret_set_with_the_kms_key_and_the_stack_created_on_s3(team: Team) -> None:
    """As a platform engineer does once per stack: `pulumi stack init` with the team's secrets provider, then a
    secret; the stack file keeps only the KMS-encrypted data key and the ciphertext."""
    env = team.env()
    env["PATH"] = f"{team.cli.parent}{os.pathsep}{env['PATH']}"
    for args in (["login", team.backend_url], ["stack", "init", "dev", "--secrets-provider", team.secrets_provider],
                 ["config", "set", "--secret", "apiToken", CANARY, "--stack", "dev"]):
        proc = subprocess.run([str(team.cli), *args, "--non-interactive"], cwd=team.repo, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, (args, proc.stderr)
    text = (team.repo / "Pulumi.dev.yaml").read_text()
    assert "secretsprovider: awskms://alias/ghost-gitops" in text and "encryptedkey:" in text and CANARY not in text
    gitrepo.git(team.repo, "init", "-q", "-b", "main")
    gitrepo.git(team.repo, "add", "-A")
    gitrepo.git(team.repo, "commit", "-q", "-m", "fixture on the team backend")


def test_3_up_writes_the_state_to_the_bucket_encrypted_and_audited(team: Team) -> None:
    start = time.monotonic()
    report = _report(team.engine("up", "--stack", "dev", "--skip-health-check", "--json", *team.backend_args()))
    s3_seconds = time.monotonic() - start
    assert report["status"] == "succeeded" and report["outputs"]["token"] == "[secret]"
    objects = team.objects()
    checkpoint = objects[".pulumi/stacks/fixture/dev.json"].decode()
    assert "ciphertext" in checkpoint and CANARY not in checkpoint, "the secret is in the bucket only as ciphertext"
    assert not any(CANARY.encode() in body for body in objects.values())
    history = team.engine("history", "--stack", "dev", "--json", *team.backend_args())
    (update,) = json.loads(history.stdout)["updates"]
    assert update["result"] == "succeeded" and "up started by hand (manual) by carol" in update["message"]
    # the same up on a local file backend, same machine, same run: what the bucket costs
    local = team.tmp / "local-state"
    local.mkdir()
    start = time.monotonic()
    assert _report(team.engine("up", "--stack", "dev", "--skip-health-check", "--json", "--backend-url", local.as_uri(),
                               "--secrets-provider", team.secrets_provider, "--lock-dir", str(team.tmp / "locks-local"))
                   )["status"] == "succeeded"
    file_seconds = time.monotonic() - start
    print(f"\nup of dev: S3 backend on moto {s3_seconds:.1f} s, local file backend {file_seconds:.1f} s")
    gone = team.engine("destroy", "--stack", "dev", "--yes-destroy-environment", "--json", "--backend-url", local.as_uri(),
                       "--secrets-provider", team.secrets_provider, "--lock-dir", str(team.tmp / "locks-local"))
    assert _report(gone)["status"] == "succeeded"  # the comparison's records leave the fixture cloud
    # `destroy` removes the stack and, as `pulumi destroy --remove` does, its stack file from the working copy
    assert not (team.repo / "Pulumi.dev.yaml").exists()
    gitrepo.git(team.repo, "checkout", "--", "Pulumi.dev.yaml")


def test_4_a_preview_writes_nothing_to_the_bucket(team: Team) -> None:
    key = ".pulumi/stacks/fixture/dev.json"
    before, versions = team.objects(), team.versions(key)
    report = _report(team.engine("preview", "--stack", "dev", "--json", *team.backend_args()))
    assert report["status"] == "succeeded"
    after = team.objects()
    assert {k: v for k, v in after.items() if not k.startswith(".pulumi/locks/")} == before
    assert team.versions(key) == versions, "no new version of the checkpoint"


def test_5_two_runners_deploy_one_at_a_time_and_the_later_commit_wins(team: Team) -> None:
    """Two CI jobs: separate working copies, PULUMI_HOMEs and lock directories, the same stack, started together --
    one at commit C1, the other at C2 (a child of C1). The backend's lock in the bucket lets one update run at a
    time; whichever order they run in, the stack ends at C2: an `up` of C1 after C2 is superseded, never applied."""
    second = team.tmp / "repo-2"
    gitrepo.git(team.repo, "checkout", "-q", "-b", "greet")
    config = (team.repo / "Pulumi.dev.yaml").read_text()
    c1 = gitrepo.commit(team.repo, {"Pulumi.dev.yaml": config.replace("config:\n", "config:\n  fixture:greeting: hello-team\n", 1)},
                        "greet the team")
    subprocess.run(["git", "clone", "-q", "-b", "greet", str(team.repo), str(second)], check=True, capture_output=True)
    c2 = gitrepo.commit(second, {"Pulumi.dev.yaml": config.replace("config:\n", "config:\n  fixture:greeting: hello-later\n", 1)},
                        "greet later")
    gitrepo.git(team.repo, "fetch", "-q", str(second), "greet:greet-later")  # as the origin of both jobs would hold it
    runs = []
    for repo, home, locks, sha in ((team.repo, "runner-1", "locks-1", c1), (second, "runner-2", "locks-2", c2)):
        args = [sys.executable, "-m", "automation", "--project-dir", str(repo), "up", "--stack", "dev", "--sha", sha,
                "--skip-health-check", "--json", "--busy-wait", "1", "--busy-attempts", "30", *team.backend_args(locks)]
        runs.append(subprocess.Popen(args, cwd=ROOT, env=team.env(home), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=600), *p.communicate()) for p in runs]
    for code, out, err in results:
        team.outputs += [out, err]
        assert code == 0, err
    statuses = [json.loads(out)["reports"][0]["status"] for _, out, _ in results]
    print(f"\nrunners (C1, C2): {statuses}")
    assert statuses[1] == "succeeded" and statuses[0] in ("succeeded", "superseded"), statuses
    history = json.loads(team.engine("history", "--stack", "dev", "--json", *team.backend_args()).stdout)["updates"]
    updates = [u for u in history if u["kind"] == "update"]
    spans = sorted((u["started"], u["ended"]) for u in updates[: statuses.count("succeeded")])
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), f"two updates overlapped: {spans}"
    assert updates[0]["commit"] == c2, (updates[0], c2)
    contents = [json.loads(p.read_text()).get("content") for p in (team.tmp / "cloud" / "record").glob("*.json")]
    assert "hello-later zone-a" in contents and "hello-team zone-a" not in contents, contents
    gitrepo.git(team.repo, "checkout", "-q", "greet-later")


def test_5b_an_older_commit_waiting_on_the_bucket_s_lock_is_superseded_not_applied(team: Team) -> None:
    """The order that used to lose the newer commit: C2's up holds the backend's lock (a slow update); C1's up (another
    job, an older commit) passes its first check, then waits on the lock; when C2 is done, C1 must not apply."""
    second = team.tmp / "repo-2"
    cloud = (second / "fixture_cloud.py").read_text()
    slow = cloud.replace("    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n",
                         "    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n"
                         "        import time; time.sleep(8)  # noqa: E702\n", 1)
    config = (second / "Pulumi.dev.yaml").read_text()
    c1 = gitrepo.commit(team.repo, {"Pulumi.dev.yaml": config.replace("hello-later", "hello-older")}, "older change")
    gitrepo.git(second, "fetch", "-q", str(team.repo), "greet-later")
    gitrepo.git(second, "merge", "-q", "--ff-only", "FETCH_HEAD")
    c2 = gitrepo.commit(second, {"fixture_cloud.py": slow, "Pulumi.dev.yaml": config.replace("hello-later", "hello-newest")},
                        "newer, slow change")
    gitrepo.git(team.repo, "fetch", "-q", str(second), "greet:greet-newest")
    newer = subprocess.Popen([sys.executable, "-m", "automation", "--project-dir", str(second), "up", "--stack", "dev",
                              "--sha", c2, "--skip-health-check", "--json", "--heartbeat", "1",
                              *team.backend_args("locks-2")], cwd=ROOT, env=team.env("runner-2"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert newer.stderr is not None
    seen, deadline = "", time.monotonic() + 120
    while time.monotonic() < deadline and "still updating" not in seen:
        seen += newer.stderr.readline()
    assert "still updating" in seen, seen
    older = team.engine("up", "--stack", "dev", "--sha", c1, "--skip-health-check", "--json", "--busy-wait", "1",
                        "--busy-attempts", "30", *team.backend_args("locks-1"))
    out, err = newer.communicate(timeout=300)
    team.outputs += [out, err]
    assert newer.returncode == 0 and json.loads(out)["reports"][0]["status"] == "succeeded", err
    assert older.returncode == 0, older.stderr
    (report,) = json.loads(older.stdout)["reports"]
    assert report["status"] == "superseded" and "a newer commit" in report["reason"], report
    assert "locked by another update in the state backend; retry" in older.stderr, older.stderr
    contents = [json.loads(p.read_text()).get("content") for p in (team.tmp / "cloud" / "record").glob("*.json")]
    assert "hello-newest zone-a" in contents and "hello-older zone-a" not in contents, contents
    history = json.loads(team.engine("history", "--stack", "dev", "--json", *team.backend_args()).stdout)["updates"]
    assert history[0]["commit"] == c2
    fast = gitrepo.commit(second, {"fixture_cloud.py": cloud}, "fast again")
    gitrepo.git(team.repo, "fetch", "-q", str(second), "greet:greet-fast")
    gitrepo.git(team.repo, "checkout", "-q", "greet-fast")
    assert gitrepo.git(team.repo, "rev-parse", "HEAD") == fast


def test_6_sdk_noise_never_reaches_a_report_but_real_errors_do(team: Team) -> None:
    for text in team.outputs[::2]:  # stdout: the reports
        assert SDK_NOISE not in text
    broken = team.backend_url.replace(BUCKET, "no-such-bucket")
    proc = team.engine("preview", "--stack", "dev", "--json", "--backend-url", broken, "--secrets-provider",
                       team.secrets_provider, "--lock-dir", str(team.tmp / "locks-1"))
    assert proc.returncode == 1, proc.stderr  # an operation that failed: its report says why
    (report,) = json.loads(proc.stdout)["reports"]
    print(f"\nthe report's error: {report['error']}")
    assert report["status"] == "failed" and "NoSuchBucket" in report["error"], report
    assert SDK_NOISE not in report["error"] and "Traceback" not in proc.stdout + proc.stderr
    assert not any(CANARY in text for text in team.outputs)


def _records(team: Team) -> list[str]:
    return sorted(p.name for kind in ("record", "database") for p in (team.tmp / "cloud" / kind).glob("*.json"))


def test_7_a_runner_killed_mid_update_leaves_a_lock_in_the_bucket_that_status_and_recover_handle(team: Team) -> None:
    import signal

    before = _records(team)
    cloud = (team.repo / "fixture_cloud.py").read_text()
    slow = cloud.replace("    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n",
                         "    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:\n"
                         "        import time; time.sleep(30)  # noqa: E702\n", 1)
    config = (team.repo / "Pulumi.dev.yaml").read_text().replace("hello-newest", "killed-midway")
    gitrepo.commit(team.repo, {"fixture_cloud.py": slow, "Pulumi.dev.yaml": config}, "a slow update that gets killed")
    proc = subprocess.Popen([sys.executable, "-m", "automation", "--project-dir", str(team.repo), "up", "--stack", "dev",
                             "--skip-health-check", "--heartbeat", "1", *team.backend_args()], cwd=ROOT,
                            env=team.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stderr is not None
    seen, deadline = "", time.monotonic() + 120
    while time.monotonic() < deadline and "still updating" not in seen:
        seen += proc.stderr.readline()
    assert "still updating" in seen, seen
    os.killpg(proc.pid, signal.SIGKILL)  # the runner dies: the engine, the CLI and the provider with it
    proc.wait(timeout=30)
    locks = [k for k in team.objects() if k.startswith(".pulumi/locks/organization/fixture/dev/")]
    assert len(locks) == 1, locks
    status = team.engine("status", "--stack", "dev", "--json", *team.backend_args())
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert len(state["locks"]) == 1 and state["locks"][0]["alive"] is False, state
    assert "recover --stack dev --yes" in state["advice"], state
    recovered = team.engine("recover", "--stack", "dev", "--yes", "--json", *team.backend_args())
    assert recovered.returncode == 0, recovered.stderr
    after = json.loads(recovered.stdout)
    assert after["locks"] == [] and after["pending_operations"] == [] and "safe to operate" in after["advice"], after
    assert not [k for k in team.objects() if k.startswith(".pulumi/locks/")], "the lock is gone from the bucket"
    # the next up, without the sleep, converges: the change lands once, nothing duplicated or lost in the "cloud"
    gitrepo.commit(team.repo, {"fixture_cloud.py": cloud}, "fast again")
    report = _report(team.engine("up", "--stack", "dev", "--skip-health-check", "--json", *team.backend_args()))
    assert report["status"] == "succeeded"
    assert _records(team) == before
    contents = [json.loads(p.read_text()).get("content") for p in (team.tmp / "cloud" / "record").glob("*.json")]
    assert "killed-midway zone-a" in contents and "hello-newest zone-a" not in contents, contents


def test_8_a_damaged_checkpoint_is_named_and_restored_from_the_bucket_s_versions(team: Team) -> None:
    key = ".pulumi/stacks/fixture/dev.json"
    s3 = team.s3()
    good = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(good)["checkpoint"]["latest"]["resources"], "a deployed stack's checkpoint"
    s3.put_object(Bucket=BUCKET, Key=key, Body=good[: len(good) // 2])  # a bad manual edit: truncated JSON
    proc = team.engine("preview", "--stack", "dev", "--json", *team.backend_args())
    assert proc.returncode == 1, proc.stderr
    (report,) = json.loads(proc.stdout)["reports"]
    assert report["status"] == "failed"
    assert report["error"].startswith("the checkpoint of dev in s3://acme-fixture-state is damaged and cannot be read ("), report
    assert "unexpected end of JSON input" in report["error"] and "recover --stack dev --restore-checkpoint" in report["error"]
    assert SDK_NOISE not in report["error"], "the SDK's warnings never reach a report"
    status = team.engine("status", "--stack", "dev", *team.backend_args())
    assert status.returncode == 1 and "is damaged" in status.stderr and SDK_NOISE not in status.stderr, status.stderr
    # the documented way back: the newest readable version, with who, when and why recorded in the bucket
    assert team.engine("recover", "--stack", "dev", "--restore-checkpoint", "--yes", *team.backend_args()).returncode == 2
    proc = team.engine("recover", "--stack", "dev", "--restore-checkpoint", "--reason", "truncated by a manual edit (OPS-7)",
                       "--yes", "--json", *team.backend_args())
    assert proc.returncode == 0, proc.stderr
    restored = json.loads(proc.stdout)
    assert restored["locks"] == [] and restored["pending_operations"] == [] and "safe to operate" in restored["advice"]
    record = restored["restored"]
    assert record["by"] == "carol" and record["reason"] == "truncated by a manual edit (OPS-7)"
    assert json.loads(team.objects()[record["audit"].split(f"{BUCKET}/", 1)[1]])["damaged_version"] == record["damaged_version"]
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["checkpoint"], "readable again"
    again = team.engine("recover", "--stack", "dev", "--restore-checkpoint", "--reason", "twice", "--yes", *team.backend_args())
    assert again.returncode == 2 and "is readable: nothing to restore" in again.stderr
    report = _report(team.engine("preview", "--stack", "dev", "--json", *team.backend_args()))
    assert report["status"] == "succeeded" and report["counts"].get("create", 0) == 0, report["counts"]
