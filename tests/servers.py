"""Real servers started by tests on a free loopback port: PostgreSQL and ``chroma run``.

Each yields its URL, or skips the test with the reason it could not start (no binaries,
no user to run postgres as, the server did not answer). Nothing here touches the network.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pg_bin() -> Path | None:
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(found) / "initdb").exists():
            return Path(found)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields ``postgresql+psycopg://advisor@127.0.0.1:PORT/advisor``."""
    pg = _pg_bin()
    if pg is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    prefix: list[str] = []
    if os.geteuid() == 0:
        runner = shutil.which("runuser")
        if runner is None:
            pytest.skip("running as root and no runuser to start postgres as another user")
        prefix = [runner, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    data = root / "data"
    if prefix:
        shutil.chown(root, "postgres")
    port = free_port()
    log = root / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)

    init = run(str(pg / "initdb"), "-D", str(data), "-U", "advisor", "-A", "trust", "-E", "UTF8")
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = run(str(pg / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        if start.returncode != 0:
            pytest.skip(f"PostgreSQL did not start: {start.stdout.strip()[-200:]}")
        created = run(
            str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "advisor", "advisor"
        )
        if created.returncode != 0:
            pytest.skip(f"createdb failed: {created.stderr.strip()}")
        yield f"postgresql+psycopg://advisor@127.0.0.1:{port}/advisor"
    finally:
        run(str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[str, int]]:
    """``chroma run`` on a free port with its data in ``path``; yields (host, port)."""
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        pytest.skip("the chroma command (pip install chromadb) is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"chroma run did not start on port {port} (exit {proc.poll()})")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
