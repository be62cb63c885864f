"""A private PulseAudio server with a null sink, to feed real recordings through PortAudio.

Used by the end-to-end tests and by ``bench/bench_recording.py``. The server is our own child
process (``pulseaudio -n --daemonize=no``: no default modules, only its socket), with its own
runtime folder: it works as root and as a user, in CI and beside a desktop session, and never
touches the user's own server (``pulseaudio --start`` would share it, and other tests' default
source). The null sink ``steth`` (``pactl load-module module-null-sink``, unloaded at stop) is
what ``paplay`` plays into; its monitor is set as the default source, which PortAudio's ALSA
``pulse`` and ``default`` devices record from. ``PULSE_SERVER`` (and friends) are set in this
process's environment while the server runs, so PortAudio (through ALSA's pulse plugin) and
child processes find it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REQUIRED = ("pulseaudio", "pactl", "paplay")
INSTALL_HINT = ("sudo apt-get install pulseaudio pulseaudio-utils libasound2-plugins "
                "libportaudio2 (scripts/setup.sh --dev does it)")


class PulseUnavailable(RuntimeError):
    """No PulseAudio server can be started here; the message says why."""


class PrivatePulseServer:
    """Start with :meth:`start` (or ``with``); stop with :meth:`stop`."""

    def __init__(self, sink: str = "steth", *, rate: int = 48000) -> None:
        self.sink = sink
        self.source = f"{sink}.monitor"
        self.rate = rate
        self._dir: Path | None = None
        self._server: subprocess.Popen | None = None
        self._saved_env: dict[str, str | None] = {}
        self.env: dict[str, str] = {}
        self._module = ""

    def __enter__(self) -> PrivatePulseServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 15.0) -> None:
        """Start the server, load the null sink, make its monitor the default source."""
        missing = [tool for tool in REQUIRED if shutil.which(tool) is None]
        if missing:
            raise PulseUnavailable(f"{', '.join(missing)} not installed: {INSTALL_HINT}")
        # A short path: a unix socket's path is limited to about 100 characters.
        self._dir = Path(tempfile.mkdtemp(prefix="afpa-", dir="/tmp"))
        socket = self._dir / "native"
        self.env = {"PULSE_RUNTIME_PATH": str(self._dir), "PULSE_STATE_PATH": str(self._dir),
                    "PULSE_SERVER": f"unix:{socket}", "PULSE_COOKIE": str(self._dir / "cookie")}
        log = self._dir / "server.log"
        cmd = [shutil.which("pulseaudio"), "-n", "--daemonize=no", "--exit-idle-time=-1",
               "--disallow-exit", "--use-pid-file=no", "--disable-shm=yes",
               f"--log-target=file:{log}",
               "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1"]
        self._server = subprocess.Popen(cmd, env={**os.environ, **self.env},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            code = self._server.poll()
            if code is not None:
                text = log.read_text(errors="replace")[-600:] if log.exists() else ""
                self.stop()
                raise PulseUnavailable(f"pulseaudio exited at start (code {code}): "
                                       f"{text.strip()}")
            done = subprocess.run(["pactl", "info"], env={**os.environ, **self.env},
                                  capture_output=True, text=True, timeout=10)
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise PulseUnavailable(f"pulseaudio did not answer within {timeout:g} s: "
                                       f"{done.stderr.strip()}")
            time.sleep(0.1)
        self._module = self.pactl("load-module", "module-null-sink", f"sink_name={self.sink}",
                                  f"rate={self.rate}").strip()
        self.pactl("set-default-sink", self.sink)
        self.pactl("set-default-source", self.source)
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def pactl(self, *args: str) -> str:
        """Run pactl against this server; return its output (raise on failure)."""
        done = subprocess.run(["pactl", *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise PulseUnavailable(f"pactl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def play(self, path: str | Path) -> subprocess.Popen:
        """Start playing ``path`` into the null sink; returns the paplay process."""
        return subprocess.Popen(["paplay", "-d", self.sink, str(path)],
                                env={**os.environ, **self.env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill(self) -> None:
        """Kill the server abruptly, as a crashing sound system would."""
        if self._server is not None and self._server.poll() is None:
            self._server.kill()
            self._server.wait(10)

    def stop(self) -> None:
        """Stop the server and restore the environment (safe to call twice)."""
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._module and self._server is not None and self._server.poll() is None:
            try:
                self.pactl("unload-module", self._module)
            except (PulseUnavailable, subprocess.TimeoutExpired):
                pass
        self._module = ""
        if self._server is not None:
            if self._server.poll() is None:
                self._server.terminate()
                try:
                    self._server.wait(10)
                except subprocess.TimeoutExpired:
                    self._server.kill()
                    self._server.wait(10)
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@contextmanager
def started_server(skip: Callable[[str], object],
                   on_change: Callable[[], object] = lambda: None) -> Iterator[PrivatePulseServer]:
    """A running :class:`PrivatePulseServer` for a test fixture: ``skip(reason)`` where none can
    be started; ``on_change()`` after it starts and after it stops (PortAudio must read its
    device list again).
    """
    server = PrivatePulseServer()
    try:
        server.start()
    except PulseUnavailable as exc:
        skip(f"no PulseAudio server can be started here: {exc}")
    on_change()
    try:
        yield server
    finally:
        server.stop()
        on_change()
