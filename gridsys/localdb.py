"""The private PostgreSQL + PostGIS cluster used when no DATABASE_URL is set.

The cluster lives under ``var/pg`` of the checkout (or ``GRIDSYS_VAR_DIR``), listens
on 127.0.0.1 only, and authenticates with a generated password kept in
``var/pg.json`` (mode 600). PostgreSQL refuses to run as root: when this module is
run by root, the server runs as an unprivileged system user (``postgres`` when
the OS packages created it, else ``gridsys-pg``).

Usage: ``python -m gridsys.localdb start|stop|status|url [--db NAME]``.
Nothing here runs at import time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_MAJOR = "15"
ROLE = "gridsys"
DEFAULT_DB = "gridsys"
FIRST_PORT = 54329
OS_PACKAGES = ["postgresql-15", "postgresql-15-postgis-3"]


class LocalDbError(RuntimeError):
    """The private cluster could not be set up; the message says what to do."""


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    return Path(os.environ.get("GRIDSYS_VAR_DIR") or repo_root() / "var").resolve()


def state_file() -> Path:
    return var_dir() / "pg.json"


def read_state() -> dict | None:
    try:
        return json.loads(state_file().read_text())
    except FileNotFoundError:
        return None


def url(db: str = DEFAULT_DB) -> str | None:
    """The SQLAlchemy URL of the private cluster, or None when it was never set up."""
    state = read_state()
    if state is None:
        return None
    return f"postgresql+psycopg://{ROLE}:{state['password']}@127.0.0.1:{state['port']}/{db}"


# --- OS level -------------------------------------------------------------

def _is_root() -> bool:
    return os.geteuid() == 0


def pg_bindir() -> Path:
    candidate = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (candidate / "postgres").exists():
        return candidate
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and (Path(out) / "postgres").exists():
            return Path(out)
    raise LocalDbError(
        f"PostgreSQL {PG_MAJOR} server binaries not found. Install them with "
        f"`apt-get install {' '.join(OS_PACKAGES)}` (make does this when run as root).")


def _postgis_installed() -> bool:
    return Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/postgis.control").exists()


def ensure_os_packages() -> None:
    """Install PostgreSQL 15 and PostGIS 3 from the OS packages when missing (root only)."""
    have_server = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin/postgres").exists()
    if have_server and _postgis_installed():
        return
    if not _is_root() or not shutil.which("apt-get"):
        raise LocalDbError(
            "PostgreSQL 15 with PostGIS 3 is missing; as root run "
            f"`apt-get install {' '.join(OS_PACKAGES)}`, or set DATABASE_URL.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *OS_PACKAGES], check=True, env=env)


def service_user() -> str | None:
    """The user the server runs as when we are root; None means 'as ourselves'."""
    if not _is_root():
        return None
    for name in ("postgres", "gridsys-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "gridsys-pg"], check=True)
    return "gridsys-pg"


def _as_service(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _can_reach(path: Path, user: str) -> bool:
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)],
                           capture_output=True)
    return probe.returncode == 0


def cluster_dir(user: str | None) -> Path:
    """Where the server's files live: var/pg, or (root, path not reachable) a system dir.

    When root's checkout sits below a directory the service user cannot enter
    (e.g. /root), the cluster goes to /var/lib/gridsys/<hash> and var/pg links to it.
    """
    home = var_dir() / "pg"
    if user is None or home.is_symlink() or (home.exists() and home.owner() == user):
        return home.resolve()
    var_dir().mkdir(parents=True, exist_ok=True)
    if _can_reach(var_dir(), user):
        return home
    digest = hashlib.sha1(str(var_dir()).encode()).hexdigest()[:12]
    target = Path("/var/lib/gridsys") / digest
    target.mkdir(parents=True, exist_ok=True)
    Path("/var/lib/gridsys").chmod(0o755)
    home.symlink_to(target)
    return target


def _free_port(start: int) -> int:
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise LocalDbError(f"no free TCP port on 127.0.0.1 from {start}")


# --- cluster life cycle ----------------------------------------------------

def init_cluster() -> dict:
    ensure_os_packages()
    user = service_user()
    home = cluster_dir(user)
    data = home / "data"
    state = read_state()
    if state and (data / "PG_VERSION").exists():
        return state
    home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    port = int(os.environ.get("GRIDSYS_PGPORT") or _free_port(FIRST_PORT))
    pwfile = home / "initpw"
    pwfile.write_text(password + "\n")
    if user:
        shutil.chown(home, user, user)
        shutil.chown(pwfile, user, user)
    home.chmod(0o700)
    pwfile.chmod(0o600)
    try:
        subprocess.run(_as_service([str(pg_bindir() / "initdb"), "-D", str(data), "-U", ROLE,
                                    "--pwfile", str(pwfile), "--auth=scram-sha-256",
                                    "--encoding=UTF8", "--locale=C.UTF-8"], user),
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise LocalDbError(f"initdb failed: {exc.stderr.strip()}") from exc
    finally:
        pwfile.unlink(missing_ok=True)
    state = {"port": port, "password": password, "user": user or pwd.getpwuid(os.getuid()).pw_name,
             "home": str(home)}
    var_dir().mkdir(parents=True, exist_ok=True)
    sf = state_file()
    sf.write_text(json.dumps(state, indent=2))
    sf.chmod(0o600)
    return state


def _pg_ctl(args: list[str], state: dict, check=True, env: dict | None = None) -> subprocess.CompletedProcess:
    user = service_user()
    data = Path(state["home"]) / "data"
    cmd = [str(pg_bindir() / "pg_ctl"), "-D", str(data), *args]
    return subprocess.run(_as_service(cmd, user), capture_output=True, text=True, check=check, env=env)


def is_running(state: dict | None = None) -> bool:
    state = state or read_state()
    if not state:
        return False
    return _pg_ctl(["status"], state, check=False).returncode == 0


def shared_buffers_mb() -> int:
    """PostgreSQL's usual advice, a quarter of the machine's memory, kept between 128 MB and 2 GB:
    a city's year (2 000 000 incidents, their indexes over 1.5 GB) no longer spills out of 256 MB
    on every escalation sweep or list, and a small CI machine is not asked for more than it has."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 256
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):   # a container's
        try:
            total = min(total, int(Path(limit).read_text().strip()))
        except (OSError, ValueError):   # absent, or "max"
            pass
    return max(128, min(2048, total // (4 * 1024 * 1024)))


# A burst of writes to random pages of a big table (an escalation sweep over a city's year: each row
# another page, logged whole after a checkpoint) fills the write-ahead log with page images. Compressed,
# they are half the bytes (the sweep of 10 000: 2.7 -> 1.7 s); with room for 4 GB of log between
# checkpoints, one burst does not force another checkpoint, and its page images, midway.
MAX_WAL_SIZE = "4GB"


def wal_compression() -> str:
    """lz4 (fast; Debian's and PGDG's servers are built with it), else PostgreSQL's own pglz."""
    try:
        configure = subprocess.run([str(pg_bindir() / "pg_config"), "--configure"],
                                   capture_output=True, text=True).stdout
    except OSError:
        configure = ""
    return "lz4" if "--with-lz4" in configure else "pglz"


# glibc's malloc hands a backend's freed memory back to the kernel as soon as it can (blocks from
# 128 KB are mmapped, and the heap's top is trimmed past twice that, both thresholds moving with what
# it sees): planning the page header's queue counts (twenty-odd subqueries, a custom plan on every
# call) took and gave back about 1.4 MB a transaction, 350 fresh pages at city scale; a GET
# /api/v1/me, 480. On a virtual machine that reports free pages to its host (this one: virtio-balloon
# page_reporting), each such page comes back through the host: 1 to 2 % of /api/v1/me calls spent
# 30-80 ms in the kernel zeroing pages (perf: clear_page_erms under the planner), p99 17 ms and max
# 98 ms beside a p50 of 9. Fixed thresholds let a backend keep up to 64 MB for reuse: 3 page faults
# a request instead of 480, p99 10 ms, max 14 ms (2 000 calls; tests/incidents/test_header_memory.py).
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"


def server_env() -> dict:
    """The server's environment: ours, with MALLOC_TUNABLES added to any GLIBC_TUNABLES given."""
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = ":".join(filter(None, (env.get("GLIBC_TUNABLES"), MALLOC_TUNABLES)))
    return env


def start() -> dict:
    state = init_cluster()
    if is_running(state):
        return state
    opts = (f"-p {state['port']} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c shared_buffers={shared_buffers_mb()}MB -c max_connections=200 -c fsync=on "
            f"-c wal_compression={wal_compression()} -c max_wal_size={MAX_WAL_SIZE}")
    log = Path(state["home"]) / "server.log"
    proc = _pg_ctl(["-l", str(log), "-o", opts, "-w", "-t", "60", "start"], state, check=False, env=server_env())
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise LocalDbError(f"could not start PostgreSQL: {proc.stderr.strip()}\n{tail}")
    _wait_ready(state)
    return state


def _wait_ready(state: dict, timeout: float = 30) -> None:
    import psycopg
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=state["port"], user=ROLE,
                                 password=state["password"], dbname="postgres", connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop() -> None:
    state = read_state()
    if state and is_running(state):
        _pg_ctl(["-m", "fast", "-w", "stop"], state)


def ensure_database(name: str, *, recreate: bool = False) -> str:
    """Create database ``name`` in the running private cluster; return its URL."""
    import psycopg
    from psycopg import sql
    state = read_state() or start()
    with psycopg.connect(host="127.0.0.1", port=state["port"], user=ROLE, password=state["password"],
                         dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and recreate:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url(name)


def drop_database(name: str) -> None:
    """Drop a database of the private cluster (test runs clean up after themselves)."""
    import psycopg
    from psycopg import sql
    state = read_state()
    if not state:
        return
    with psycopg.connect(host="127.0.0.1", port=state["port"], user=ROLE, password=state["password"],
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridsys.localdb", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    parser.add_argument("--db", default=DEFAULT_DB, help="database to create (start) or name (url)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            start()
            print(ensure_database(args.db))
        elif args.action == "stop":
            stop()
            print("private PostgreSQL stopped")
        elif args.action == "status":
            running = is_running()
            print("running" if running else "stopped")
            return 0 if running else 3
        else:
            found = url(args.db)
            if not found:
                print("the private cluster was never set up: run `make db`", file=sys.stderr)
                return 1
            print(found)
    except LocalDbError as exc:
        print(f"gridsys.localdb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
