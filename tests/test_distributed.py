"""The Ray distributor (engine/distributed.py) on a real cluster: ``ray start --head`` plus one worker node.

Both nodes run on this machine on loopback addresses (the head on 127.0.0.2, the worker on 127.0.0.3: Ray
replaces 127.0.0.1 by the machine's network address), with bounded resources (2 CPUs, a 100 MB object
store each), no dashboard, no usage statistics, and a private token. The drivers are real ``geoclip
embed --backend ray --ray-address`` processes. The fixture stops every process it started (by their
ids, in a ``finally``), also when a test fails.

Checks: a Ray-made cache equals the local backend's cache of the same shards (same ids, features within
1e-5); a driver killed mid-run leaves complete chunks only, and the rerun embeds only the rest; a worker
node killed mid-run is survived with nothing missing and nothing stored twice.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

from geoclip_utils.engine import (
    EmbedOptions,
    LocalDistributor,
    ShardInput,
    embed,
    load_embeddings,
    load_model,
    load_report,
)
from geoclip_utils.engine.cache import chunk_paths, model_cache_dir
from geoclip_utils.engine.synthetic import synthetic_shards

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a real Ray cluster: alone, after the parallel tests

BIN = Path(sys.executable).parent
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
N_IMAGES, N_SHARDS, PIECE = 320, 8, 10  # 32 pieces: one chunk each
MODEL_DIR = "random__tiny-seed0"


def _free_ports(ip: str, n: int) -> list[int]:
    """``n`` distinct ports free on ``ip`` now (all sockets held until every port is chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((ip, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """A head and a worker node started with ``ray start --block``, each in its own process group."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="geoclip-ray-", dir="/tmp"))  # short: socket paths
        self.env = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = _free_ports(HEAD_IP, 1)[0]
        self.address = f"{HEAD_IP}:{self.port}"

    def _args(self, name: str, ip: str) -> list[str]:
        """``ray start`` for one node, with ports chosen afresh (a port taken since the last try is not reused)."""
        opts = (
            "node-manager-port",
            "object-manager-port",
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "runtime-env-agent-port",
            "metrics-export-port",
        )
        ports = _free_ports(ip, len(opts))
        args = [
            str(BIN / "ray"),
            "start",
            "--block",
            f"--node-ip-address={ip}",
            "--num-cpus=2",
            "--num-gpus=0",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            "--include-log-monitor=false",
            f"--temp-dir={self.temp}",
            *(f"--{opt}={port}" for opt, port in zip(opts, ports, strict=True)),
        ]
        return args + (
            ["--head", f"--port={self.port}", "--include-dashboard=false"]
            if name == "head"
            else [f"--address={self.address}"]
        )

    def _start(self, name: str, ip: str) -> None:
        # The raylet gives its agents 15 s to start; on a loaded machine they may need longer, and a port
        # chosen free may be taken before Ray binds it: try again, with new ports, after a pause.
        log_path = self.temp / f"{name}.log"
        for attempt in range(4):
            time.sleep(5 * attempt)
            offset = log_path.stat().st_size if log_path.exists() else 0
            log = open(log_path, "a")  # noqa: SIM115 - closed with the process
            env = {**self.env, "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen(
                self._args(name, ip), env=env, start_new_session=True, stdout=log, stderr=log
            )
            self.procs[name] = proc
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                with open(log_path, errors="replace") as fh:
                    fh.seek(offset)
                    if "Ray runtime started" in fh.read():  # printed once the node has registered
                        return
                time.sleep(0.5)
            self._kill(name)
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise RuntimeError(f"the Ray {name} node did not start in 4 tries; the end of {log_path}:\n{tail}")

    def start(self) -> None:
        self._start("head", HEAD_IP)
        self._start("worker", WORKER_IP)
        script = (
            "import ray, time\n"
            f"ray.init(address='{self.address}', _node_ip_address='{HEAD_IP}', log_to_driver=False)\n"
            "for _ in range(120):\n"
            "    if sum(n['Alive'] for n in ray.nodes()) >= 2: break\n"
            "    time.sleep(1)\n"
            "print('alive', sum(n['Alive'] for n in ray.nodes()))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert "alive 2" in out.stdout, out.stdout + out.stderr

    def _kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        try:
            family = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            family = [proc.pid]
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)

    def kill_worker(self) -> None:
        """A node crash: the worker's raylet, agents and worker processes are killed at once."""
        self._kill("worker")

    def stop(self) -> None:
        for name in list(self.procs):
            self._kill(name)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Shards of synthetic photos and the local backend's cache of them."""
    root = tmp_path_factory.mktemp("shards")
    synthetic_shards(root / "sh", N_IMAGES, n_shards=N_SHARDS, size=(160, 120))
    model, preprocess, _ = load_model("tiny", device="cpu")
    embed(
        ShardInput(sorted((root / "sh").glob("*.tar"))),
        root / "local",
        model=model,
        preprocess=preprocess,
        options=EmbedOptions(chunk_size=PIECE, progress=False),
        distributor=LocalDistributor(workers=0),
    )
    ids, feats = load_embeddings(root / "local")
    return {"pattern": f"{root}/sh/{{00000..{N_SHARDS - 1:05d}}}.tar", "ids": ids, "feats": feats}


def _embed(cluster: LocalCluster, pattern: str, out: Path) -> subprocess.Popen:
    args = [
        str(BIN / "geoclip"),
        *("embed", "--shards", pattern, "--model", "tiny", "--out", str(out)),
        *("--backend", "ray", "--ray-address", cluster.address, "--device", "cpu"),
        *("--chunk-size", str(PIECE), "--batch-size", "8", "--no-progress"),
    ]
    return subprocess.Popen(
        args,
        env=cluster.env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_chunks(out: Path, n: int, proc: subprocess.Popen, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while len(chunk_paths(model_cache_dir(out, "random/tiny-seed0"))) < n:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "no chunks written in time"
        time.sleep(0.01)


def _same_as_local(out: Path, data: dict) -> None:
    ids, feats = load_embeddings(out)  # raises when an id is stored twice
    order = np.argsort(ids)
    assert [ids[i] for i in order] == sorted(data["ids"]) and len(ids) == N_IMAGES
    local = np.argsort(data["ids"])
    assert float(np.abs(feats[order] - data["feats"][local]).max()) <= 1e-5
    report = load_report(out)
    assert len(report) == N_IMAGES and (report["status"] == "ok").all()


def test_ray_cache_equals_local_and_a_rerun_after_a_kill_does_only_the_rest(cluster, data, tmp_path):
    out = tmp_path / "ray"
    driver = _embed(cluster, data["pattern"], out)
    try:
        _wait_for_chunks(out, 3, driver)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver dies mid-run (Ctrl-C, kill -9, pre-emption)
        driver.wait(timeout=60)
    kept = {p.name: p.stat().st_mtime_ns for p in chunk_paths(out / MODEL_DIR)}
    assert 3 <= len(kept) < N_IMAGES // PIECE, "the driver was to be killed mid-run"
    rerun = _embed(cluster, data["pattern"], out)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output
    written = int(re.search(r"\((\d+) written by this run on Ray", output).group(1))
    assert written == N_IMAGES - len(kept) * PIECE, output
    assert {p.name: p.stat().st_mtime_ns for p in chunk_paths(out / MODEL_DIR)[: len(kept)]} == kept
    _same_as_local(out, data)


def test_ray_survives_a_killed_worker_node(cluster, data, tmp_path):
    out = tmp_path / "ray"
    driver = _embed(cluster, data["pattern"], out)
    try:
        _wait_for_chunks(out, 1, driver)
        # freeze the driver the moment its first chunk is written, so the worker dies mid-run whatever
        # the speed of this machine; the pieces still in flight are lost with the worker
        os.killpg(driver.pid, signal.SIGSTOP)
        try:
            at_kill = len(chunk_paths(out / MODEL_DIR))
            cluster.kill_worker()
        finally:
            os.killpg(driver.pid, signal.SIGCONT)
        output, _ = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 0, output
    assert at_kill < N_IMAGES // PIECE, "the worker was to be killed mid-run"
    assert f"{N_IMAGES} images embedded, 0 skipped in the cache ({N_IMAGES} written by this run" in output
    _same_as_local(out, data)


def test_cpu_encoder_takes_every_core_back_after_a_fused_decode(monkeypatch):
    """Without GPUs Ray Data fuses _decode_batch into the encoder actor; its one-thread setting must not
    stay in force while the model encodes (it halved the encoder's speed on 2 cores)."""
    from geoclip_utils.engine import distributed

    loader = distributed.model_loader("tiny")
    info, _, dim, _ = distributed._probe(loader, "cpu")
    seen: list[int] = []
    monkeypatch.setattr(
        distributed, "encode_rows", lambda model, batch, d: seen.append(torch.get_num_threads())
    )
    before = torch.get_num_threads()
    try:
        encoder = distributed._Encoder(loader, "cpu", info, dim, gpu=False)
        list(distributed._decode_batch({"unit": []}))  # what a fused decode step does to this process first
        assert torch.get_num_threads() == 1
        encoder({"id": []})
    finally:
        torch.set_num_threads(before)
    assert seen == [max(1, os.cpu_count() or 1)]


def test_a_folder_on_ray_is_cut_into_the_same_units_as_locally(cluster, tmp_path):
    """Folder input: the Ray distributor embeds the same units (slices of the ids, one chunk each) as the
    local one, so the two caches hold the same chunks, whatever order Ray finishes them in."""
    from geoclip_utils.engine import embed_images, synthetic_photos

    ids = synthetic_photos(tmp_path / "img", 24, size=(96, 72))
    (tmp_path / "ids.csv").write_text("image_id\n" + "\n".join(ids) + "\n")
    model, preprocess, _ = load_model("tiny", device="cpu")
    embed_images(
        model, preprocess, tmp_path / "img", ids, tmp_path / "local", chunk_size=8, workers=0, progress=False
    )
    args = [
        str(BIN / "geoclip"),
        *("embed", "--images", str(tmp_path / "img"), "--ids", str(tmp_path / "ids.csv"), "--model", "tiny"),
        *(
            "--out",
            str(tmp_path / "ray"),
            "--backend",
            "ray",
            "--ray-address",
            cluster.address,
            "--device",
            "cpu",
        ),
        *("--chunk-size", "8", "--batch-size", "4", "--no-progress"),
    ]
    out = subprocess.run(args, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr

    def chunks(cache: Path) -> dict[frozenset, np.ndarray]:
        from geoclip_utils.engine.cache import read_chunk

        return {
            frozenset(c["ids"].tolist()): c["features"][np.argsort(c["ids"])]
            for c in map(read_chunk, chunk_paths(cache / MODEL_DIR))
        }

    local, ray = chunks(tmp_path / "local"), chunks(tmp_path / "ray")
    assert set(local) == set(ray) and len(local) == 3
    assert max(float(np.abs(local[k] - ray[k]).max()) for k in local) <= 1e-5
