"""Helpers of the real-client tests: a MariaDB server with TLS and the RDS parameter group's settings, Ghost and
Node from npm, Secret directories as mounted, the program's passwords (tests/real/test_ghost_real.py and
tests/real/test_provisioner_real.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import string
import subprocess
import time
from pathlib import Path

import pytest

from apps.ghost.component import GHOST_UID
from tests.support.paths import ROOT

#: RDS parameters MariaDB 10.11 cannot take, and why (everything else the parameter group sets is applied).
UNSUPPORTED_PARAMETERS = {
    "collation_server": "MariaDB 10.11 has no utf8mb4_0900_ai_ci (MySQL 8's default); the server's utf8mb4 default is used",
}
STATEFUL_DIR = Path(os.environ.get("GHOST_GITOPS_GHOST_CACHE", "/var/tmp/ghost-gitops"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(condition: bool, message: str, provided_by: str = ".ci/setup-tests db") -> None:
    """A real tool the test needs: in CI its absence is a failure naming what provides it, elsewhere a skip."""
    from tests.support.tiers import require_tier

    require_tier(f"real software ({provided_by})", "db", "k8s", "act")
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{message} (CI provides it: {provided_by})")
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


def install_tools(ghost_version: str) -> dict[str, Path]:
    """MariaDB and openssl (Debian, installed by .ci/setup-tests db), Ghost and Node (npm, .ci/install-ghost): a failure
    in CI, a skip elsewhere, naming what is missing."""
    for exe in ("mariadbd", "mariadb-install-db", "mariadb", "openssl"):
        _need(shutil.which(exe) is not None, f"`{exe}` is not installed (Debian: mariadb-server, openssl)")
    _need(shutil.which("npm") is not None, "npm is needed to install Ghost and Node")
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "install-ghost"), ghost_version], capture_output=True, text=True,
                          timeout=1800, check=False)
    _need(proc.returncode == 0, f"Ghost {ghost_version} could not be installed from npm: {proc.stderr[-2000:]}")
    install = Path(proc.stdout.strip())
    node = next((STATEFUL_DIR).glob("node-*/node_modules/.bin/node"))
    return {"install": install, "node": node}


