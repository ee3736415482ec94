"""The private cluster's memory: a quarter of what the machine (or its container) has, 128 MB to 2 GB."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gridsys import localdb

GB = 1024 ** 3


@pytest.mark.parametrize("machine, container, expected", [
    (24 * GB, None, 2048),          # capped
    (4 * GB, None, 1024),
    (256 * 1024 ** 2, None, 128),   # floored
    (64 * GB, 2 * GB, 512),         # the container's limit, not the host's memory
    (64 * GB, "max", 2048),         # a container without a limit
])
def test_shared_buffers_follow_the_memory_there_is(monkeypatch, tmp_path, machine, container, expected):
    monkeypatch.setattr(localdb.os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": machine // 4096}[name])
    limits = {}
    if container is not None:
        (tmp_path / "memory.max").write_text(f"{container}\n")
        limits["/sys/fs/cgroup/memory.max"] = tmp_path / "memory.max"
    real_path = localdb.Path
    monkeypatch.setattr(localdb, "Path", lambda p: limits.get(p, real_path(tmp_path / "absent")))
    assert localdb.shared_buffers_mb() == expected


@pytest.mark.parametrize("configure, expected", [("'--with-lz4' '--with-zstd'", "lz4"), ("'--with-openssl'", "pglz")])
def test_the_log_is_compressed_with_lz4_where_the_server_has_it(monkeypatch, configure, expected):
    monkeypatch.setattr(localdb.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": configure})())
    assert localdb.wal_compression() == expected


def test_the_private_cluster_runs_with_its_write_ahead_log_settings(private_cluster, connection):
    """The cluster the tests run on was started by ``localdb.start``."""
    assert connection.execute(text("SHOW wal_compression")).scalar() == localdb.wal_compression()
    assert connection.execute(text("SHOW max_wal_size")).scalar() == localdb.MAX_WAL_SIZE


def test_the_servers_malloc_tunables_join_any_given(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F")
    assert localdb.server_env()["GLIBC_TUNABLES"] == f"glibc.cpu.hwcaps=-AVX512F:{localdb.MALLOC_TUNABLES}"
    monkeypatch.delenv("GLIBC_TUNABLES")
    assert localdb.server_env()["GLIBC_TUNABLES"] == localdb.MALLOC_TUNABLES
