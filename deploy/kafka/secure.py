"""Secured mode of the project's Kafka: SASL/SCRAM-SHA-512, the standard authorizer, ACLs.

Importable (``SecureKafka``, ``read_credentials``) and a command line::

    python deploy/kafka/secure.py up [--port N] [--dir D]     # default dir var/kafka/secure
    python deploy/kafka/secure.py status | down [--wipe]

Listeners, all on 127.0.0.1: ``SECURE`` (SASL_PLAINTEXT, SCRAM-SHA-512) for clients and
between brokers; ``CONTROLLER`` (SASL_PLAINTEXT, PLAIN with one static user, the admin)
for the KRaft quorum, because SCRAM credentials live in the metadata log the controller
serves and so cannot authenticate the controller itself. No listener accepts an anonymous
client. Traffic is not encrypted: loopback only.

The admin (``User:admin``) is the only super user; its SCRAM credential is written into the
metadata log when storage is formatted and kept for the life of the data dir. Every other
principal (:mod:`exchange.principals`) gets a fresh password at each start, set by the admin
through ``AlterUserScramCredentials``, with its ACLs and the bus's topics. Passwords are
written to ``<dir>/credentials.json`` (mode 0600, the data dir is 0700) and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError as ClientError
from pydantic import SecretStr

from exchange.localbroker import load_localkafka
from exchange.principals import ADMIN, Principal, by_name, principals
from exchange.schemas import default_registry
from exchange.settings import Settings, load_settings
from exchange.topics import ensure_bus_topics

HERE = Path(__file__).resolve().parent
MECHANISM = "SCRAM-SHA-512"
CREDENTIALS = "credentials.json"
DEFAULT_SECURE_DIR = HERE.parent.parent / "var" / "kafka" / "secure"


localkafka = load_localkafka()  # deploy/kafka/localkafka.py, one module object


def _password() -> str:
    # URL-safe alphabet: no quote, comma or bracket to break JAAS or --add-scram syntax.
    return secrets.token_urlsafe(24)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600 from creation on)."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def read_credentials(data_dir: Path | str) -> dict[str, Any]:
    """``credentials.json`` of a secured data dir: bootstrap, protocol, mechanism, users."""
    path = Path(data_dir) / CREDENTIALS
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise localkafka.KafkaError(f"no readable {path}: start the secured broker first") from exc
    return data


def client_settings(data_dir: Path | str, user: str, **overrides: object) -> Settings:
    """Settings of a client authenticating as ``user`` on the secured broker of ``data_dir``."""
    creds = read_credentials(data_dir)
    if user not in creds["users"]:
        raise localkafka.KafkaError(f"no principal {user!r}: known are {sorted(creds['users'])}")
    return load_settings(**{
        "kafka_bootstrap": creds["bootstrap"],
        "kafka_security_protocol": creds["security_protocol"],
        "kafka_sasl_mechanism": creds["sasl_mechanism"],
        "kafka_username": user,
        "kafka_password": SecretStr(creds["users"][user]),
        **overrides,
    })


def _jaas(module: str, user: str, password: str, extra: str = "") -> str:
    return (f"org.apache.kafka.common.security.{module} required "
            f'username="{user}" password="{password}"{extra};')


def secure_properties(plain: str, node: Any, admin_password: str) -> str:
    """``server.properties`` of a plain node turned secure (same ports, storage, tuning)."""
    props = dict(line.split("=", 1) for line in plain.splitlines() if "=" in line)
    props.update({
        "listeners": f"SECURE://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:"
                     f"{node.controller_port}",
        "advertised.listeners": f"SECURE://127.0.0.1:{node.port}",
        "listener.security.protocol.map": "SECURE:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SECURE",
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.secure.sasl.enabled.mechanisms": MECHANISM,
        "listener.name.secure.scram-sha-512.sasl.jaas.config":
            _jaas("scram.ScramLoginModule", ADMIN, admin_password),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config":
            _jaas("plain.PlainLoginModule", ADMIN, admin_password,
                  f' user_{ADMIN}="{admin_password}"'),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
        "auto.create.topics.enable": "false",  # topics are created by the admin, with layout
    })
    return "".join(f"{k}={v}\n" for k, v in props.items())


class SecureKafka(localkafka.LocalKafka):  # type: ignore[misc,name-defined]
    """:class:`LocalKafka` with SASL/SCRAM, the standard authorizer and the bus's ACLs."""

    def __init__(self, data_dir: Path | str, size: int = 1, port: int | None = 0,
                 die_with_parent: bool = False, settings: Settings | None = None) -> None:
        """``settings`` give the schemas, app id, desk group and topic layout (env default)."""
        super().__init__(data_dir, size=size, port=port, die_with_parent=die_with_parent)
        self.settings = settings or load_settings()
        self.table: dict[str, Principal] = by_name(
            principals(default_registry(self.settings), self.settings))
        self._users: dict[str, str] = {}

    @property
    def credentials_file(self) -> Path:
        """Where the passwords are (mode 0600)."""
        return self.dir / CREDENTIALS

    def start(self, timeout: float = 120.0, log: Callable[[str], None] = lambda _m: None) -> str:
        """Format (first time, with the admin's credential), launch, then provision users,
        ACLs and topics; return the bootstrap list."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # server.properties holds the admin's password
        formatted = (self.nodes[0].path / "data" / "meta.properties").exists()
        admin = read_credentials(self.dir)["users"][ADMIN] if formatted else _password()
        self._users = {ADMIN: admin, **{name: _password() for name in self.table}}
        self._save_credentials()
        bootstrap: str = super().start(timeout=timeout, log=log)
        log(f"provisioning {len(self.table)} principals, their ACLs and the bus's topics")
        self.provision()
        return bootstrap

    def _save_credentials(self) -> None:
        creds = {"bootstrap": self.bootstrap, "security_protocol": "SASL_PLAINTEXT",
                 "sasl_mechanism": MECHANISM, "users": self._users}
        _write_private(self.credentials_file, json.dumps(creds, indent=1) + "\n")

    # -- hooks of LocalKafka
    def _properties(self, n: Any, voters: str) -> str:
        return secure_properties(super()._properties(n, voters), n, self._users[ADMIN])

    def _format(self, lib: Path, n: Any) -> None:
        scram = f"{MECHANISM}=[name={ADMIN},password={self._users[ADMIN]}]"
        cmd = [*self._java(lib, n, "kafka.tools.StorageTool", "-Xmx256m"), "format",
               "-t", self.cluster_id, "-c", str(n.config), "--ignore-formatted",
               "--add-scram", scram]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:  # the tool's output names no password; the command would
            raise localkafka.KafkaError(
                f"formatting node {n.node_id} failed:\n{done.stdout}{done.stderr}")

    def _broker_count(self, n: Any) -> int:
        admin = None
        try:
            admin = KafkaAdminClient(**self._options(ADMIN, f"127.0.0.1:{n.port}"),
                                     request_timeout_ms=3000, client_id="localkafka-ready")
            return len(admin.describe_cluster().get("brokers", []))
        except (ClientError, OSError):
            return 0
        finally:
            if admin is not None:
                admin.close()

    # -- provisioning
    def _options(self, user: str, bootstrap: str | None = None) -> dict[str, Any]:
        return {"bootstrap_servers": (bootstrap or self.bootstrap).split(","),
                "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "sasl_plain_username": user, "sasl_plain_password": self._users[user]}

    def client_settings(self, user: str, **overrides: object) -> Settings:
        """Settings of a client authenticating as ``user``."""
        return client_settings(self.dir, user, **overrides)

    def provision(self, timeout: float = 60.0) -> None:
        """Set every principal's password, create the ACLs and topics; wait until applied."""
        admin = KafkaAdminClient(**self._options(ADMIN), client_id="localkafka-provision")
        try:
            upserts = [UserScramCredentialUpsertion(name, MECHANISM, self._users[name])
                       for name in self.table]
            refused = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
            if refused:
                raise localkafka.KafkaError(f"SCRAM credentials refused: {refused}")
            wanted = to_acls(self.table.values())
            failed = admin.create_acls(wanted)["failed"]
            if failed:
                raise localkafka.KafkaError(f"{len(failed)} ACLs refused: {failed[:3]}")
            everything = ACLFilter(
                principal=None, host="*", operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                       ACLResourcePatternType.ANY))
            # The authorizer applies ACLs from the metadata log: wait until the broker has them.
            deadline = time.monotonic() + timeout
            while len(admin.describe_acls(everything)[0]) < len(wanted):
                if time.monotonic() > deadline:
                    raise localkafka.KafkaError(f"ACLs not applied after {timeout:.0f}s")
                time.sleep(0.2)
        finally:
            admin.close()
        ensure_bus_topics(self.client_settings(ADMIN), default_registry(self.settings))
        self._await_logins(timeout)

    def _await_logins(self, timeout: float) -> None:
        """Poll until every principal authenticates (credentials reach the broker via metadata)."""
        deadline = time.monotonic() + timeout
        for name in self.table:
            while True:
                try:
                    KafkaConsumer(**self._options(name), request_timeout_ms=5000).close()
                    break
                except ClientError as exc:
                    if time.monotonic() > deadline:
                        raise localkafka.KafkaError(f"{name} cannot log in: {exc}") from exc
                    time.sleep(0.2)


_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP,
             "transactional_id": ResourceType.TRANSACTIONAL_ID, "cluster": ResourceType.CLUSTER}
_PATTERN = {"literal": ACLResourcePatternType.LITERAL,
            "prefixed": ACLResourcePatternType.PREFIXED}


def to_acls(table: Iterable[Principal]) -> list[ACL]:
    """kafka-python ``ACL`` objects (ALLOW, any host) for every grant of the table."""
    return [
        ACL(principal=p.kafka_principal, host="*", operation=ACLOperation[op],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(_RESOURCE[g.resource], g.name, _PATTERN[g.pattern]))
        for p in table for g in p.grants for op in g.operations
    ]


def _cli_up(data_dir: Path, port: int | None) -> None:
    kafka = SecureKafka(data_dir, size=1, port=port)
    if kafka.running:
        print(f"already running: {kafka.bootstrap}", flush=True)
        return
    t0 = time.monotonic()
    kafka.start(log=lambda m: print(m, flush=True))
    print(f"ready in {time.monotonic() - t0:.1f}s: {kafka.bootstrap} (SASL_PLAINTEXT, "
          f"{MECHANISM}); passwords in {kafka.credentials_file}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python deploy/kafka/secure.py``."""
    parser = argparse.ArgumentParser(prog="secure", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("up", "down", "status"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, default=DEFAULT_SECURE_DIR,
                       help=f"data dir (default {DEFAULT_SECURE_DIR})")
        if name == "up":
            p.add_argument("--port", type=int, default=0, help="broker port (0: any free)")
        if name == "down":
            p.add_argument("--wipe", action="store_true", help="also delete the data dir")
    args = parser.parse_args(argv)
    data_dir = args.dir.resolve()
    try:
        if args.cmd == "up":
            _cli_up(data_dir, args.port)
        elif args.cmd == "down":
            localkafka._down(data_dir, args.wipe)
        else:
            return int(localkafka._status(data_dir))
    except localkafka.KafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
