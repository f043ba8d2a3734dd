"""A throwaway PostgreSQL server for the tests, started from the machine's own binaries.

The cluster lives in a temporary folder for one test session, listens on 127.0.0.1 on a free
port (and a unix socket in that folder), and trusts local connections, except for one role with
a real password so the password path is exercised too. initdb and postgres refuse to run as
root, so under root (CI) they run as the ``postgres`` system user. When no server can be
started, ``Unavailable`` says what is missing, and the tests skip with that message.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: a role that must log in with a password (scram-sha-256), for the password_env test
PASSWORD_ROLE = ("librarian", "kütüphana-şifrə")


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message names what is missing."""


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    _as_user: list[str]
    _names = itertools.count(1)

    def url(self, database: str = "postgres", user: str = "kitab") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql over the unix socket; returns its output."""
        command = [
            str(self.bindir / "psql"),
            *("-h", str(self.root), "-p", str(self.port), "-U", "kitab", "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-tAc", statement),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {done.stderr.strip()}")
        return done.stdout

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"kitab_test_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name)

    def restart(self) -> None:
        """Stop and start again: every client connection is cut, as in a failover."""
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast"]
        pg_ctl += ["-l", str(self.root / "log")]  # else the server keeps our output pipe open
        done = subprocess.run(
            [*self._as_user, *pg_ctl, "-w", "restart"], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart: {done.stderr.strip()}")

    def stop(self) -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        stop = [pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]
        subprocess.run([*self._as_user, *stop], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path:
    """The newest installed server's bin folder ($KITAB_PG_BINDIR wins)."""
    if os.environ.get("KITAB_PG_BINDIR"):
        return Path(os.environ["KITAB_PG_BINDIR"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise Unavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed: "
        "`make test` installs the Debian package postgresql as root, or set KITAB_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server() -> PgServer:
    bindir = find_bindir()
    for program in ("initdb", "pg_ctl", "postgres", "psql"):
        if not (bindir / program).exists():
            raise Unavailable(f"{bindir / program} is missing")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="kitab-pg-"))
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the postgres user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` system user") from None
        if shutil.which("runuser") is None:
            raise Unavailable("running as root and `runuser` is not installed")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "kitab", "-A", "trust"]
    initdb += ["-E", "UTF8", "--locale=C", "-N"]
    init = subprocess.run([*as_user, *initdb], capture_output=True, text=True, check=False)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {init.stderr.strip()[-400:]}")
    role = PASSWORD_ROLE[0]
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        f"host all {role} 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n",
        encoding="utf-8",
    )
    port = _free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    start += ["-o", options, "-w", "-t", "30", "start"]
    started = subprocess.run([*as_user, *start], capture_output=True, text=True, check=False)
    server = PgServer(bindir, root, port, as_user)
    if started.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-400:] if (root / "log").exists() else ""
        server.stop()
        raise Unavailable(f"postgres did not start: {started.stderr.strip()} {log}")
    password = PASSWORD_ROLE[1].replace("'", "''")
    server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    return server
