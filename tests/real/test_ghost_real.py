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
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.ghost.component import CONFIG_PATH, CONTENT_PATH, DB_PASSWORD_SPECIALS, GHOST_UID
from infra.database import PASSWORD_SPECIALS
from infra.platform import PROVISIONER_USER
from tests.support.ghost_render import ghost_version, render, render_teardown
from tests.support.program import ALL_STACKS
from tests.support.realdb import (
    STATEFUL_DIR,
    UNSUPPORTED_PARAMETERS,
    MariaDB,
    _as_ghost_user,
    _free_port,
    _password,
    _secret_dir,
    install_tools,
)

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    return install_tools(ghost_version(render("dev").image))


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
    assert ghost_version(rendered.image) in str(tools["install"]), "Ghost is the image tag's version"
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
            "user": PROVISIONER_USER, "password": provisioner_password})
        # only the stacks that host personal stacks (dev) mount the provisioner's Secret
        mounts_provisioner = any(v["name"] == "db-provisioner" for v in rendered.job["spec"]["template"]["spec"]["volumes"])
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
            for name, text in dev.scripts.items():
                (dev_dir / name).write_text(text)
            dev_script = dev_dir / "bootstrap.js"
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
                "GHOST_DB_PROVISIONER_SECRET_DIR": str(provisioner if mounts_provisioner else workdir / "no-provisioner"),
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
        prov_grants = server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE user = '{PROVISIONER_USER}'").stdout.strip()  # noqa: S608
        # dev installs the provisioner (what it may do: tests/real/test_provisioner_real.py); prod has none
        assert prov_grants == ("0" if stack == "prod" else "1"), (stack, prov_grants)

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
