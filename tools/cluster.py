"""A local cluster for tests, the demo and the benchmark: NATS JetStream servers, TCP proxies between
nodes and servers (to cut a node off), and `ledger node` processes, all on 127.0.0.1.

Specification: issue 10 (README "Running several nodes"); the nats-server configuration file format
and its monitoring endpoint /jsz (docs.nats.io, "Configuring NATS Server" and "Monitoring"). JetStream
file storage with `sync_interval: always` fsyncs every message before it is acknowledged, so a publish
acknowledged by a quorum of 3 replicas survives any single server's crash, power loss included.

Every process runs in its own process group (so a Ctrl-C in the terminal reaches only the harness,
which then stops them) and is killed by whoever started it: `close()`, the context managers, and an
atexit hook for what is still alive when the interpreter exits.

    with Cluster(folder, nodes=3, nats=3, senders=64) as cluster:
        cluster.wait_same_tip(60)
        cluster.nodes[0].post_tx(data)
        cluster.partition(2); ...; cluster.heal(2)
"""
from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from ledger import Keypair, genesis_json, make_genesis
from ledger.keys import save_keypair

HOST = "127.0.0.1"
START_SECONDS_MAX = 120        # a loaded 2-core machine starts Python and Go servers slowly
POLL_SECONDS = 0.05

# Every process started here, until it is waited for: killed at interpreter exit if still alive.
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


def _kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)   # start_new_session: the group id is the process id
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for process in leftovers:
        if process.poll() is None:
            _kill_group(process)
    for process in leftovers:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the thread that started it exits (prctl(2)
    PR_SET_PDEATHSIG), so that a harness killed outright (kill -9, a CI timeout) leaves no servers
    behind; atexit cannot run then, and a session of its own keeps the child out of a group kill."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)   # PR_SET_PDEATHSIG = 1


try:
    import ctypes
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl   # resolved here: the child only calls it
except (OSError, AttributeError):   # not Linux
    _PRCTL = None


def _spawn(argv: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Start `argv` in a session of its own, output appended to `log_path`. Started from the main
    thread, it dies with the harness; from another thread, it would die when that thread ends, so
    there it does not (and only close() and atexit stop it)."""
    on_main = threading.current_thread() is threading.main_thread()
    with open(log_path, "ab") as log:   # the child keeps its own descriptor
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env,
                                   preexec_fn=_die_with_parent if on_main else None)
    with _LIVE_LOCK:
        _LIVE.add(process)
    return process


def _reap(process: subprocess.Popen, seconds: float = 30) -> None:
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
    with _LIVE_LOCK:
        _LIVE.discard(process)


def venv_program(name: str) -> str:
    """The program `name` installed beside this interpreter (the venv's bin/), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed beside {sys.executable} nor on PATH (run `make build`)")
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, below the kernel's ephemeral range: the kernel's own choice
    (bind to port 0) is an ephemeral port, which the outgoing connections of this very cluster can
    take as their source port before the server binds it (seen: a nats-server that could not bind
    its monitor port). Another process could still take it before use."""
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(10_000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:   # everything below taken: the kernel's
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (ip(7): ip_local_port_range), 32768 if unreadable."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, 10_001)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` so far (all its threads; /proc/PID/stat fields 14 and
    15, proc(5)); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()   # the name, in parentheses, may hold spaces
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""


def http_json(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
              timeout: float = 10) -> tuple[int, object]:
    """(status, decoded JSON body or the raw text when it is not JSON) of one request."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname, parts.port
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


# ------------------------------------------------------------------ NATS servers

class NatsCluster:
    """`size` nats-server processes with JetStream, clustered by routes to each other (a single server
    runs without a cluster block). Data and logs live under `folder`/nats-<i>/; `start(i)` restarts a
    killed server with the same configuration and data."""

    def __init__(self, folder: str | os.PathLike, size: int = 3, sync_interval: str = "always",
                 cluster_name: str = "ledger", start: bool = True, timeout: float = START_SECONDS_MAX,
                 max_payload: int = 8 * 1024 * 1024):
        assert 1 <= size <= 5, size
        self.max_payload = max_payload
        self.folder = Path(folder)
        self.size = size
        self.sync_interval = sync_interval
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        self.monitor_ports = [free_port() for _ in range(size)]
        self.processes: list[subprocess.Popen | None] = [None] * size
        self.program = venv_program("nats-server")
        self.configs = [self._write_config(i, cluster_name) for i in range(size)]
        if start:
            try:
                for i in range(size):
                    self.start(i, wait=False)
                self.wait_ready(timeout)
            except BaseException:
                self.close()
                raise

    def _write_config(self, i: int, cluster_name: str) -> Path:
        folder = self.folder / f"nats-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        # JSON strings are valid strings of the NATS configuration format (a superset of JSON)
        text = (f"server_name: {json.dumps(f'nats-{i}')}\n"
                f"listen: \"{HOST}:{self.client_ports[i]}\"\n"
                f"http: \"{HOST}:{self.monitor_ports[i]}\"\n"
                # a block is one message: room for the largest block a node cuts (the default is 1 MB)
                f"max_payload: {int(self.max_payload)}\n"
                "jetstream {\n"
                f"  store_dir: {json.dumps(str(folder / 'jetstream'))}\n"
                f"  sync_interval: {json.dumps(self.sync_interval)}\n"
                "}\n")
        if self.size > 1:
            routes = ", ".join(f'"nats://{HOST}:{port}"' for port in self.route_ports)
            # no_advertise: clients are not told the other servers' addresses, so a node behind
            # proxies (Cluster) reconnects through its proxies only and a partition stays cut
            text += (f"cluster {{\n  name: {json.dumps(cluster_name)}\n  listen: \"{HOST}:{self.route_ports[i]}\"\n"
                     f"  routes: [{routes}]\n  no_advertise: true\n}}\n")
        path = folder / "nats.conf"
        path.write_text(text)
        return path

    @property
    def urls(self) -> list[str]:
        return [f"nats://{HOST}:{port}" for port in self.client_ports]

    def log_path(self, i: int) -> Path:
        return self.folder / f"nats-{i}" / "server.log"

    def alive(self, i: int) -> bool:
        process = self.processes[i]
        return process is not None and process.poll() is None

    def start(self, i: int, wait: bool = True, timeout: float = START_SECONDS_MAX) -> None:
        """Start server i (again): same configuration, ports and JetStream data."""
        assert not self.alive(i), f"nats-{i} is running"
        self.processes[i] = _spawn([self.program, "-c", str(self.configs[i])], self.log_path(i))
        if wait:
            self.wait_ready(timeout)

    def kill(self, i: int) -> None:
        """SIGKILL server i (a crash: nothing is flushed beyond what it already synced)."""
        process = self.processes[i]
        if process is not None:
            _kill_group(process)
            _reap(process)

    def jsz(self, i: int) -> dict | None:
        try:
            status, body = http_json("GET", f"http://{HOST}:{self.monitor_ports[i]}/jsz", timeout=2)
        except OSError:
            return None
        return body if status == 200 and isinstance(body, dict) else None

    def _ready(self, i: int) -> bool:
        body = self.jsz(i)
        if body is None:
            return False
        if self.size == 1:
            return not body.get("disabled", False)
        # clustered JetStream serves requests once a meta leader is elected and known to this server
        return bool((body.get("meta_cluster") or {}).get("leader"))

    def _peers_current(self, running: list[int]) -> bool:
        """The meta leader sees every other running server as a current peer (else an R3 stream
        created now could find too few peers)."""
        leader = (self.jsz(running[0]) or {}).get("meta_cluster", {}).get("leader", "")
        if not leader.startswith("nats-") or int(leader[5:]) not in running:
            return False
        meta = (self.jsz(int(leader[5:])) or {}).get("meta_cluster") or {}
        current = {peer["name"] for peer in meta.get("replicas", []) if peer.get("current")}
        return all(f"nats-{i}" in current for i in running if f"nats-{i}" != leader)

    def wait_ready(self, timeout: float = START_SECONDS_MAX) -> None:
        """Until every running server answers /jsz and knows the JetStream meta leader, and that
        leader counts every other running server as a current peer."""
        deadline = time.monotonic() + timeout
        while True:
            running = [i for i in range(self.size) if self.alive(i)]
            for i in range(self.size):
                if self.processes[i] is not None and not self.alive(i):
                    raise RuntimeError(f"nats-{i} exited ({self.processes[i].returncode}):\n"
                                       f"{log_tail(self.log_path(i))}")
            if running and all(self._ready(i) for i in running) and (self.size == 1 or self._peers_current(running)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"NATS JetStream not ready within {timeout} s:\n"
                                   + "\n".join(log_tail(self.log_path(i), 10) for i in running))
            time.sleep(POLL_SECONDS)

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process is not None and process.poll() is None]

    def close(self) -> None:
        """Kill every server (always safe to call again)."""
        for i in range(self.size):
            self.kill(i)

    def __enter__(self) -> "NatsCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------ TCP proxy

class Proxy:
    """A TCP forwarder from a free port on 127.0.0.1 to (target_host, target_port), one thread per
    direction of each connection. `partition()` cuts every live connection and resets new ones until
    `heal()`: to the client behind it, the target has become unreachable."""

    BUFFER_BYTES = 64 * 1024

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._partitioned = False
        self._closed = False
        self.connections = 0      # accepted and forwarded
        self.refused = 0          # accepted while partitioned, and reset
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        try:   # linger 0: close sends RST, as a peer that vanished would be seen
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return   # closed
            with self._lock:
                refuse = self._partitioned or self._closed
            if refuse:
                self.refused += 1
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self._reset(client)
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._partitioned or self._closed:
                    self._reset(client)
                    self._reset(upstream)
                    continue
                self._sockets.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True,
                                 name=f"proxy-{self.port}-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(self.BUFFER_BYTES)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        # one side ended: end both (a half-open forward would hide the fault from the client)
        with self._lock:
            ours = [sock for sock in (source, sink) if sock in self._sockets]
            self._sockets.difference_update(ours)
        for sock in ours:
            self._reset(sock)

    def partition(self) -> None:
        """Cut every live connection; refuse new ones until heal()."""
        with self._lock:
            self._partitioned = True
            cut, self._sockets = list(self._sockets), set()
        for sock in cut:
            self._reset(sock)

    def heal(self) -> None:
        with self._lock:
            self._partitioned = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            cut, self._sockets = list(self._sockets), set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        for sock in cut:
            self._reset(sock)
        self._thread.join(5)


# ------------------------------------------------------------------ ledger nodes

class NodeError(RuntimeError):
    """An HTTP answer other than the one expected: `status` and the decoded `body`."""

    def __init__(self, status: int, body: object, url: str):
        super().__init__(f"{url}: HTTP {status}: {body}")
        self.status, self.body = status, body


class NodeProcess:
    """One `ledger node` process over its own store in `folder`: the store is created from
    `genesis_path` with `ledger init` (once), node.toml is written, and the node is started on a
    port chosen once (so its URL survives restarts). Its stderr and stdout go to `folder`/node.log."""

    def __init__(self, folder: str | os.PathLike, genesis_path: str | os.PathLike, name: str = "node",
                 key_file: str | os.PathLike | None = None, nats_servers: list[str] | None = None,
                 replicas: int = 3, lease_ttl_ms: int | None = None, blocks: dict | None = None,
                 mempool: dict | None = None, port: int | None = None, start: bool = True,
                 timeout: float = START_SECONDS_MAX, env: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.store = self.folder / "db"
        self.config_path = self.folder / "node.toml"
        self.log_path = self.folder / "node.log"
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None
        self.env = env
        self.program = venv_program("ledger")
        if not self.store.exists():
            result = subprocess.run([self.program, "init", "--db", str(self.store), "--genesis", str(genesis_path)],
                                    capture_output=True, text=True, timeout=timeout)
            if result.returncode != 0:
                raise RuntimeError(f"ledger init failed ({result.returncode}): {result.stderr.strip()}")
        self.config_path.write_text(self._config_text(key_file, nats_servers, replicas, lease_ttl_ms,
                                                      blocks or {}, mempool or {}))
        if start:
            self.start(timeout)

    def _config_text(self, key_file, nats_servers, replicas, lease_ttl_ms, blocks: dict, mempool: dict) -> str:
        def value(item: object) -> str:
            return json.dumps(item)   # a JSON string, integer or array of strings is the same in TOML

        lines = ["[store]", f"path = {value(str(self.store))}", "", "[http]",
                 f"host = {value(HOST)}", f"port = {self.port}", ""]
        if key_file is not None:
            lines += ["[validator]", f"key_file = {value(str(key_file))}", ""]
        for table, entries in (("blocks", blocks), ("mempool", mempool)):
            if entries:
                lines += [f"[{table}]"] + [f"{key} = {value(item)}" for key, item in entries.items()] + [""]
        if nats_servers:
            lines += ["[nats]", f"servers = {value(list(nats_servers))}", f"name = {value(self.name)}",
                      f"replicas = {replicas}"]
            if lease_ttl_ms is not None:
                lines.append(f"lease_ttl_ms = {lease_ttl_ms}")
            lines.append("")
        return "\n".join(lines)

    # -- lifecycle

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_SECONDS_MAX) -> None:
        """Start the node and wait for its `listening on` line (a new line of the log)."""
        assert not self.alive(), f"{self.name} is running"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = _spawn([self.program, "node", "--config", str(self.config_path)], self.log_path, self.env)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
            if any(line.startswith("listening on ") for line in text.splitlines()):
                return
            if self.process.poll() is not None:
                code = self.process.returncode
                _reap(self.process)
                raise RuntimeError(f"{self.name} exited ({code}) before listening:\n{log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"{self.name} not listening within {timeout} s:\n{log_tail(self.log_path)}")
            time.sleep(POLL_SECONDS)

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        if self.process is not None:
            _kill_group(self.process)
            _reap(self.process)

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM, wait for the clean stop (killed after `timeout`); the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            _kill_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(self.process)
        _reap(self.process)
        return self.process.returncode

    def restart(self, timeout: float = START_SECONDS_MAX) -> None:
        """Stop (SIGTERM) if running, then start again on the same store, configuration and port."""
        if self.alive():
            self.terminate()
        self.start(timeout)

    # -- HTTP

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 10) -> tuple[int, object]:
        return http_json(method, self.url + path, body, headers, timeout)

    def get(self, path: str, timeout: float = 10) -> object:
        """The JSON answer of GET `path`; NodeError unless 200."""
        status, body = self.request("GET", path, timeout=timeout)
        if status != 200:
            raise NodeError(status, body, self.url + path)
        return body

    def post_tx(self, data: bytes, timeout: float = 10) -> tuple[int, object]:
        """Submit one encoded transaction (raw bytes): (status, JSON answer); 202 when admitted."""
        return self.request("POST", "/tx", data, {"Content-Type": "application/octet-stream"}, timeout)

    def log(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


# ------------------------------------------------------------------ a whole cluster

def deterministic_keypair(label: str) -> Keypair:
    """A key derived from `label` (test keys only: anyone can derive them)."""
    return Keypair.from_seed(hashlib.sha256(b"ledger cluster harness\x00" + label.encode()).digest())


class Cluster:
    """`nodes` ledger nodes over a `nats`-server JetStream cluster, each node with its own validator
    key (all in the genesis), an issuer and `senders` funded senders. With `proxies`, node i reaches
    NATS server j through its own Proxy (partition(i) cuts node i off from every server)."""

    def __init__(self, folder: str | os.PathLike, nodes: int = 3, nats: int = 3, senders: int = 64,
                 balance: int = 10**15, replicas: int | None = None, lease_ttl_ms: int | None = None,
                 blocks: dict | None = None, mempool: dict | None = None, proxies: bool = True,
                 sync_interval: str = "always", replicated: bool = True, name: str = "cluster harness",
                 start: bool = True, timeout: float = START_SECONDS_MAX):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.validators = [deterministic_keypair(f"validator {i}") for i in range(nodes)]
        self.issuer = deterministic_keypair("issuer")
        self.senders = [deterministic_keypair(f"sender {i}") for i in range(senders)]
        self.sink = deterministic_keypair("sink")   # unfunded; receives the load's transfers
        self.genesis = make_genesis(name, 1_767_225_600_000, [key.public_key for key in self.validators],
                                    [self.issuer.public_key], {key.public_key: balance for key in self.senders})
        self.chain_id = self.genesis.chain_id
        self.genesis_path = self.folder / "genesis.json"
        self.genesis_path.write_text(json.dumps(genesis_json(self.genesis), indent=1))
        self.key_files = []
        for i, key in enumerate(self.validators):
            path = self.folder / f"validator-{i}.pem"
            if not path.exists():
                save_keypair(path, key)
            self.key_files.append(path)
        self.replicas = replicas if replicas is not None else min(3, nats)
        self.nats: NatsCluster | None = None
        self.proxies: list[list[Proxy]] = []
        self.nodes: list[NodeProcess] = []
        try:
            if replicated:
                self.nats = NatsCluster(self.folder / "nats", nats, sync_interval=sync_interval, start=start,
                                        timeout=timeout)
            for i in range(nodes):
                servers = None
                if self.nats is not None:
                    if proxies:
                        row = [Proxy(HOST, port) for port in self.nats.client_ports]
                        self.proxies.append(row)
                        servers = [f"nats://{proxy.address}" for proxy in row]
                    else:
                        servers = self.nats.urls
                self.nodes.append(NodeProcess(self.folder / f"node-{i}", self.genesis_path, f"node-{i}",
                                              self.key_files[i], servers, self.replicas, lease_ttl_ms,
                                              blocks, mempool, start=False, timeout=timeout))
            if start:
                self.start(timeout)
        except BaseException:
            self.close()
            raise

    def start(self, timeout: float = START_SECONDS_MAX) -> None:
        """Start what is not running: the NATS servers (waiting for JetStream), then the nodes."""
        if self.nats is not None:
            stopped = [i for i in range(self.nats.size) if not self.nats.alive(i)]
            for i in stopped:
                self.nats.start(i, wait=False)
            if stopped:
                self.nats.wait_ready(timeout)
        for node in self.nodes:
            if not node.alive():
                node.start(timeout)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def partition(self, i: int) -> None:
        """Cut node i off from every NATS server (its HTTP side stays up)."""
        assert self.proxies, "the cluster was started without proxies"
        for proxy in self.proxies[i]:
            proxy.partition()

    def heal(self, i: int) -> None:
        for proxy in self.proxies[i]:
            proxy.heal()

    def infos(self, nodes: list[int] | None = None) -> list[dict | None]:
        """GET /info of each node (None for one that does not answer)."""
        result = []
        for i in nodes if nodes is not None else range(len(self.nodes)):
            try:
                result.append(self.nodes[i].get("/info", timeout=5))
            except (OSError, NodeError):
                result.append(None)
        return result

    def leader(self, timeout: float = 60) -> int | None:
        """The index of the node holding the proposer lease (/health "leader"), waiting until one
        does; None for nodes without replication (no "leader" in /health: each proposes alone)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, node in enumerate(self.nodes):
                try:
                    health = node.get("/health", timeout=5)
                except (OSError, NodeError):
                    continue
                if "leader" not in health:
                    return None
                if health["leader"] is True:
                    return i
            if time.monotonic() > deadline:
                raise TimeoutError(f"no node holds the proposer lease after {timeout} s")
            time.sleep(0.1)

    def wait_same_tip(self, timeout: float = 60, nodes: list[int] | None = None, min_height: int = 0) -> dict:
        """Until the nodes (all, or those listed) report the same height, tip hash and state root,
        at least `min_height`; that /info. TimeoutError naming each node's tip otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            infos = self.infos(nodes)
            if all(info is not None for info in infos):
                tips = {(info["height"], info["tip_hash"], info.get("state_root")) for info in infos}
                if len(tips) == 1 and infos[0]["height"] >= min_height:
                    return infos[0]
            if time.monotonic() > deadline:
                described = "; ".join(f"node-{i}: " + (f"height {info['height']} {info['tip_hash'][:16]}"
                                                        if info else "no answer")
                                      for i, info in zip(nodes or range(len(self.nodes)), infos))
                raise TimeoutError(f"nodes not at one tip within {timeout} s: {described}")
            time.sleep(0.1)

    def report(self, lines: int = 15) -> str:
        """Each process's state and the end of its log: what to print when something went wrong
        (the folder may be a temporary one, gone after close)."""
        parts = []
        for node in self.nodes:
            state = "running" if node.alive() else (f"exited {node.process.returncode}" if node.process else "not started")
            parts.append(f"--- {node.name} ({state}), {node.log_path}:\n{node.log(lines)}")
        if self.nats is not None:
            for i in range(self.nats.size):
                state = "running" if self.nats.alive(i) else "stopped"
                parts.append(f"--- nats-{i} ({state}), {self.nats.log_path(i)}:\n{log_tail(self.nats.log_path(i), lines)}")
        return "\n".join(parts)

    def pids(self) -> dict[str, list[int]]:
        """The live processes by role, for CPU accounting."""
        return {"nodes": [node.pid for node in self.nodes if node.pid is not None],
                "nats": self.nats.pids() if self.nats is not None else []}

    def close(self) -> None:
        """Kill every process this cluster started and close its proxies (safe to call again)."""
        for node in self.nodes:
            try:
                node.kill()
            except Exception:   # noqa: BLE001 - keep going: the other processes must die too
                pass
        for row in self.proxies:
            for proxy in row:
                proxy.close()
        if self.nats is not None:
            self.nats.close()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
