"""A Pushpin of our own: its config, ports, run folder and its own zurl.

No pytest here: the tests and the benchmarks in ``bench/`` start the edge with the same code.
Debian's zurl refuses loopback origins (``deny=127.*`` in ``/etc/zurl.conf``) and listens in
``/var/run/zurl``, so each Pushpin gets a zurl of its own in its run folder that allows them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PUSHPIN = shutil.which("pushpin") or "/usr/bin/pushpin"
ZURL = shutil.which("zurl") or "/usr/bin/zurl"
INTERNAL_CONF = Path("/usr/lib/pushpin/internal.conf")
# Generous: catches an edge that never starts, not a slow machine.
START_TIMEOUT = 30.0


def missing() -> str | None:
    """Why Pushpin cannot run here, or ``None`` when it can."""
    for binary in (PUSHPIN, ZURL):
        if not Path(binary).exists():
            return f"needs {Path(binary).name} (apt-get install pushpin)"
    if not INTERNAL_CONF.exists():
        return f"needs {INTERNAL_CONF} (apt-get install pushpin)"
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_block(base: int = 17000, size: int = 5, top: int = 17999) -> int:
    """The first port of ``size`` consecutive free ports in ``[base, top]``.

    The search starts at a random block: test workers starting Pushpins at the same moment
    would otherwise all probe the same block free and race for it.
    """
    blocks = list(range(base, top - size, size))
    first = random.randrange(len(blocks))
    for start in blocks[first:] + blocks[:first]:
        if all(_port_free(start + offset) for offset in range(size)):
            return start
    raise RuntimeError("no free ports for Pushpin")


@dataclass
class Pushpin:
    """One Pushpin (and its zurl) in ``folder``, proxying every path to ``origins``."""

    folder: Path
    origins: list[str]
    sig_key: str
    first_port: int = 0
    #: 3 logs Pushpin's debugging detail (sequencing, recoveries).
    log_level: int = 2
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    run_folder: Path = field(init=False)

    def __post_init__(self) -> None:
        if not self.first_port:
            self.first_port = free_block()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.run_folder = Path(tempfile.mkdtemp(prefix="pushpin-"))

    @property
    def http_port(self) -> int:
        return self.first_port

    @property
    def url(self) -> str:
        """Where readers connect."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def publish_url(self) -> str:
        """Pushpin's publish endpoint (``WEBCHAT_GRIP_URL``)."""
        return f"http://127.0.0.1:{self.first_port + 1}"

    def write_config(self) -> Path:
        # Its sockets live in a short folder of their own: a socket path past 107 bytes (as under
        # a test worker's tmp_path) cannot be bound.
        run = self.run_folder
        run.mkdir(exist_ok=True)  # again after a stop
        (self.folder / "log").mkdir(exist_ok=True)
        zurl_prefix = f"ipc://{run}/zurl-"
        internal = INTERNAL_CONF.read_text().replace("ipc:///var/run/zurl/zurl-", zurl_prefix)
        (self.folder / "internal.conf").write_text(internal)
        # Several targets on one route: Pushpin spreads new requests over them.
        targets = " ".join(origin.removeprefix("http://") for origin in self.origins)
        (self.folder / "routes").write_text(f"* {targets}\n")
        port = self.first_port
        (self.folder / "zurl.conf").write_text(
            "[General]\n"
            f"in_spec={zurl_prefix}in\nin_stream_spec={zurl_prefix}in-stream\n"
            f"out_spec={zurl_prefix}out\nin_req_spec={zurl_prefix}req\n"
            "defpolicy=allow\nmax_open_requests=20000\nbuffer_size=200000\ntimeout=600\n"
            "in_hwm=100000\nout_hwm=100000\n"
        )
        config = self.folder / "pushpin.conf"
        config.write_text(
            f"[global]\ninclude={self.folder}/internal.conf\nrundir={run}\n"
            f"ipc_prefix=pushpin-{port}-\nport_offset=0\nstats_connection_ttl=120\n"
            "[runner]\nservices=condure,pushpin-proxy,pushpin-handler\n"
            f"http_port={port}\nlogdir={self.folder}/log\nlog_level={self.log_level}\n"
            "client_buffer_size=8192\nclient_maxconn=60000\n"
            "condure_bin=condure\nmongrel2_bin=mongrel2\nm2sh_bin=m2sh\nzurl_bin=zurl\n"
            "[proxy]\nroutesfile=routes\ndebug=false\nauto_cross_origin=false\n"
            "accept_x_forwarded_protocol=false\nset_x_forwarded_protocol=proto-only\n"
            "x_forwarded_for=\nx_forwarded_for_trusted=\norig_headers_need_mark=\n"
            "accept_pushpin_route=false\nlog_from=false\nlog_user_agent=false\n"
            f"sig_iss=pushpin\nsig_key={self.sig_key}\nupstream_key=\nupdates_check=off\n"
            "[handler]\n"
            f"push_in_spec=tcp://127.0.0.1:{port + 2}\n"
            f"push_in_sub_specs=tcp://127.0.0.1:{port + 3}\npush_in_sub_connect=false\n"
            f"push_in_http_addr=127.0.0.1\npush_in_http_port={port + 1}\n"
            "push_in_http_max_headers_size=10000\npush_in_http_max_body_size=1000000\n"
            f"stats_spec=ipc://{run}/pushpin-{port}-stats\n"
            f"command_spec=tcp://127.0.0.1:{port + 4}\n"
            "message_rate=100000\nmessage_hwm=200000\nmessage_wait=2000\nid_cache_ttl=60\n"
            "connection_subscription_max=20\nsubscription_linger=60\n"
            "stats_subscription_ttl=60\nstats_report_interval=10\nstats_format=tnetstring\n"
        )
        return config

    def start(self) -> None:
        """Start zurl and Pushpin, and wait until both ports answer."""
        config = self.write_config()
        log = (self.folder / "log" / "out.log").open("ab")
        verbose = ["--verbose"] if self.log_level > 2 else []
        zurl = subprocess.Popen(
            [ZURL, f"--config={self.folder / 'zurl.conf'}", *verbose],
            stdout=log,
            stderr=log,
        )
        pushpin = subprocess.Popen(
            [PUSHPIN, f"--config={config}", "--merge-output"],
            stdout=log,
            stderr=log,
            cwd=self.folder,
            start_new_session=True,
        )
        self.processes = [zurl, pushpin]
        deadline = time.monotonic() + START_TIMEOUT
        for port in (self.http_port, self.first_port + 1):
            while not _answers(port):
                if time.monotonic() > deadline or pushpin.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"Pushpin did not start; see {self.folder / 'log'}")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop Pushpin (its whole process group) and zurl; held connections drop."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []
        deadline = time.monotonic() + START_TIMEOUT
        while _answers(self.http_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.run_folder, ignore_errors=True)  # its sockets, in /tmp

    def component_pids(self) -> dict[str, int]:
        """The running processes of this edge by name: zurl, condure, pushpin-proxy, …"""
        zurl, runner = self.processes
        found = {"zurl": zurl.pid}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue  # gone meanwhile
            # The runner started in a session of its own: its services share it.
            if int(fields[3]) == runner.pid and int(entry.name) != runner.pid:
                found[name] = int(entry.name)
        return found

    def restart(self) -> None:
        """Stop and start again on the same ports, as an operator restarting it would."""
        self.stop()
        self.start()


def signature(key: str, *, expires_in: float = 600, alg: str = "HS256") -> str:
    """A ``Grip-Sig`` as Pushpin makes it: an HS256 JWT with ``iss`` and ``exp``."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = part({"typ": "JWT", "alg": alg})
    claims = part({"iss": "pushpin", "exp": int(time.time() + expires_in)})
    mac = hmac.new(key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
