import os
import random
import socket
import sys

import numpy as np
import pytest
import torch

import lmbook
from lmbook import env


def draw_all():
    return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002


def test_set_seed_repeats_random_numpy_and_torch():
    env.set_seed(123, frameworks=("torch",))
    first = draw_all()
    env.set_seed(123, frameworks=("torch",))
    assert draw_all() == first
    env.set_seed(124, frameworks=("torch",))
    assert draw_all() != first


def test_set_seed_covers_tensorflow():
    env.prepare_tensorflow()  # Triton before TensorFlow, and quiet
    import tensorflow as tf

    env.set_seed(7, frameworks=("tensorflow",))
    first = tf.random.uniform((3,)).numpy()
    env.set_seed(7, frameworks=("tensorflow",))
    np.testing.assert_array_equal(tf.random.uniform((3,)).numpy(), first)


def test_set_seed_defaults_to_imported_frameworks():
    assert "torch" in sys.modules
    env.set_seed(5)
    first = torch.rand(2)
    env.set_seed(5)
    assert torch.equal(torch.rand(2), first)


@pytest.mark.parametrize(
    ("seed", "frameworks", "error", "message"),
    [
        ("1", None, TypeError, r"seed must be an integer in \[0, 4294967295\], got '1'"),
        (1.5, None, TypeError, "seed must be an integer in"),
        (True, None, TypeError, "seed must be an integer in"),
        (-1, None, ValueError, r"seed must be an integer in \[0, 4294967295\], got -1"),
        (2**32, None, ValueError, "seed must be an integer in"),
        (1, ("jax",), ValueError, "unknown framework"),
    ],
)
def test_set_seed_rejects_bad_input(seed, frameworks, error, message):
    with pytest.raises(error, match=message):
        env.set_seed(seed, frameworks=frameworks)


def test_offline_variable_short_circuits_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be touched when offline is forced")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert env.offline_reason() == "HF_HUB_OFFLINE"
    assert env.is_online() is False
    runtime = env.detect()
    assert runtime.online is False
    assert "offline (HF_HUB_OFFLINE is set)" in str(runtime)


def clear_offline(monkeypatch):
    for name in env.OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_is_online_true_for_a_listening_local_port(monkeypatch):
    clear_offline(monkeypatch)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert env.is_online("127.0.0.1", port, timeout=1.0) is True


def test_is_online_false_for_a_closed_local_port(monkeypatch):
    clear_offline(monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        assert env.is_online("127.0.0.1", port, timeout=1.0) is False


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"host": ""}, ValueError, "host must be a non-empty string, got ''"),
        ({"host": 5}, TypeError, "host must be a non-empty string, got 5"),
        ({"port": 0}, ValueError, r"port must be an integer in \[1, 65535\], got 0"),
        ({"port": 70000}, ValueError, r"port must be an integer in \[1, 65535\], got 70000"),
        ({"port": "443"}, TypeError, r"port must be an integer in \[1, 65535\], got '443'"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number > 0, got 0"),
        ({"timeout": "1"}, TypeError, "timeout must be a finite number > 0, got '1'"),
    ],
)
def test_is_online_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        env.is_online(**kwargs)


def test_detect_on_this_machine(monkeypatch):
    monkeypatch.setenv("LMBOOK_OFFLINE", "1")
    runtime = env.detect()
    assert runtime.platform == "local"
    assert runtime.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert runtime.python.count(".") == 2
    assert str(runtime).startswith("local runtime, Python ")
    # The set-up cell's report names the course package's version it installed.
    assert f", lmbook {lmbook.__version__};" in str(runtime)


def test_detect_without_network_check(monkeypatch):
    clear_offline(monkeypatch)
    monkeypatch.setattr(env, "is_online", lambda *a, **k: pytest.fail("probed the network"))
    runtime = env.detect(check_network=False)
    assert runtime.online is False
    assert "not reachable" in str(runtime)
    with pytest.raises(TypeError, match="check_network must be True or False, got 0"):
        env.detect(check_network=0)


@pytest.mark.parametrize("gpu, level", [(True, "2"), (False, "3")])
def test_prepare_tensorflow_sets_log_level(monkeypatch, gpu, level):
    # Without an NVIDIA device, errors go too: the CUDA build's cuInit error is all there is.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setattr(env, "nvidia_device_present", lambda: gpu)
    env.prepare_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == level


def test_nvidia_device_present_reads_dev(monkeypatch, tmp_path):
    monkeypatch.setattr(env, "Path", lambda _: tmp_path)
    assert not env.nvidia_device_present()
    (tmp_path / "nvidiactl").touch()  # the control node alone is not a GPU
    assert not env.nvidia_device_present()
    (tmp_path / "nvidia0").touch()
    assert env.nvidia_device_present()


def _prepare_with_fake_triton(tmp_path, before: str) -> str:
    """Run prepare_tensorflow in a fresh interpreter that has a stand-in ``triton``."""
    import subprocess

    (tmp_path / "triton.py").write_text("print('triton imported')\n")
    code = f"import sys\n{before}\nfrom lmbook import env\nenv.prepare_tensorflow()\n"
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_prepare_tensorflow_loads_triton_before_tensorflow(tmp_path):
    assert "triton imported" in _prepare_with_fake_triton(tmp_path, before="")


def test_prepare_tensorflow_never_loads_triton_after_tensorflow(tmp_path):
    # Triton loaded after TensorFlow is the crash this function exists to avoid.
    fake = "import logging, types\ntf = types.ModuleType('tensorflow')\n"
    fake += "tf.get_logger = logging.getLogger\nsys.modules['tensorflow'] = tf"
    assert "triton imported" not in _prepare_with_fake_triton(tmp_path, before=fake)


def test_importing_lmbook_has_no_side_effects():
    import subprocess

    code = (
        "import os, sys; before = dict(os.environ); "
        "import lmbook, lmbook.env, lmbook.plot, lmbook.data, lmbook.scaling, lmbook.checks, "
        "lmbook.train; "
        "assert dict(os.environ) == before; "
        "assert 'tensorflow' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ensure_packages_installs_nothing_when_all_are_present(monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run")

    monkeypatch.setattr(env.subprocess, "run", no_pip)
    assert env.ensure_packages({"numpy": "numpy", "pandas": "pandas"}) == []


def test_ensure_packages_installs_only_what_is_missing(monkeypatch):
    calls = []
    monkeypatch.setattr(env.subprocess, "run", lambda command, check: calls.append(command))
    installed = env.ensure_packages(
        {"numpy": "numpy", "no_such_module_xyz": "no-such-package==1.0"}, no_deps=True
    )
    assert installed == ["no-such-package==1.0"]
    assert calls == [
        [env.sys.executable, "-m", "pip", "install", "-q", "--no-deps", "no-such-package==1.0"]
    ]


@pytest.mark.parametrize(
    ("packages", "error"),
    [(["numpy"], TypeError), ({"numpy": 1}, TypeError), ({1: "numpy"}, TypeError)]
    + [({"numpy": ""}, ValueError), ({"": "numpy"}, ValueError)],
)
def test_ensure_packages_rejects_bad_input(packages, error):
    with pytest.raises(error, match="packages must map module names to pip requirements"):
        env.ensure_packages(packages)
    with pytest.raises(TypeError, match="no_deps must be True or False, got 'yes'"):
        env.ensure_packages({"numpy": "numpy"}, no_deps="yes")
