"""Warm kernels for grading: import the heavy libraries once, fork one fresh kernel per notebook.

Most of a graded notebook's time is its first cell importing torch, matplotlib, scikit-learn and
the course (about 4 s of a 6 s notebook on a 2-core CPU). A *template* process makes the imports
the reference notebooks make (and ipykernel's) once, then only waits; for every notebook it forks
a new process that becomes that notebook's Jupyter kernel. Each kernel is a process of its own
that no other notebook's code ever ran in: a fork copies the template's memory, so what one
student's code changes (globals, patched modules, files in its scratch folder) no other kernel
can see. The template itself runs no notebook code.

The Jupyter side sees an ordinary kernel: its kernelspec runs ``python -m
dcgan_course.classroom.kernels CONNECTION_FILE``, a small stand-in process that asks the template
for a kernel, forwards interrupts to it, lives exactly as long as it does and kills it when its own
parent dies; the kernel in turn exits when its stand-in is killed, so nbval's time-outs and the
grader's backstop still work.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import random
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

TEMPLATE_ENV = "DCGAN_COURSE_KERNEL_TEMPLATE"
KERNEL_NAME = "dcgan-course-warm"
KERNEL_MODULES = ("ipykernel.kernelapp",)  # what every kernel imports; the rest comes from the notebooks
READY = "ready"
POLL_SECONDS = 0.1


# -- the template: imports once, forks a kernel per request -----------------------------------------

def serve(address: str, modules: list[str]) -> None:
    """Import ``modules``, then fork one kernel per request on the Unix socket ``address``."""
    for name in [*KERNEL_MODULES, *modules]:
        with contextlib.suppress(Exception):  # a name that is not a module (from x import function)
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # finished kernels are reaped by the system
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen()
        print(READY, flush=True)
        while True:
            connection, _ = listener.accept()
            with connection:
                request, streams = receive_request(connection)
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    become_kernel(request, streams)
                for stream in streams:
                    os.close(stream)
                connection.sendall(f"{pid}\n".encode())


def receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    """One kernel request: a JSON line, with the stand-in's stdin, stdout and stderr attached."""
    data, streams, _, _ = socket.recv_fds(connection, 65536, 3)
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data), streams


def become_kernel(request: dict, streams: list[int]) -> None:
    """In the forked child: take the stand-in's streams, environment and folder, then run ipykernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    for number, stream in enumerate(streams):
        os.dup2(stream, number)
        os.close(stream)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    random.seed()  # a fresh interpreter seeds these from the OS; a fork would share the template's
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    threading.Thread(target=exit_with, args=(request["stand_in"],), daemon=True).start()
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    try:
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
    finally:
        os._exit(0)


def exit_with(pid: int) -> None:
    """End this kernel as soon as process ``pid`` (its stand-in) is gone."""
    while alive(pid):
        time.sleep(POLL_SECONDS)
    os._exit(1)


def imported_modules(sources: Iterable[str]) -> list[str]:
    """The modules some code imports (``from a import b`` gives ``a`` and ``a.b``), sorted."""
    modules: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics and the like: that cell preloads nothing
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
                modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(modules)


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and has not exited (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- the stand-in: what the kernelspec runs ---------------------------------------------------------

def stand_in(connection_file: str) -> int:
    """Ask the template for a kernel, forward interrupts and stops to it, and live as long as it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(os.environ[TEMPLATE_ENV])
        request = {"connection_file": str(Path(connection_file).resolve()), "cwd": os.getcwd(),
                   "env": dict(os.environ), "stand_in": os.getpid()}
        socket.send_fds(client, [(json.dumps(request) + "\n").encode()], [0, 1, 2])
        kernel = int(client.makefile("r", encoding="utf-8").readline())
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: os.kill(kernel, number))
    parent = os.getppid()
    while alive(kernel):
        if os.getppid() != parent:  # whoever started this kernel is gone (killed): so is the kernel
            os.kill(kernel, signal.SIGKILL)
        time.sleep(POLL_SECONDS)
    return 0


# -- the grader's side: start the template, point Jupyter at it -------------------------------------

@contextlib.contextmanager
def warm_kernels(environment: dict[str, str], preload: Iterable[str] = (),
                 startup_timeout: float = 120.0) -> Iterator[dict[str, str]]:
    """Run a template that imported ``preload`` during a grading run; yields the environment that selects it.

    Under that environment the kernel named ``KERNEL_NAME`` is a fork of the template.
    """
    with tempfile.TemporaryDirectory(prefix="dcgan-kernels-") as folder:
        address = str(Path(folder) / "template.sock")
        spec = Path(folder) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", __name__, "{connection_file}"],
            "display_name": "dcgan-course (warm, forked per notebook)", "language": "python"}))
        command = [sys.executable, "-m", __name__, "--serve", address, *preload]
        template = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True,
                                    start_new_session=True)
        try:
            wait_until_ready(template, startup_timeout)
            jupyter_path = os.pathsep.join(filter(None, [folder, environment.get("JUPYTER_PATH")]))
            yield {**environment, TEMPLATE_ENV: address, "JUPYTER_PATH": jupyter_path}
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(template.pid, signal.SIGKILL)
            template.wait()


def wait_until_ready(template: subprocess.Popen, timeout: float) -> None:
    """Block until the template has imported everything, or raise if it died or took too long."""
    timer = threading.Timer(timeout, template.kill)
    timer.start()
    try:
        line = template.stdout.readline() if template.stdout else ""
    finally:
        timer.cancel()
    if line.strip() != READY:
        raise RuntimeError(f"the grading kernel template did not start (exit code {template.poll()})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(stand_in(sys.argv[1]))
