"""What a personal stack's database credentials can do, on a real MySQL-protocol server with the real client.

MariaDB from Debian runs with TLS required and the RDS parameter group's settings; an account with every
privilege WITH GRANT OPTION stands for the RDS master. First an installation as the previous version left it (the
provisioner with ALL on `ghost\\_%` WITH GRANT OPTION and global CREATE USER, and a personal database made
through it); then dev's bootstrap Job as rendered (Ghost's Node and mysql2, the scripts from the ConfigMap) runs
twice and upgrades it in place; then two personal stacks' bootstrap Jobs as rendered. Every attack is a row of
ATTACKS, run as the provisioner with the `mariadb` client over TLS, and must be refused, with nothing changed on
the server afterwards. The three allowed operations (create, rotate, drop) work for two stacks side by side.
MySQL 8.4 itself is not run here (not installable on these machines): see README, "What a personal stack's
database credentials can do".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apps.ghost.component import DB_PASSWORD_SPECIALS, mysql_user
from infra.database import PASSWORD_SPECIALS
from infra.platform import PROVISIONER_USER, PROVISIONING_SCHEMA
from tests.support.ghost_render import Rendered, ghost_version, render, render_teardown
from tests.support.realdb import STATEFUL_DIR, MariaDB, _as_ghost_user, _password, _secret_dir, install_tools

pytestmark = pytest.mark.db

MASTER = "ghostadmin"


def lit(value: str) -> str:
    """An SQL string literal (backslash escapes on, as the server's default sql_mode has them)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class World:
    server: MariaDB
    root: Path
    tools: dict[str, Path]
    master_password: str
    provisioner_password: str
    dev_ghost_password: str

    def client(self, user: str, password: str, sql: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real client, over TCP with verified TLS, as the given account (password in MYSQL_PWD, not argv)."""
        argv = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.server.port), "-u", user, "--ssl",
                f"--ssl-ca={self.server.tls['ca']}", "--ssl-verify-server-cert", "-N", "--raw", "-e", sql]
        if database:
            argv.insert(-2, database)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": password})

    def as_provisioner(self, sql: str) -> subprocess.CompletedProcess[str]:
        return self.client(PROVISIONER_USER, self.provisioner_password, sql)

    def state(self) -> dict[str, Any]:
        """Accounts (with their password hashes), databases, grants and routines: what an attack must not change."""
        users = self.server.sql("SELECT CONCAT(user, '@', host, ' ', authentication_string) FROM mysql.user ORDER BY 1").stdout
        grants = {u: self.server.sql(f"SHOW GRANTS FOR {u}").stdout for u in
                  self.server.sql("SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user ORDER BY 1").stdout.split()}
        return {"users": users, "grants": grants, "databases": self.server.sql("SHOW DATABASES").stdout,
                "routines": self.server.sql("SELECT routine_schema, routine_name, routine_definition "
                                            "FROM information_schema.routines ORDER BY 1, 2").stdout,
                "tables": self.server.sql("SELECT table_schema, table_name FROM information_schema.tables "
                                          "WHERE table_schema NOT IN ('mysql', 'information_schema', "
                                          "'performance_schema', 'sys') ORDER BY 1, 2").stdout}

    def run_job(self, rendered: Rendered, job: dict[str, Any], admin: dict[str, str], ghost_password: str,
                provisioner: bool) -> subprocess.CompletedProcess[str]:
        """The bootstrap Job's container as rendered: its command, its env, the ConfigMap and Secrets as mounted; the
        cloud's values (the endpoint, the server's CA) replaced."""
        work = Path(tempfile.mkdtemp(dir=self.root))
        work.chmod(0o755)
        config = json.loads(json.dumps(rendered.config))
        config["database"]["connection"]["ssl"] = {"ca": self.server.tls["ca"].read_text()}
        (work / "config.json").write_text(json.dumps(config))
        for name, text in rendered.scripts.items():
            (work / name).write_text(text)
        (container,) = job["spec"]["template"]["spec"]["containers"]
        env = {"PATH": f"{self.tools['node'].parent}{os.pathsep}/usr/bin:/bin", "GHOST_INSTALL": str(self.root / "ghost"),
               "GHOST_CONFIG_TEMPLATE": str(work / "config.json"),
               "GHOST_DB_SECRET_DIR": str(_secret_dir(work, "db", {"password": ghost_password})),
               "GHOST_DB_ADMIN_SECRET_DIR": str(_secret_dir(work, "admin", admin)),
               "GHOST_DB_PROVISIONER_SECRET_DIR": str(
                   _secret_dir(work, "provisioner", {"user": PROVISIONER_USER, "password": self.provisioner_password})
                   if provisioner else work / "not-mounted"),
               **{e["name"]: str(e["value"]) for e in container.get("env", [])},
               "database__connection__host": "127.0.0.1", "database__connection__port": str(self.server.port)}
        argv = [str(self.tools["node"]) if a == "node" else a.replace("/etc/ghost-config", str(work))
                for a in container["command"]]
        return subprocess.run(_as_ghost_user(argv), env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    dev = render("dev")
    tools = install_tools(ghost_version(dev.image))
    STATEFUL_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="provisioner-real-", dir=STATEFUL_DIR))
    root.chmod(0o755)
    (root / "db").mkdir()
    server = MariaDB(root / "db", dev.parameters)
    try:
        (root / "ghost").mkdir()
        (root / "ghost" / "current").symlink_to(tools["install"])
        w = World(server, root, tools, _password(PASSWORD_SPECIALS), _password(PASSWORD_SPECIALS),
                  _password(DB_PASSWORD_SPECIALS))
        assert dev.admin_user == MASTER
        server.sql(f"CREATE USER '{MASTER}'@'%' IDENTIFIED BY {lit(w.master_password)}; "
                   f"GRANT ALL PRIVILEGES ON *.* TO '{MASTER}'@'%' WITH GRANT OPTION;")
        yield w
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _legacy_install(w: World) -> None:
    """What the previous version's bootstrap left on dev's instance, and a personal stack made through it."""
    w.server.sql(f"CREATE USER '{PROVISIONER_USER}'@'%' IDENTIFIED BY {lit(w.provisioner_password)}; "
                 f"GRANT ALL PRIVILEGES ON `ghost\\_%`.* TO '{PROVISIONER_USER}'@'%' WITH GRANT OPTION; "
                 f"GRANT CREATE USER ON *.* TO '{PROVISIONER_USER}'@'%';")
    legacy = w.as_provisioner("CREATE DATABASE ghost_legacy; CREATE USER 'ghost_ghost_legacy'@'%' IDENTIFIED BY "
                              "'Legacy-Password-123456'; GRANT ALL PRIVILEGES ON `ghost\\_legacy`.* TO "
                              "'ghost_ghost_legacy'@'%'; CREATE TABLE ghost_legacy.posts (id INT PRIMARY KEY);")
    assert legacy.returncode == 0, legacy.stderr
    # the hole this fixes, shown on the legacy grants: the provisioner can reset dev's master's password
    assert w.as_provisioner(f"ALTER USER '{MASTER}'@'%' IDENTIFIED BY {lit(w.master_password)}").returncode == 0


@pytest.fixture(scope="module")
def upgraded(world: World) -> World:
    """The previous version's installation, then dev's bootstrap as rendered, twice: upgraded in place."""
    _legacy_install(world)
    dev = render("dev")
    for attempt in (1, 2):
        proc = world.run_job(dev, dev.job, {"user": MASTER, "password": world.master_password},
                             world.dev_ghost_password, provisioner=True)
        assert proc.returncode == 0, f"dev bootstrap run {attempt}: {proc.stdout}{proc.stderr}"
        assert f"provisioner {PROVISIONER_USER} may only call" in proc.stdout and "ghost_ghost are ready" in proc.stdout
    assert world.client("ghost_ghost", world.dev_ghost_password, "CREATE TABLE posts (id INT PRIMARY KEY); "
                        "INSERT INTO posts VALUES (1)", database="ghost").returncode == 0
    return world


def test_the_provisioner_holds_only_execute_on_the_two_procedures(upgraded: World) -> None:
    grants = sorted(upgraded.server.sql(f"SHOW GRANTS FOR '{PROVISIONER_USER}'@'%'").stdout.strip().splitlines())
    assert len(grants) == 3, grants
    assert grants[0].startswith(f"GRANT EXECUTE ON PROCEDURE `{PROVISIONING_SCHEMA}`.`drop_personal` TO")
    assert grants[1].startswith(f"GRANT EXECUTE ON PROCEDURE `{PROVISIONING_SCHEMA}`.`provision_personal` TO")
    assert grants[2].startswith(f"GRANT USAGE ON *.* TO `{PROVISIONER_USER}`@`%`"), "nothing global, no GRANT OPTION"
    definers = upgraded.server.sql(f"SELECT DISTINCT definer, security_type FROM information_schema.routines "
                                   f"WHERE routine_schema = '{PROVISIONING_SCHEMA}'").stdout.split()
    assert definers == [f"{MASTER}@%", "DEFINER"]


def test_the_personal_stacks_bootstrap_jobs_create_rotate_and_drop_side_by_side(upgraded: World) -> None:
    w = upgraded
    stacks: list[tuple[Rendered, str, str, str]] = []
    for stack in ("dev-alice", "dev-bob"):
        rendered = render(stack)
        conn = rendered.config["database"]["connection"]
        password = ""
        for attempt in (1, 2):  # idempotent, and the second run rotates the password
            password = _password(DB_PASSWORD_SPECIALS)
            proc = w.run_job(rendered, rendered.job, {"user": PROVISIONER_USER, "password": w.provisioner_password},
                             password, provisioner=False)
            assert proc.returncode == 0 and "are ready" in proc.stdout, f"{stack} run {attempt}: {proc.stdout}{proc.stderr}"
        assert w.client(conn["user"], password, "CREATE TABLE posts (id INT PRIMARY KEY)", conn["database"]).returncode == 0
        stacks.append((rendered, conn["database"], conn["user"], password))
    (alice, alice_db, alice_user, alice_pw), (_bob, bob_db, bob_user, bob_pw) = stacks
    # each Ghost user sees its own database only: not the other's, not dev's
    for user, password, other in ((alice_user, alice_pw, bob_db), (bob_user, bob_pw, alice_db)):
        for db in (other, "ghost"):
            refused = w.client(user, password, f"SELECT COUNT(*) FROM `{db}`.posts")
            assert refused.returncode != 0 and "denied" in refused.stderr, (user, db, refused.stdout)
    # the legacy personal database keeps working through the upgrade
    assert w.client("ghost_ghost_legacy", "Legacy-Password-123456", "SELECT COUNT(*) FROM posts", "ghost_legacy").returncode == 0

    # alice's branch is deleted: her teardown Job as rendered drops her database and user; bob's are untouched
    torn = render_teardown("dev-alice")
    proc = w.run_job(alice, torn, {"user": PROVISIONER_USER, "password": w.provisioner_password}, alice_pw,
                     provisioner=False)
    assert proc.returncode == 0 and "are dropped" in proc.stdout, proc.stdout + proc.stderr
    assert w.server.sql(f"SHOW DATABASES LIKE '{alice_db}'").stdout.strip() == ""
    assert w.server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE user = '{alice_user}'").stdout.strip() == "0"
    assert w.client(bob_user, bob_pw, "SELECT COUNT(*) FROM posts", bob_db).stdout.strip() == "0"


def test_the_three_operations_with_the_real_client_and_the_programs_naming(upgraded: World) -> None:
    """create, rotate, drop; the user is the one the program derives (hashed past 32 characters)."""
    w = upgraded
    for db in ("ghost_carol", "ghost_" + "a" * 30, "ghost_x"):
        first, second = _password(DB_PASSWORD_SPECIALS), _password(DB_PASSWORD_SPECIALS)
        made = w.as_provisioner(f"CALL {PROVISIONING_SCHEMA}.provision_personal({lit(db)}, {lit(first)})")
        assert made.returncode == 0, made.stderr
        assert made.stdout.split() == [db, mysql_user(db)]
        assert w.client(mysql_user(db), first, "CREATE TABLE t (id INT)", db).returncode == 0
        rotated = w.as_provisioner(f"CALL {PROVISIONING_SCHEMA}.provision_personal({lit(db)}, {lit(second)})")
        assert rotated.returncode == 0, rotated.stderr
        assert w.client(mysql_user(db), first, "SELECT 1", db).returncode != 0, "the old password no longer works"
        assert w.client(mysql_user(db), second, "SELECT COUNT(*) FROM t", db).stdout.strip() == "0", "data kept"
        grants = w.server.sql(f"SHOW GRANTS FOR '{mysql_user(db)}'@'%'").stdout
        assert f"ON `{db.replace('_', chr(92) + '_')}`.*" in grants and "GRANT OPTION" not in grants, grants
        dropped = w.as_provisioner(f"CALL {PROVISIONING_SCHEMA}.drop_personal({lit(db)})")
        assert dropped.returncode == 0, dropped.stderr
        assert w.server.sql(f"SHOW DATABASES LIKE '{db}'").stdout.strip() == ""
        assert w.server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE user = '{mysql_user(db)}'").stdout.strip() == "0"


NEW = "Owned-Password-123456!"
CALL = f"CALL {PROVISIONING_SCHEMA}.provision_personal"
DROP = f"CALL {PROVISIONING_SCHEMA}.drop_personal"
#: (what a person with the provisioner's credentials tries, the SQL). Every row must be refused.
ATTACKS: list[tuple[str, str]] = [
    ("reset the master's password", f"ALTER USER '{MASTER}'@'%' IDENTIFIED BY '{NEW}'"),
    ("reset dev's Ghost user's password", f"ALTER USER 'ghost_ghost'@'%' IDENTIFIED BY '{NEW}'"),
    ("SET PASSWORD on the master", f"SET PASSWORD FOR '{MASTER}'@'%' = PASSWORD('{NEW}')"),
    ("SET PASSWORD on dev's Ghost user", f"SET PASSWORD FOR 'ghost_ghost'@'%' = PASSWORD('{NEW}')"),
    ("drop the master", f"DROP USER '{MASTER}'@'%'"),
    ("drop dev's Ghost user", "DROP USER 'ghost_ghost'@'%'"),
    ("rename the master", f"RENAME USER '{MASTER}'@'%' TO 'gone'@'%'"),
    ("create a user of another name", f"CREATE USER 'intruder'@'%' IDENTIFIED BY '{NEW}'"),
    ("create a user of the personal form directly", f"CREATE USER 'ghost_ghost_mallory'@'%' IDENTIFIED BY '{NEW}'"),
    ("grant itself everything", f"GRANT ALL PRIVILEGES ON *.* TO '{PROVISIONER_USER}'@'%'"),
    ("grant a personal user dev's database", "GRANT ALL PRIVILEGES ON ghost.* TO 'ghost_ghost_legacy'@'%'"),
    ("pass on its EXECUTE", f"GRANT EXECUTE ON PROCEDURE {PROVISIONING_SCHEMA}.provision_personal TO 'ghost_ghost_legacy'@'%'"),
    ("create a database outside the pattern", "CREATE DATABASE intruder"),
    ("create a database of the personal form directly", "CREATE DATABASE ghost_mallory"),
    ("drop dev's database", "DROP DATABASE ghost"),
    ("read dev's data", "SELECT * FROM ghost.posts"),
    ("drop a legacy personal database directly", "DROP DATABASE ghost_legacy"),
    ("read the account table", "SELECT user, authentication_string FROM mysql.user"),
    ("replace a procedure", f"DROP PROCEDURE {PROVISIONING_SCHEMA}.provision_personal"),
    ("add a procedure", f"CREATE PROCEDURE {PROVISIONING_SCHEMA}.evil() SQL SECURITY DEFINER DROP USER '{MASTER}'@'%'"),
    ("call the name check directly", f"CALL {PROVISIONING_SCHEMA}.personal_user('ghost_x', @u)"),
    ("provision dev's database", f"{CALL}('ghost', '{NEW}')"),
    ("drop dev's database through the procedure", f"{DROP}('ghost')"),
    ("a wildcard name", f"{CALL}('ghost_%', '{NEW}')"),
    ("drop by wildcard", f"{DROP}('ghost_%')"),
    ("an underscore-only name", f"{CALL}('ghost__', '{NEW}')"),
    ("a name ending in an underscore", f"{CALL}('ghost_alice_', '{NEW}')"),
    ("the empty personal name", f"{CALL}('ghost_', '{NEW}')"),
    ("the system schema", f"{DROP}('mysql')"),
    ("the provisioning schema", f"{DROP}('{PROVISIONING_SCHEMA}')"),
    ("a backtick escape", f"{CALL}({lit('ghost_a` CHARACTER SET latin1; DROP DATABASE ghost; -- ')}, '{NEW}')"),
    ("a quote escape", f"{CALL}({lit(f'ghost_a{chr(39)}@{chr(39)}%{chr(39)} IDENTIFIED BY {chr(39)}x')}, '{NEW}')"),
    ("a double quote", f"{CALL}({lit('ghost_a' + chr(34) + 'b')}, '{NEW}')"),
    ("upper case", f"{CALL}('ghost_ALICE', '{NEW}')"),
    ("a non-ASCII letter", f"{CALL}('ghost_\u00e5lice', '{NEW}')"),
    ("a dotless i (folds to i)", f"{CALL}('ghost_al\u0131ce', '{NEW}')"),
    ("a trailing space", f"{CALL}('ghost_alice ', '{NEW}')"),
    ("a trailing newline", f"{CALL}({lit('ghost_alice' + chr(10))}, '{NEW}')"),
    ("a NUL byte", f"{CALL}({lit('ghost_alice')[:-1]}\\0', '{NEW}')"),
    ("a name one character too long", f"{CALL}('ghost_{'a' * 31}', '{NEW}')"),
    ("a very long name", f"{CALL}('ghost_{'a' * 5000}', '{NEW}')"),
    ("NULL", f"{CALL}(NULL, '{NEW}')"),
    ("a password that breaks out of its quotes", f"{CALL}('ghost_zed', {lit(NEW + chr(39) + '; DROP USER ' + MASTER)})"),
    ("a password with a backslash", f"{CALL}('ghost_zed', {lit(NEW + chr(92))})"),
    ("a short password", f"{CALL}('ghost_zed', 'short')"),
    ("a NULL password", f"{CALL}('ghost_zed', NULL)"),
]


def test_every_attack_with_the_personal_credentials_is_refused_and_changes_nothing(upgraded: World) -> None:
    w = upgraded
    before = w.state()
    succeeded = []
    for what, sql in ATTACKS:
        proc = w.as_provisioner(sql)
        if proc.returncode == 0:
            succeeded.append(f"{what}: {sql[:120]}")
        else:
            assert "ERROR" in proc.stderr, (what, proc.stderr)
    assert not succeeded, "refused nothing for:\n" + "\n".join(succeeded)
    assert w.state() == before, "an attack changed the server"
    # the master and dev's Ghost user still sign in with their own passwords
    assert w.client(MASTER, w.master_password, "SELECT 1").stdout.strip() == "1"
    assert w.client("ghost_ghost", w.dev_ghost_password, "SELECT COUNT(*) FROM posts", "ghost").stdout.strip() == "1"


def test_the_name_checks_give_the_reason(upgraded: World) -> None:
    proc = upgraded.as_provisioner(f"{CALL}('ghost_%', '{NEW}')")
    assert "refused database name: personal databases are ghost_<name>" in proc.stderr
    proc = upgraded.as_provisioner(f"{CALL}('ghost_zed', 'short')")
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]  # the client echoes the call too
    assert "refused password" in error and "short" not in error, "the reason, never the value"
    proc = upgraded.as_provisioner(f"ALTER USER '{MASTER}'@'%' IDENTIFIED BY '{NEW}'")
    assert "denied" in proc.stderr and "CREATE USER" in proc.stderr, proc.stderr


def test_an_environment_that_hosts_no_personal_stacks_removes_the_provisioner(world: World, upgraded: World) -> None:
    """prod's bootstrap as rendered (no provisioner Secret, GHOST_DB_PROVISIONER_USER set), on an instance where an
    earlier version made the provisioner: the user and the procedures are gone, prod's own database is ready."""
    prod = render("prod")
    assert prod.admin_user == MASTER
    proc = world.run_job(prod, prod.job, {"user": MASTER, "password": world.master_password},
                         _password(DB_PASSWORD_SPECIALS), provisioner=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"provisioner {PROVISIONER_USER} removed" in proc.stdout
    assert world.server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE user = '{PROVISIONER_USER}'").stdout.strip() == "0"
    assert world.server.sql(f"SHOW DATABASES LIKE '{PROVISIONING_SCHEMA}'").stdout.strip() == ""
    again = world.run_job(prod, prod.job, {"user": MASTER, "password": world.master_password},
                          _password(DB_PASSWORD_SPECIALS), provisioner=False)
    assert again.returncode == 0 and "removed" not in again.stdout, again.stdout + again.stderr
