"""`monitor up`: one process creates the database, monitors feeds, serves dashboard and API."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import REPO

#: the installed command, as a user runs it
MONITOR = str(Path(sys.executable).with_name("monitor"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_up_serves_dashboard_and_api_and_stops_on_sigterm(tmp_path, feed_server):
    feed = feed_server.add(
        "/f.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>1</guid>'
        b"<title>Kyiv asks allies to join NATO</title><link>https://example.org/1</link>"
        b"</item></channel></rss>",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n'
        "[[feeds]]\n"
        f'url = "{feed}"\npublisher = "P"\nsource_type = "media"\ncountry = "US"\n'
        'language = "en"\n'
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), "up", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        sources: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/v1/sources")
                sources = json.loads(body)["sources"]
                if status == 200 and sources and sources[0].get("last_success_at"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if not (sources and sources[0]["last_success_at"]):
            process.kill()
            output, _ = process.communicate(timeout=60)
            message = f"the worker never fetched the feed; it printed:\n{output.decode()}"
            raise AssertionError(message)
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and b"Discourse Monitor" in page
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode()
        assert b"stopped" in output
    finally:
        if process.poll() is None:
            process.kill()


def _up(tmp_path, port: int) -> subprocess.Popen[bytes]:
    """`monitor up` in a process group of its own, as a terminal starts it (Ctrl-C signals
    the whole group: the worker, its fork server and its parse processes)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n')
    return subprocess.Popen(
        [MONITOR, "--config", str(config), "up", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_ctrl_c_as_from_a_terminal,
    )


def _ctrl_c_as_from_a_terminal() -> None:
    """A terminal's shell starts a command with SIGINT at its default; these tests may run
    where it is ignored (a shell's background job), which every child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_up_is_starting_stops_it_without_a_traceback(tmp_path):
    # the moments after the first line: the web stack loads, the worker starts its fork
    # server and parse processes; each once died of the Ctrl-C with a traceback
    for delay in (0.0, 0.4, 0.8, 1.2):
        process = _up(tmp_path, _free_port())
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert b"monitoring" in first, first
            time.sleep(delay)
            os.killpg(process.pid, signal.SIGINT)
            rest, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        output = (first + rest).decode()
        assert process.returncode == 0 and "Traceback" not in output, f"{delay} s: {output}"
        assert output.rstrip().endswith("stopped")
        assert _group_gone(process.pid), f"{delay} s: a process of the group was left behind"


def _group_gone(group: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_while_the_command_loads_ends_it_quietly():
    # loading the commands takes most of a second here; on a faster machine a Ctrl-C
    # may come once they are loaded (the help is printed): then it is sent sooner
    for delay in (0.4, 0.2, 0.1):
        process = subprocess.Popen(
            [MONITOR, "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_ctrl_c_as_from_a_terminal,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        if process.returncode == 0 and output.startswith(b"Usage: monitor"):
            continue
        assert process.returncode == 130 and output == b"", output.decode()
        return
    raise AssertionError("every Ctrl-C came after the commands had loaded")


def test_ctrl_c_as_up_announces_itself_stops_the_worker_it_started(tmp_path, monkeypatch):
    # the moment between the worker's start and the server's: a Ctrl-C there once ended
    # the main thread and left the worker running, so the process never exited
    from click.testing import CliRunner

    import monitor.cli.run as run_command
    from monitor.cli import cli

    stopped: list[bool] = []
    printed: list[str] = []

    def worker(settings, engine, *, stop, on_cycle):
        stopped.append(stop.wait(10))

    def echo(message=None, **_kw):
        if str(message).startswith("monitoring"):
            raise KeyboardInterrupt
        printed.append(str(message))

    monkeypatch.setattr(run_command, "run_worker", worker)
    monkeypatch.setattr(run_command, "start_fork_server", lambda: None)
    monkeypatch.setattr(run_command.click, "echo", echo)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "up"])
    assert (result.exit_code, stopped, printed[-1:]) == (0, [True], ["stopped"])


def test_ctrl_c_caught_while_the_web_stack_loads_still_stops_up(tmp_path, monkeypatch):
    # a KeyboardInterrupt raised while the web stack loads may be caught by a library (the
    # server then started regardless) or leave an import lock held (the worker hung on it)
    import flask
    import waitress
    from click.testing import CliRunner

    import monitor.cli.run as run_command
    import monitor.web
    from monitor.cli import cli

    stopped: list[bool] = []
    served: list[int] = []

    def worker(settings, engine, *, stop, on_cycle):
        stopped.append(stop.wait(10))

    def build_server_catching_ctrl_c(settings, engine):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the signal is handled within this
        except BaseException:  # as a careless library would
            pass
        return flask.Flask("test")

    monkeypatch.setattr(run_command, "run_worker", worker)
    monkeypatch.setattr(run_command, "start_fork_server", lambda: None)
    monkeypatch.setattr(monitor.web, "build_server", build_server_catching_ctrl_c)
    monkeypatch.setattr(waitress, "serve", lambda *args, port, **kw: served.append(port))
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n')
    before = signal.getsignal(signal.SIGINT)
    result = CliRunner().invoke(cli, ["--config", str(config), "up", "--port", "8999"])
    assert (result.exit_code, stopped, served) == (0, [True], []), result.output
    assert result.output.rstrip().endswith("stopped")
    assert signal.getsignal(signal.SIGINT) is before
