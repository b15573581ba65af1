"""The project's own Apache Kafka 4.1.1 (KRaft), run from Maven-resolved jars, no Docker.

Importable (``LocalKafka``, ``fetch``) and a command line::

    python deploy/kafka/localkafka.py fetch
    python deploy/kafka/localkafka.py up [--port N] [--dir D]
    python deploy/kafka/localkafka.py status | down [--wipe]
    python deploy/kafka/localkafka.py cluster-up | cluster-down [--wipe]
    python deploy/kafka/localkafka.py kill NODE | start NODE      # cluster nodes 1..3

Every node is a combined broker+controller bound to 127.0.0.1. A data dir holds
``state.json`` (pids, ports) and one ``node-<id>/`` per node with its ``server.properties``,
``log4j2.properties``, ``server.log`` (the broker's own log), ``stdout.log`` and ``data/``.
Environment: ``EXCHANGE_KAFKA_CACHE`` (jar cache), ``EXCHANGE_KAFKA_HEAP_OPTS`` (JVM heap).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KAFKA_VERSION = "4.1.1"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
POM = HERE / "pom.xml"
DEFAULT_SINGLE_DIR = REPO / "var" / "kafka" / "single"
DEFAULT_CLUSTER_DIR = REPO / "var" / "kafka" / "cluster"
DEFAULT_HEAP_OPTS = "-Xms128m -Xmx512m"
MARKER = ".complete"
STATE = "state.json"


class KafkaError(RuntimeError):
    """A local broker could not be fetched, started or stopped; the message says why."""


# --------------------------------------------------------------------------- jars


def cache_dir() -> Path:
    """The jar cache, outside the repository (``EXCHANGE_KAFKA_CACHE`` overrides it)."""
    env = os.environ.get("EXCHANGE_KAFKA_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "one-window-exchange"
    return base.expanduser() / f"kafka-{KAFKA_VERSION}"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def cached_lib() -> Path | None:
    """The lib dir if a previous fetch of this very pom.xml completed, else None."""
    lib = cache_dir() / "lib"
    try:
        marker = json.loads((lib / MARKER).read_text())
    except (OSError, ValueError):
        return None
    jars = marker.get("jars", [])
    if marker.get("pom_sha256") != _pom_digest() or not jars:
        return None
    return lib if all((lib / jar).is_file() for jar in jars) else None


def fetch(log: Callable[[str], None] = lambda _msg: None) -> Path:
    """Resolve the broker's jars with Maven into the cache; a no-op when already complete."""
    lib = cached_lib()
    if lib is not None:
        log(f"kafka {KAFKA_VERSION} jars cached in {lib}")
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaError("Maven (mvn) is not on PATH: install it to fetch the Kafka jars")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f"lib.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    log(f"resolving kafka {KAFKA_VERSION} jars with Maven into {target / 'lib'}")
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={staging}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    jars = sorted(p.name for p in staging.glob("*.jar")) if staging.is_dir() else []
    if done.returncode != 0 or not jars:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise KafkaError(f"mvn dependency:copy-dependencies failed ({done.returncode}):\n{tail}")
    marker = {"pom_sha256": _pom_digest(), "jars": jars, "fetched_at": time.time()}
    (staging / MARKER).write_text(json.dumps(marker, indent=1))
    shutil.rmtree(target / "lib", ignore_errors=True)
    staging.rename(target / "lib")
    log(f"fetched {len(jars)} jars")
    return target / "lib"


# --------------------------------------------------------------------------- helpers


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (all held open together, so they differ).

    They are taken outside the kernel's ephemeral range: a node that is stopped and restarted
    comes back on its own ports (the controller quorum names them), and a port from that range
    can meanwhile become the source port of any outgoing connection on the machine; CI once
    failed on exactly that.
    """
    low, high = _ephemeral_range()
    pool = list(range(20000, low)) if low > 21000 else list(range(high + 1, 65536))
    random.shuffle(pool)
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in pool:
            if len(ports) == count:
                break
            s = stack.enter_context(socket.socket())
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
        if len(ports) < count:  # an unusual kernel setting: let the kernel choose
            for _ in range(count - len(ports)):
                s = stack.enter_context(socket.socket())
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
        return ports


def port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port (TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        # As the JVM's server sockets do: a node restarted after kill -9 must get its port
        # back although connections of its previous life linger in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # a leading dash reads as an option to the tools
            return text


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def _die_with_parent() -> None:
    """preexec hook: the JVM gets SIGTERM if the process that started it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie is dead


def _is_our_jvm(pid: int, config: Path) -> bool:
    """Guard against a recycled pid: only a kafka.Kafka JVM running this config is ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and str(config).encode() in cmdline


# --------------------------------------------------------------------------- nodes


@dataclass
class Node:
    """One combined broker+controller process."""

    node_id: int
    port: int
    controller_port: int
    dir: str
    pid: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.dir)

    @property
    def config(self) -> Path:
        return self.path / "server.properties"

    @property
    def log(self) -> Path:
        return self.path / "server.log"

    @property
    def stdout(self) -> Path:
        return self.path / "stdout.log"

    @property
    def running(self) -> bool:
        return self.pid is not None and _alive(self.pid) and _is_our_jvm(self.pid, self.config)


def _server_properties(node: Node, voters: str, size: int) -> str:
    rf, min_isr = (3, 2) if size >= 3 else (1, 1)
    settings = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": node.path / "data",
        "num.partitions": 1,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": 10,  # 50 by default: slow first group join for tests
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        "auto.create.topics.enable": "true",
        "log.cleaner.enable": "true",  # compacted output topics
        "unclean.leader.election.enable": "false",
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


def _log4j2_properties(node: Node) -> str:
    return f"""status = warn
name = local-kafka-{node.node_id}
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {node.log}
appender.file.filePattern = {node.log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = INFO
"""


# --------------------------------------------------------------------------- the cluster


class LocalKafka:
    """One broker (``size=1``) or a three-node quorum (``size=3``) under ``data_dir``.

    ``start()`` formats storage on first use and waits until every broker answers a
    metadata request; ``stop()`` ends every JVM; ``kill(node)`` is ``kill -9`` of one
    node and ``restart(node)`` brings it back on the same ports and storage.
    """

    def __init__(self, data_dir: Path | str, size: int = 1, port: int | None = 0,
                 die_with_parent: bool = False) -> None:
        """``port`` is the first broker port (0 or None: free ports); state is reloaded."""
        if size not in (1, 3):
            raise ValueError("size is 1 (single broker) or 3 (cluster)")
        self.dir = Path(data_dir).resolve()
        if "," in str(self.dir):
            raise KafkaError(f"data dir {self.dir}: a comma is not allowed there (Kafka's "
                             "log.dirs and log4j's configurationFile read it as a list)")
        self.size = size
        self.die_with_parent = die_with_parent
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        state = self._load()
        if state is not None:
            self.cluster_id: str = state["cluster_id"]
            self.nodes = [Node(**n) for n in state["nodes"]]
            self.size = len(self.nodes)
        else:
            self.cluster_id = new_cluster_id()
            self.nodes = self._plan(port)

    # -- layout
    def _plan(self, port: int | None) -> list[Node]:
        if port:
            if not all(port_is_free(port + i) for i in range(self.size)):
                raise KafkaError(f"port {port} (or the next {self.size - 1}) is in use")
            broker_ports = [port + i for i in range(self.size)]
            controller_ports = free_ports(self.size)
        else:
            ports = free_ports(2 * self.size)
            broker_ports, controller_ports = ports[: self.size], ports[self.size:]
        return [Node(i + 1, broker_ports[i], controller_ports[i], str(self.dir / f"node-{i + 1}"))
                for i in range(self.size)]

    def _load(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.dir / STATE).read_text())
            return data
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        state = {"cluster_id": self.cluster_id, "bootstrap": self.bootstrap,
                 "nodes": [asdict(n) for n in self.nodes]}
        tmp = self.dir / f"{STATE}.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.dir / STATE)

    @property
    def bootstrap(self) -> str:
        """The bootstrap list, e.g. ``127.0.0.1:9092``."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def node(self, node_id: int) -> Node:
        """The node with this id (1-based)."""
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise KafkaError(f"no node {node_id}: nodes are {[n.node_id for n in self.nodes]}")

    @property
    def running(self) -> list[Node]:
        """The nodes whose JVM is alive."""
        return [n for n in self.nodes if n.running]

    # -- lifecycle
    def start(self, timeout: float = 120.0, log: Callable[[str], None] = lambda _m: None) -> str:
        """Format (first time), launch every stopped node, wait until all answer."""
        lib = fetch(log)
        self.dir.mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        todo = [n for n in self.nodes if not n.running]
        for n in todo:
            n.path.mkdir(parents=True, exist_ok=True)
            n.config.write_text(self._properties(n, voters))
            (n.path / "log4j2.properties").write_text(_log4j2_properties(n))
        fresh = [n for n in todo if not (n.path / "data" / "meta.properties").exists()]
        if fresh:
            log(f"formatting KRaft storage of {len(fresh)} node(s), cluster id {self.cluster_id}")
            with ThreadPoolExecutor(len(fresh)) as pool:
                list(pool.map(lambda n: self._format(lib, n), fresh))
        for n in todo:
            self._launch(lib, n)
        self._save()
        log(f"started {len(todo)} node(s), waiting for {self.bootstrap}")
        self.wait_ready([n.node_id for n in self.nodes], timeout)
        return self.bootstrap

    def _properties(self, n: Node, voters: str) -> str:
        """The node's ``server.properties`` (a hook: ``deploy/kafka/secure.py`` adds SASL)."""
        return _server_properties(n, voters, self.size)

    def _java(self, lib: Path, n: Node, main: str, heap: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [java, *heap.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={n.path / 'log4j2.properties'}",
                "-cp", f"{lib}/*", main]

    def _format(self, lib: Path, n: Node) -> None:
        cmd = [*self._java(lib, n, "kafka.tools.StorageTool", "-Xmx256m"), "format",
               "-t", self.cluster_id, "-c", str(n.config), "--ignore-formatted"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaError(f"formatting node {n.node_id} failed:\n{done.stdout}{done.stderr}")

    def _launch(self, lib: Path, n: Node) -> None:
        deadline = time.monotonic() + 10.0  # a killed JVM's sockets take a moment to close
        while not port_is_free(n.port) or not port_is_free(n.controller_port):
            if time.monotonic() > deadline:
                raise KafkaError(f"node {n.node_id}: port {n.port} or {n.controller_port} "
                                 "is taken by another process")
            time.sleep(0.2)
        heap = os.environ.get("EXCHANGE_KAFKA_HEAP_OPTS", DEFAULT_HEAP_OPTS)
        cmd = [*self._java(lib, n, "kafka.Kafka", heap), str(n.config)]
        with n.stdout.open("ab") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=n.path,
                preexec_fn=_die_with_parent if self.die_with_parent else None)
        self._procs[n.node_id] = proc
        n.pid = proc.pid

    def wait_ready(self, node_ids: list[int], timeout: float = 120.0) -> None:
        """Poll until each node answers metadata and lists all live brokers, or raise."""
        deadline = time.monotonic() + timeout
        pending = list(node_ids)
        while pending:
            for node_id in list(pending):
                n = self.node(node_id)
                if not _alive(n.pid or -1):
                    raise KafkaError(self._failure(n, "exited during start-up"))
                if _port_answers(n.port) and self._broker_count(n) >= len(self.running):
                    pending.remove(node_id)
            if pending and time.monotonic() > deadline:
                raise KafkaError(self._failure(self.node(pending[0]),
                                               f"not ready after {timeout:.0f}s"))
            if pending:
                time.sleep(0.3)

    @staticmethod
    def _broker_count(n: Node) -> int:
        # Imported here: kafka-python is only needed for readiness, not for fetch/stop.
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaConfigurationError
        from kafka.errors import KafkaError as ClientError

        admin = None
        try:
            admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{n.port}",
                                     request_timeout_ms=3000, client_id="localkafka-ready")
            return len(admin.describe_cluster().get("brokers", []))
        except KafkaConfigurationError:
            raise  # our bug, not a broker still starting
        except (ClientError, OSError):
            return 0
        finally:
            if admin is not None:
                admin.close()

    def _failure(self, n: Node, what: str) -> str:
        return (f"kafka node {n.node_id} (127.0.0.1:{n.port}) {what}.\n"
                f"--- tail of {n.log}\n{_tail(n.log)}\n"
                f"--- tail of {n.stdout}\n{_tail(n.stdout, 10)}")

    def kill(self, node_id: int) -> None:
        """``kill -9`` one node (no clean shutdown), keeping its ports and storage."""
        n = self.node(node_id)
        if n.running and n.pid is not None:
            os.kill(n.pid, signal.SIGKILL)
            self._await_exit(n, 10.0)

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a stopped or killed node on its own ports and storage; wait until ready."""
        n = self.node(node_id)
        if not n.running:
            self._launch(fetch(), n)
            self._save()
        self.wait_ready([node_id], timeout)

    def stop(self, timeout: float = 30.0, wipe: bool = False) -> None:
        """SIGTERM every node at once, SIGKILL what is left after ``timeout``; no JVM survives."""
        live = self.running
        for n in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(n.pid or -1, signal.SIGTERM)
        with ThreadPoolExecutor(max(1, len(live))) as pool:
            list(pool.map(lambda n: self._await_exit(n, timeout), live))
        for n in self.nodes:
            n.pid = None
        if wipe:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir.is_dir():
            self._save()

    def _await_exit(self, n: Node, timeout: float) -> None:
        pid = n.pid or -1
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            self._reap(n)
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                self._reap(n)
                time.sleep(0.05)
        self._reap(n)

    def _reap(self, n: Node) -> None:
        proc = self._procs.get(n.node_id)
        if proc is not None and proc.poll() is not None:
            del self._procs[n.node_id]


# --------------------------------------------------------------------------- CLI


def _say(msg: str) -> None:
    print(msg, flush=True)


@contextlib.contextmanager
def _timed(what: str) -> Iterator[None]:
    t0 = time.monotonic()
    yield
    _say(f"{what} in {time.monotonic() - t0:.1f}s")


def _up(data_dir: Path, size: int, port: int | None) -> None:
    kafka = LocalKafka(data_dir, size=size, port=port)
    if len(kafka.running) == kafka.size:
        _say(f"already running: {kafka.bootstrap}")
        return
    with _timed("ready"):
        kafka.start(log=_say)
    _say(f"logs: {data_dir}/node-*/server.log")
    _say(kafka.bootstrap)


def _down(data_dir: Path, wipe: bool) -> None:
    if not (data_dir / STATE).exists():
        _say(f"nothing to stop in {data_dir}")
        return
    kafka = LocalKafka(data_dir)
    count = len(kafka.running)
    kafka.stop(wipe=wipe)
    _say(f"stopped {count} node(s)" + (f", removed {data_dir}" if wipe else ""))


def _status(data_dir: Path) -> int:
    if not (data_dir / STATE).exists():
        _say(f"not set up: {data_dir}")
        return 1
    kafka = LocalKafka(data_dir)
    for n in kafka.nodes:
        state = f"running (pid {n.pid})" if n.running else "stopped"
        _say(f"node {n.node_id} 127.0.0.1:{n.port} {state}")
    _say(kafka.bootstrap)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python deploy/kafka/localkafka.py``."""
    parser = argparse.ArgumentParser(prog="localkafka", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="resolve the Kafka jars into the cache")
    for name, default in (("up", DEFAULT_SINGLE_DIR), ("down", DEFAULT_SINGLE_DIR),
                          ("status", DEFAULT_SINGLE_DIR), ("cluster-up", DEFAULT_CLUSTER_DIR),
                          ("cluster-down", DEFAULT_CLUSTER_DIR), ("cluster-status",
                                                                  DEFAULT_CLUSTER_DIR)):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, default=default, help=f"data dir (default {default})")
        if name.endswith("up"):
            p.add_argument("--port", type=int, default=None,
                           help="first broker port; 0 = any free (default 9092 if free)")
        if name.endswith("down"):
            p.add_argument("--wipe", action="store_true", help="also delete the data dir")
    for name in ("kill", "start"):
        p = sub.add_parser(name, help=f"{name} one cluster node")
        p.add_argument("node", type=int)
        p.add_argument("--dir", type=Path, default=DEFAULT_CLUSTER_DIR)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            with _timed("fetch done"):
                fetch(_say)
        elif args.cmd in ("up", "cluster-up"):
            size = 1 if args.cmd == "up" else 3
            port = args.port
            if port is None:
                port = 9092 if all(port_is_free(9092 + i) for i in range(size)) else 0
            _up(args.dir.resolve(), size, port)
        elif args.cmd in ("down", "cluster-down"):
            _down(args.dir.resolve(), args.wipe)
        elif args.cmd in ("status", "cluster-status"):
            return _status(args.dir.resolve())
        elif args.cmd in ("kill", "start") and not (args.dir / STATE).exists():
            raise KafkaError(f"no cluster in {args.dir}: run cluster-up first")
        elif args.cmd == "kill":
            LocalKafka(args.dir.resolve(), size=3).kill(args.node)
            _say(f"killed node {args.node}")
        elif args.cmd == "start":
            kafka = LocalKafka(args.dir.resolve(), size=3)
            with _timed(f"node {args.node} ready"):
                kafka.restart(args.node)
    except KafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
