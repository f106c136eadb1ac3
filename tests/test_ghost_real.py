"""Ghost really boots with what the program renders: the real-client test.

For dev, prod and a personal stack: the manifests are rendered offline (synth), a MySQL-protocol server from
Debian (MariaDB) runs on 127.0.0.1 with TLS from a CA this test makes and the server parameters the program's
RDS parameter group sets; the bootstrap runs as rendered, twice; Ghost from npm at the image tag's version
(Node from npm too), laid out as the image lays it out, starts with the rendered config; then the probes as
rendered answer, `GET /` is 200, the owner is set up, a second sign-in works and Ghost restarts with its data.

Replaced, and only these: values only the cloud knows (the database host and port, Ghost's url, the passwords,
the server's CA) and where things are mounted (the ConfigMap, Secret and config paths, the content path and the
listen address), which the scripts and Ghost take from their documented environment variables.
Differences of MariaDB 10.11 from MySQL 8 (see UNSUPPORTED_PARAMETERS) are the only parameters left out.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.ghost.component import CONFIG_PATH, CONTENT_PATH, DB_PASSWORD_SPECIALS, GHOST_UID
from infra.database import PASSWORD_SPECIALS
from infra.platform import PERSONAL_DATABASE_PATTERN, PROVISIONER_USER
from tests.conftest import ALL_STACKS, ROOT, synth

#: RDS parameters MariaDB 10.11 cannot take, and why (everything else the parameter group sets is applied).
UNSUPPORTED_PARAMETERS = {
    "collation_server": "MariaDB 10.11 has no utf8mb4_0900_ai_ci (MySQL 8's default); the server's utf8mb4 default is used",
}
STATEFUL_DIR = Path(os.environ.get("GHOST_GITOPS_GHOST_CACHE", "/var/tmp/ghost-gitops"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(condition: bool, message: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(message + " (CI installs it: .ci/setup)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _password(specials: str, length: int = 32) -> str:
    """A password from the program's own character set, always with a '#' (which once broke the bootstrap)."""
    rng = secrets.SystemRandom()
    alphabet = string.ascii_letters + string.digits + specials
    chars = [rng.choice(alphabet) for _ in range(length - 2)] + ["#", rng.choice(specials)]
    rng.shuffle(chars)
    return "".join(chars)


@dataclass
class Rendered:
    config: dict[str, Any]
    scripts: dict[str, str]
    job: dict[str, Any]
    deployment: dict[str, Any]
    parameters: dict[str, str]
    admin_user: str
    image: str


def render(stack: str) -> Rendered:
    result = synth(stack)
    manifests = {(m["kind"], m["metadata"]["name"]): m for _, m in result.manifests()}
    cm = manifests[("ConfigMap", "ghost-config")]["data"]
    deployment = manifests[("Deployment", "ghost")]
    job = manifests[("Job", "ghost-db-bootstrap")]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    if stack.startswith("dev-"):  # a personal stack's database is dev's RDS instance: its parameters and master user
        result = synth("dev")
    (params,) = result.of_type("aws:rds/parameterGroup:ParameterGroup")
    (db,) = result.of_type("aws:rds/instance:Instance")
    return Rendered(config=json.loads(cm["config.json"]),
                    scripts={k: v for k, v in cm.items() if k.endswith(".js")}, job=job, deployment=deployment,
                    parameters={p["name"]: str(p["value"]) for p in params.inputs["parameters"]},
                    admin_user=str(db.inputs["username"]), image=image)


def render_teardown(stack: str) -> dict[str, Any]:
    """The bootstrap Job as the teardown `up` before a personal stack's destroy renders it."""
    from dataclasses import replace

    from automation.environments import load_environments
    from automation.synth import synthesize

    envs = load_environments(ROOT)
    route = envs.by_stack(stack)
    assert route is not None and route.rule.before_destroy_config
    config = envs.stack_config(ROOT, stack)
    torn = synthesize(ROOT, replace(config, values={**config.values, **route.rule.before_destroy_config}))
    (job,) = [m for _, m in torn.manifests() if m["kind"] == "Job"]
    return job


def _ghost_version(image: str) -> str:
    tag = image.split("@")[0].split(":", 1)[1]
    return tag.removesuffix("-alpine")


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    for exe in ("mariadbd", "mariadb-install-db", "mariadb", "openssl"):
        _need(shutil.which(exe) is not None, f"`{exe}` is not installed (Debian: mariadb-server, openssl)")
    _need(shutil.which("npm") is not None, "npm is needed to install Ghost and Node")
    version = _ghost_version(render("dev").image)
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "install-ghost"), version], capture_output=True, text=True,
                          timeout=1800, check=False)
    _need(proc.returncode == 0, f"Ghost {version} could not be installed from npm: {proc.stderr[-2000:]}")
    install = Path(proc.stdout.strip())
    node = next((STATEFUL_DIR).glob("node-*/node_modules/.bin/node"))
    return {"install": install, "node": node}


def _tls(dir_: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=dir_, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=ghost-gitops test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (dir_ / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
        "-days", "2", "-extfile", "san.cnf")
    return {"ca": dir_ / "ca.pem", "cert": dir_ / "server.pem", "key": dir_ / "server.key"}


class MariaDB:
    """A MariaDB server on 127.0.0.1 with TLS required and the RDS parameter group's settings."""

    def __init__(self, root: Path, parameters: dict[str, str]) -> None:
        self.root = root
        self.port = _free_port()
        self.socket = root / "mysqld.sock"
        self.tls = _tls(root)
        data = root / "data"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=socket",
                        "--skip-test-db", *as_root], check=True, capture_output=True, timeout=120)
        options = []
        for name, value in parameters.items():
            if name in UNSUPPORTED_PARAMETERS:
                continue
            options.append(f"--{name.replace('_', '-')}={value}")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--pid-file={root / 'mysqld.pid'}", f"--log-error={root / 'error.log'}",
             f"--ssl-ca={self.tls['ca']}", f"--ssl-cert={self.tls['cert']}", f"--ssl-key={self.tls['key']}",
             "--skip-name-resolve", *options, *as_root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while self.sql("SELECT 1", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"MariaDB did not start: {(root / 'error.log').read_text()[-2000:]}")
            time.sleep(0.3)

    def sql(self, statement: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "--raw", "-e", statement],
                              capture_output=True, text=True, check=check, timeout=60)

    def variable(self, name: str) -> str:
        return self.sql(f"SELECT @@GLOBAL.{name}").stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _as_ghost_user(argv: list[str]) -> list[str]:
    """Run as the high, unnamed UID the program renders (needs root; otherwise as ourselves)."""
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", f"--reuid={GHOST_UID}", f"--regid={GHOST_UID}", "--clear-groups", *argv]
    return argv


def _secret_dir(root: Path, name: str, values: dict[str, str]) -> Path:
    """A Secret as mounted: one file per key, mode 0440 (the rendered defaultMode), group-readable by fsGroup."""
    path = root / name
    path.mkdir()
    for key, value in values.items():
        (path / key).write_text(value)
        (path / key).chmod(0o440)
        if os.geteuid() == 0:
            os.chown(path / key, 0, GHOST_UID)
    return path


def _seed_content(original: Path, content: Path) -> None:
    """What the image's docker-entrypoint.sh does before `node current/index.js`: copy each missing directory and
    theme of the image's original content (``content.orig``) into the content volume, which starts empty."""
    for src in [*[p for p in original.iterdir() if p.is_dir()], *sorted((original / "themes").iterdir())]:
        target = content / src.relative_to(original)
        if not target.exists():
            shutil.copytree(src, target, symlinks=True)
    if os.geteuid() == 0:
        for path in [content, *content.rglob("*")]:
            os.lchown(path, GHOST_UID, GHOST_UID)


def _env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env", [])}


class Ghost:
    def __init__(self, node: Path, root: Path, env: dict[str, str], port: int) -> None:
        self.node, self.root, self.env, self.port = node, root, env, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = root / "ghost.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(_as_ghost_user([str(self.node), "current/index.js"]), cwd=self.root, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _probe(ghost: Ghost, probe: dict[str, Any], client: httpx.Client) -> int:
    get = probe["httpGet"]
    assert get["port"] == "http"
    headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
    try:
        return client.get(f"{ghost.url}{get['path']}", headers=headers, timeout=probe.get("timeoutSeconds", 1) + 4).status_code
    except httpx.HTTPError:
        return 0


def _wait_started(ghost: Ghost, container: dict[str, Any], client: httpx.Client) -> None:
    startup = container["startupProbe"]
    deadline = time.monotonic() + min(startup["periodSeconds"] * startup["failureThreshold"], 300)
    while _probe(ghost, startup, client) != 200:
        assert ghost.proc is not None and ghost.proc.poll() is None, f"Ghost exited:\n{ghost.tail()}"
        assert time.monotonic() < deadline, f"the startup probe never answered 200:\n{ghost.tail()}"
        time.sleep(1)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """World-traversable (Ghost runs as another UID), removed afterwards."""
    STATEFUL_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="ghost-real-", dir=STATEFUL_DIR))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_ghost_boots_serves_and_restarts_with_the_rendered_config(stack: str, tools: dict[str, Path], workdir: Path) -> None:
    rendered = render(stack)
    assert _ghost_version(rendered.image) in str(tools["install"]), "Ghost is the image tag's version"
    # the rendered pod runs as the high UID; so does this Ghost
    pod = rendered.deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == GHOST_UID
    (container,) = pod["containers"]
    (init,) = pod["initContainers"]
    (job_container,) = rendered.job["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[CONFIG_PATH]["subPath"] == "config.production.json" and CONTENT_PATH in mounts

    db_dir = workdir / "db"
    db_dir.mkdir()
    server = MariaDB(db_dir, rendered.parameters)
    ghost: Ghost | None = None
    try:
        for name, value in rendered.parameters.items():
            if name not in UNSUPPORTED_PARAMETERS:
                got = server.variable(name).lower()
                same = got in (value.lower(), {"1": "on"}.get(value, value).lower())
                if not same:
                    try:
                        same = float(got) == float(value)
                    except ValueError:
                        pass
                assert same, (name, value, got)
        admin_password = _password(PASSWORD_SPECIALS)
        ghost_password = _password(DB_PASSWORD_SPECIALS)
        user = rendered.admin_user
        server.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{admin_password}'; "
                   f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION;")  # the RDS master user

        # the ConfigMap as mounted; the one cloud value in it (the server's CA) replaced
        config_dir = workdir / "ghost-config"
        config_dir.mkdir()
        config = json.loads(json.dumps(rendered.config))
        assert config["database"]["connection"]["ssl"] == "Amazon RDS"  # what AWS gets: mysql2's RDS CA profile
        config["database"]["connection"]["ssl"] = {"ca": server.tls["ca"].read_text()}
        (config_dir / "config.json").write_text(json.dumps(config))
        for name, text in rendered.scripts.items():
            (config_dir / name).write_text(text)
        db_secret = _secret_dir(workdir, "ghost-db", {"password": ghost_password})
        provisioner_password = _password(PASSWORD_SPECIALS)
        provisioner = _secret_dir(workdir, "ghost-db-provisioner", {
            "user": PROVISIONER_USER, "password": provisioner_password, "database-pattern": PERSONAL_DATABASE_PATTERN})
        personal = stack.startswith("dev-")
        if personal:
            # dev's bootstrap (as rendered for dev, with the RDS master) created the provisioner before; a personal
            # stack only ever gets the provisioner's credentials
            dev = render("dev")
            dev_dir = workdir / "dev"
            dev_dir.mkdir()
            dev_config = json.loads(json.dumps(dev.config))
            dev_config["database"]["connection"]["ssl"] = {"ca": server.tls["ca"].read_text()}
            (dev_dir / "config.json").write_text(json.dumps(dev_config))
            (dev_job,) = dev.job["spec"]["template"]["spec"]["containers"]
            dev_env = {"PATH": f"{tools['node'].parent}{os.pathsep}/usr/bin:/bin", "GHOST_INSTALL": str(workdir / "ghost"),
                       "GHOST_CONFIG_TEMPLATE": str(dev_dir / "config.json"),
                       "GHOST_DB_SECRET_DIR": str(_secret_dir(dev_dir, "db", {"password": _password(DB_PASSWORD_SPECIALS)})),
                       "GHOST_DB_ADMIN_SECRET_DIR": str(_secret_dir(dev_dir, "admin", {"user": user, "password": admin_password})),
                       "GHOST_DB_PROVISIONER_SECRET_DIR": str(provisioner), **_env_of(dev_job),
                       "database__connection__host": "127.0.0.1", "database__connection__port": str(server.port)}
            dev_script = dev_dir / "bootstrap.js"
            dev_script.write_text(dev.scripts["bootstrap.js"])
            (workdir / "ghost").mkdir()
            (workdir / "ghost" / "current").symlink_to(tools["install"])
            proc = subprocess.run(_as_ghost_user([str(tools["node"]), str(dev_script)]), env=dev_env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert proc.returncode == 0 and "provisioner" in proc.stdout, proc.stdout + proc.stderr
            admin_values = {"user": PROVISIONER_USER, "password": provisioner_password}
        else:
            admin_values = {"user": user, "password": admin_password}
        admin_secret = _secret_dir(workdir, "ghost-db-admin", admin_values)

        layout = workdir / "ghost"  # as /var/lib/ghost in the image
        if not layout.exists():
            layout.mkdir()
            (layout / "current").symlink_to(tools["install"])
        content = layout / "content"
        content.mkdir()
        if os.geteuid() == 0:
            os.chown(content, GHOST_UID, GHOST_UID)
            os.chown(layout, GHOST_UID, GHOST_UID)
        port = _free_port()
        base = {"PATH": f"{tools['node'].parent}{os.pathsep}/usr/bin:/bin", "HOME": str(layout),
                "GHOST_INSTALL": str(layout), "GHOST_CONFIG_TEMPLATE": str(config_dir / "config.json"),
                "GHOST_DB_SECRET_DIR": str(db_secret), "GHOST_DB_ADMIN_SECRET_DIR": str(admin_secret),
                "GHOST_DB_PROVISIONER_SECRET_DIR": str(provisioner if not personal else workdir / "no-provisioner"),
                "GHOST_CONFIG_OUT": str(layout / "config.production.json")}
        cloud = {"database__connection__host": "127.0.0.1", "database__connection__port": str(server.port)}

        def rendered_command(c: dict[str, Any]) -> list[str]:
            return [str(tools["node"]) if a == "node" else a.replace("/etc/ghost-config", str(config_dir)) for a in c["command"]]

        # the bootstrap Job, as rendered, twice (idempotent)
        job_env = {**base, **_env_of(job_container), **cloud}
        for attempt in (1, 2):
            proc = subprocess.run(_as_ghost_user(rendered_command(job_container)), env=job_env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert proc.returncode == 0, f"bootstrap run {attempt}: {proc.stdout}{proc.stderr}"
            assert "are ready" in proc.stdout
        grants = server.sql(f"SHOW GRANTS FOR '{config['database']['connection']['user']}'@'%'").stdout
        exact = config["database"]["connection"]["database"].replace("_", "\\_")  # an exact name, not a pattern
        assert f"ON `{exact}`.*" in grants and "ON *.*" in grants, grants  # USAGE only on *.*
        assert "ALL PRIVILEGES ON *.*" not in grants, "Ghost's user is least-privilege"
        prov_grants = server.sql(f"SHOW GRANTS FOR '{PROVISIONER_USER}'@'%'").stdout
        assert "ON `ghost\\_%`.*" in prov_grants and "WITH GRANT OPTION" in prov_grants, prov_grants
        assert "ALL PRIVILEGES ON *.*" not in prov_grants and "ON `ghost`.*" not in prov_grants, "no access to dev's data"

        # the init container renders config.production.json from the ConfigMap and the Secret files
        proc = subprocess.run(_as_ghost_user(rendered_command(init)), env=base, capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert ghost_password not in json.dumps(init) + json.dumps(container)  # never in the manifests

        env = {**_env_of(container), **cloud, "PATH": base["PATH"], "HOME": str(layout),
               "url": f"http://127.0.0.1:{port}", "server__host": "127.0.0.1", "server__port": str(port),
               "paths__contentPath": str(content)}
        assert env["NODE_ENV"] == "production"
        ghost = Ghost(tools["node"], layout, env, port)
        _seed_content(tools["install"] / "content", content)
        ghost.start()
        with httpx.Client() as client:
            _wait_started(ghost, container, client)
            assert _probe(ghost, container["readinessProbe"], client) == 200
            assert _probe(ghost, container["livenessProbe"], client) == 200
            home = client.get(f"{ghost.url}/")
            assert home.status_code == 200, f"{home.text[:500]}\n{ghost.tail()}"
            owner = {"name": "Owner", "email": "owner@example.com", "password": "Correct-Horse-Battery-42!",
                     "blogTitle": f"ghost-gitops {stack}"}
            origin = {"Origin": ghost.url}
            setup = client.post(f"{ghost.url}/ghost/api/admin/authentication/setup/", json={"setup": [owner]},
                                headers=origin)
            assert setup.status_code in (200, 201), setup.text
        for _browser in ("first", "second"):  # a fresh cookie jar each time: a second browser signing in
            with httpx.Client() as browser:
                session = browser.post(f"{ghost.url}/ghost/api/admin/session/", headers=origin,
                                       json={"username": owner["email"], "password": owner["password"]})
                assert session.status_code in (200, 201), session.text
                me = browser.get(f"{ghost.url}/ghost/api/admin/users/me/", headers=origin)
                assert me.status_code == 200 and me.json()["users"][0]["email"] == owner["email"]
        # restart: the data survives (MySQL and the content volume)
        ghost.stop()
        _seed_content(tools["install"] / "content", content)
        ghost.start()
        with httpx.Client() as client:
            _wait_started(ghost, container, client)
            home = client.get(f"{ghost.url}/")
            assert home.status_code == 200 and f"ghost-gitops {stack}" in home.text
            again = client.post(f"{ghost.url}/ghost/api/admin/session/", headers=origin,
                                json={"username": owner["email"], "password": owner["password"]})
            assert again.status_code in (200, 201), again.text
        assert any(content.iterdir()), "Ghost wrote its content into the volume"
        if stack.startswith("dev-"):
            # a personal stack's teardown (the engine's `up` before its destroy): the Job as rendered then drops
            # the database and the MySQL user it made on the shared instance
            ghost.stop()
            (torn_job,) = render_teardown(stack)["spec"]["template"]["spec"]["containers"]
            proc = subprocess.run(_as_ghost_user(rendered_command(torn_job)), env={**base, **_env_of(torn_job), **cloud},
                                  capture_output=True, text=True, timeout=120, check=False)
            assert proc.returncode == 0 and "are dropped" in proc.stdout, proc.stdout + proc.stderr
            database, db_user = config["database"]["connection"]["database"], config["database"]["connection"]["user"]
            assert server.sql(f"SHOW DATABASES LIKE '{database}'").stdout.strip() == ""
            assert server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE user = '{db_user}'").stdout.strip() == "0"  # noqa: S608 - test names
    finally:
        if ghost is not None:
            ghost.stop()
        server.stop()
