"""Recurrent networks in NumPy: Elman RNN, LSTM and GRU (chapter 4).

Every function works on plain arrays so that each line can be read against
the equations of chapter 4. Shapes follow PyTorch's defaults:

- a sequence ``xs`` is ``(time, batch, input_size)``;
- a state ``h`` (and an LSTM's cell ``c``) is ``(batch, hidden_size)``;
- a weight matrix is ``(out, in)``, so a layer computes ``x @ W.T``.

Parameters are dicts of arrays with the names used in chapter 4:

- RNN:  ``W_xh, W_hh, b_h``  with  h' = tanh(W_xh x + W_hh h + b_h)
- LSTM: ``W_x?, W_h?, b_?`` for the gates ``? = i, f, g, o``
- GRU:  ``W_x?, W_h?, b_?`` for ``? = r, z``, and ``W_xn, W_hn, b_xn, b_hn``
  (the reset gate multiplies ``W_hn h + b_hn``, so its two biases stay apart)

:func:`params_from_torch` copies the weights of ``torch.nn.RNN``, ``LSTM`` or
``GRU`` into this layout; the ``*_backward`` functions implement
backpropagation through time (BPTT) and return the same gradients as
``torch.autograd``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lmbook import validate
from lmbook.nn import sigmoid

KINDS = ("rnn", "lstm", "gru")
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def param_names(kind: str) -> tuple[str, ...]:
    """The parameter names of a ``"rnn"``, ``"lstm"`` or ``"gru"`` layer (chapter 4)."""
    validate.choice("kind", kind, KINDS)
    if kind == "gru":
        return (
            "W_xr",
            "W_hr",
            "b_r",
            "W_xz",
            "W_hz",
            "b_z",
            "W_xn",
            "W_hn",
            "b_xn",
            "b_hn",
        )
    return tuple(
        name
        for gate in GATES[kind]
        for name in (f"W_x{gate}", f"W_h{gate}", f"b_{gate}")
    )


# Input checks --------------------------------------------------------------


def check_params(kind: str, params: Mapping[str, np.ndarray]) -> tuple[int, int]:
    """Check a parameter dict of a ``kind`` layer; return
    ``(input_size, hidden_size)``.
    """
    names = param_names(kind)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(
            f"{kind} params lack {missing}; expected the keys {list(names)}"
        )
    for name in names:
        validate.float_array(f"params[{name!r}]", params[name])
    first = params[names[0]]
    if first.ndim != 2 or 0 in first.shape:
        raise ValueError(
            f"params[{names[0]!r}] must be 2-D (hidden_size, input_size), "
            f"got shape {first.shape}"
        )
    hidden, inputs = first.shape
    for name in names:
        expected = {"W_x": (hidden, inputs), "W_h": (hidden, hidden)}.get(
            name[:3], (hidden,)
        )
        if params[name].shape != expected:
            raise ValueError(
                f"params[{name!r}] has shape {params[name].shape}, expected {expected} "
                f"for input_size={inputs} and hidden_size={hidden}"
            )
    return inputs, hidden


def _check_sequence(xs: object, input_size: int) -> np.ndarray:
    xs = validate.float_array("xs", xs)
    if xs.ndim != 3:
        raise ValueError(
            "xs must be 3-D (time, batch, input_size), got "
            f"{xs.ndim}-D with shape {xs.shape}"
            + ("; add a batch axis with xs[:, None, :]" if xs.ndim == 2 else "")
        )
    if xs.shape[0] < 1 or xs.shape[1] < 1:
        raise ValueError(
            f"xs needs at least one time step and one sequence, got shape {xs.shape}"
        )
    if xs.shape[2] != input_size:
        raise ValueError(
            f"xs has input_size {xs.shape[2]}, but the parameters expect {input_size}"
        )
    return xs


def _check_step(x: object, input_size: int) -> np.ndarray:
    x = validate.float_array("x", x)
    if x.ndim != 2 or x.shape[1] != input_size or x.shape[0] < 1:
        raise ValueError(
            f"x must be 2-D (batch, input_size) with input_size={input_size}, "
            f"got shape {x.shape}"
        )
    return x


def _check_state(
    state: object, name: str, batch: int, hidden: int, dtype
) -> np.ndarray:
    if state is None:
        return np.zeros((batch, hidden), dtype=dtype)
    state = validate.float_array(name, state)
    if state.shape != (batch, hidden):
        raise ValueError(
            f"{name} has shape {state.shape}, expected "
            f"(batch, hidden_size) = {(batch, hidden)}"
        )
    return state


def _check_upstream(dhs: object, hs: np.ndarray) -> np.ndarray:
    dhs = validate.float_array("dhs", dhs)
    if dhs.shape != hs.shape:
        raise ValueError(
            "dhs must have the shape of the hidden states (time, batch, "
            f"hidden) = {hs.shape}, got {dhs.shape}"
        )
    return dhs


def _check_cache(cache: object, kind: str) -> dict:
    if not isinstance(cache, dict):
        raise TypeError(
            f"cache must be the dict returned by {kind}_forward, "
            f"got {type(cache).__name__}"
        )
    if cache.get("kind") != kind:
        made_by = (
            f", not by {cache['kind']}_forward" if cache.get("kind") in KINDS else ""
        )
        raise ValueError(f"cache must be the dict returned by {kind}_forward{made_by}")
    return cache


# Cells: one time step -------------------------------------------------------


def _rnn_step(p, x, h):
    return np.tanh(x @ p["W_xh"].T + h @ p["W_hh"].T + p["b_h"])


def _lstm_step(p, x, h, c):
    def pre(g):
        return x @ p[f"W_x{g}"].T + h @ p[f"W_h{g}"].T + p[f"b_{g}"]

    i, f, o = sigmoid(pre("i")), sigmoid(pre("f")), sigmoid(pre("o"))
    g = np.tanh(pre("g"))
    c_new = f * c + i * g  # the additive path: c_{t-1} reaches c_t through f alone
    return o * np.tanh(c_new), c_new, (i, f, g, o)


def _gru_step(p, x, h):
    r = sigmoid(x @ p["W_xr"].T + h @ p["W_hr"].T + p["b_r"])
    z = sigmoid(x @ p["W_xz"].T + h @ p["W_hz"].T + p["b_z"])
    m = h @ p["W_hn"].T + p["b_hn"]  # the reset gate scales this, bias included
    n = np.tanh(x @ p["W_xn"].T + p["b_xn"] + r * m)
    return (1.0 - z) * n + z * h, (r, z, n, m)


def rnn_cell(
    params: Mapping[str, np.ndarray], x: np.ndarray, h: np.ndarray
) -> np.ndarray:
    """One Elman step, h' = tanh(W_xh x + W_hh h + b_h) (chapter 4).

    ``x`` is ``(batch, input_size)``, ``h`` is ``(batch, hidden_size)``.
    """
    inputs, hidden = check_params("rnn", params)
    x = _check_step(x, inputs)
    h = _check_state(h, "h", x.shape[0], hidden, x.dtype)
    return _rnn_step(params, x, h)


def lstm_cell(
    params: Mapping[str, np.ndarray], x: np.ndarray, h: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step; returns the new ``(h, c)`` (chapter 4, gate equations)."""
    inputs, hidden = check_params("lstm", params)
    x = _check_step(x, inputs)
    h = _check_state(h, "h", x.shape[0], hidden, x.dtype)
    c = _check_state(c, "c", x.shape[0], hidden, x.dtype)
    h_new, c_new, _ = _lstm_step(params, x, h, c)
    return h_new, c_new


def gru_cell(
    params: Mapping[str, np.ndarray], x: np.ndarray, h: np.ndarray
) -> np.ndarray:
    """One GRU step in PyTorch's convention, h' = (1 - z) n + z h (chapter 4)."""
    inputs, hidden = check_params("gru", params)
    x = _check_step(x, inputs)
    h = _check_state(h, "h", x.shape[0], hidden, x.dtype)
    return _gru_step(params, x, h)[0]


# Sequence loops: forward ------------------------------------------------------


def rnn_forward(
    params: Mapping[str, np.ndarray], xs: np.ndarray, h0: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """Run an Elman RNN over ``xs`` (time, batch, input); return ``hs`` and a
    cache for BPTT.

    ``hs[t]`` is the state after reading ``xs[t]``, so ``hs[-1]`` is the last
    state; ``h0`` defaults to zeros (chapter 4, unrolling).
    """
    inputs, hidden = check_params("rnn", params)
    xs = _check_sequence(xs, inputs)
    h = _check_state(h0, "h0", xs.shape[1], hidden, xs.dtype)
    cache = {"kind": "rnn", "params": params, "xs": xs, "h0": h}
    hs = []
    for x in xs:
        h = _rnn_step(params, x, h)
        hs.append(h)
    cache["hs"] = hs = np.stack(hs)
    return hs, cache


def lstm_forward(
    params: Mapping[str, np.ndarray],
    xs: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run an LSTM over ``xs``; return the states ``hs``, the cells ``cs`` and a cache.

    Both ``hs`` and ``cs`` are ``(time, batch, hidden)``; PyTorch's final
    ``(h_n, c_n)`` are ``hs[-1]`` and ``cs[-1]`` (chapter 4).
    """
    inputs, hidden = check_params("lstm", params)
    xs = _check_sequence(xs, inputs)
    h = _check_state(h0, "h0", xs.shape[1], hidden, xs.dtype)
    c = _check_state(c0, "c0", xs.shape[1], hidden, xs.dtype)
    cache = {"kind": "lstm", "params": params, "xs": xs, "h0": h, "c0": c, "gates": []}
    hs, cs = [], []
    for x in xs:
        h, c, gates = _lstm_step(params, x, h, c)
        hs.append(h)
        cs.append(c)
        cache["gates"].append(gates)
    cache["hs"], cache["cs"] = hs, cs = np.stack(hs), np.stack(cs)
    return hs, cs, cache


def gru_forward(
    params: Mapping[str, np.ndarray], xs: np.ndarray, h0: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """Run a GRU over ``xs``; return the states ``hs`` (time, batch, hidden)
    and a cache.
    """
    inputs, hidden = check_params("gru", params)
    xs = _check_sequence(xs, inputs)
    h = _check_state(h0, "h0", xs.shape[1], hidden, xs.dtype)
    cache = {"kind": "gru", "params": params, "xs": xs, "h0": h, "gates": []}
    hs = []
    for x in xs:
        h, gates = _gru_step(params, x, h)
        hs.append(h)
        cache["gates"].append(gates)
    cache["hs"] = hs = np.stack(hs)
    return hs, cache


# Sequence loops: backpropagation through time ---------------------------------


def rnn_backward(cache: dict, dhs: np.ndarray) -> tuple[dict, dict]:
    """Backpropagation through time for :func:`rnn_forward` (chapter 4).

    ``dhs[t]`` is the loss's *direct* gradient with respect to ``hs[t]`` (from
    the output at step t only). Walking back in time, the total gradient is
    delta_t = dhs[t] + W_hh^T (delta_{t+1} * (1 - h_{t+1}^2)).
    Returns ``(param_grads, input_grads)``; ``input_grads`` has ``"xs"`` and ``"h0"``.
    """
    cache = _check_cache(cache, "rnn")
    p, xs, hs = cache["params"], cache["xs"], cache["hs"]
    dhs = _check_upstream(dhs, hs)
    grads = {name: np.zeros_like(p[name]) for name in param_names("rnn")}
    dxs = np.zeros_like(xs, dtype=np.result_type(xs, hs))
    carry = np.zeros_like(hs[0])  # gradient arriving from step t + 1
    for t in reversed(range(len(xs))):
        h_prev = hs[t - 1] if t > 0 else cache["h0"]
        da = (dhs[t] + carry) * (1.0 - hs[t] ** 2)  # through tanh
        grads["W_xh"] += da.T @ xs[t]
        grads["W_hh"] += da.T @ h_prev
        grads["b_h"] += da.sum(axis=0)
        dxs[t] = da @ p["W_xh"]
        carry = da @ p["W_hh"]
    return grads, {"xs": dxs, "h0": carry}


def lstm_backward(cache: dict, dhs: np.ndarray) -> tuple[dict, dict]:
    """BPTT for :func:`lstm_forward`; ``input_grads`` has ``"xs"``, ``"h0"``
    and ``"c0"``.

    The cell gradient flows back as dc_{t-1} = f_t * dc_t (plus the terms
    through h): the additive path of chapter 4.
    """
    cache = _check_cache(cache, "lstm")
    p, xs, hs, cs = cache["params"], cache["xs"], cache["hs"], cache["cs"]
    dhs = _check_upstream(dhs, hs)
    grads = {name: np.zeros_like(p[name]) for name in param_names("lstm")}
    dxs = np.zeros_like(xs, dtype=np.result_type(xs, hs))
    dh_carry, dc = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    for t in reversed(range(len(xs))):
        i, f, g, o = cache["gates"][t]
        h_prev = hs[t - 1] if t > 0 else cache["h0"]
        c_prev = cs[t - 1] if t > 0 else cache["c0"]
        dh = dhs[t] + dh_carry
        tanh_c = np.tanh(cs[t])
        dc = dc + dh * o * (1.0 - tanh_c**2)
        pre = {  # gradients of the gates' pre-activations
            "i": dc * g * i * (1.0 - i),
            "f": dc * c_prev * f * (1.0 - f),
            "g": dc * i * (1.0 - g**2),
            "o": dh * tanh_c * o * (1.0 - o),
        }
        dh_carry = np.zeros_like(dh)
        dxs[t] = 0.0
        for gate, da in pre.items():
            grads[f"W_x{gate}"] += da.T @ xs[t]
            grads[f"W_h{gate}"] += da.T @ h_prev
            grads[f"b_{gate}"] += da.sum(axis=0)
            dxs[t] += da @ p[f"W_x{gate}"]
            dh_carry += da @ p[f"W_h{gate}"]
        dc = dc * f  # the additive path
    return grads, {"xs": dxs, "h0": dh_carry, "c0": dc}


def gru_backward(cache: dict, dhs: np.ndarray) -> tuple[dict, dict]:
    """BPTT for :func:`gru_forward`; ``input_grads`` has ``"xs"`` and ``"h0"``
    (chapter 4).
    """
    cache = _check_cache(cache, "gru")
    p, xs, hs = cache["params"], cache["xs"], cache["hs"]
    dhs = _check_upstream(dhs, hs)
    grads = {name: np.zeros_like(p[name]) for name in param_names("gru")}
    dxs = np.zeros_like(xs, dtype=np.result_type(xs, hs))
    carry = np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        r, z, n, m = cache["gates"][t]
        h_prev = hs[t - 1] if t > 0 else cache["h0"]
        dh = dhs[t] + carry
        da_n = dh * (1.0 - z) * (1.0 - n**2)
        da_z = dh * (h_prev - n) * z * (1.0 - z)
        dm = da_n * r
        da_r = da_n * m * r * (1.0 - r)
        for gate, da in (("r", da_r), ("z", da_z)):
            grads[f"W_x{gate}"] += da.T @ xs[t]
            grads[f"W_h{gate}"] += da.T @ h_prev
            grads[f"b_{gate}"] += da.sum(axis=0)
        grads["W_xn"] += da_n.T @ xs[t]
        grads["b_xn"] += da_n.sum(axis=0)
        grads["W_hn"] += dm.T @ h_prev
        grads["b_hn"] += dm.sum(axis=0)
        dxs[t] = da_r @ p["W_xr"] + da_z @ p["W_xz"] + da_n @ p["W_xn"]
        carry = dh * z + da_r @ p["W_hr"] + da_z @ p["W_hz"] + dm @ p["W_hn"]
    return grads, {"xs": dxs, "h0": carry}


# Gradient clipping ------------------------------------------------------------


def clip_grad_norm(
    grads: Mapping[str, np.ndarray], max_norm: float
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale ``grads`` so that their joint L2 norm is at most ``max_norm``
    (chapter 4).

    Returns the clipped copies and the norm before clipping. As
    ``torch.nn.utils.clip_grad_norm_``, it multiplies by
    min(1, max_norm / (norm + 1e-6)), so the direction never changes.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"grads must be a non-empty dict of arrays, got {type(grads).__name__}"
        )
    if not grads:
        raise ValueError("grads must be a non-empty dict of arrays, got an empty one")
    for name, value in grads.items():
        validate.float_array(f"grads[{name!r}]", value)
    max_norm = validate.positive("max_norm", max_norm)
    norm = float(
        np.sqrt(sum(np.sum(value.astype(np.float64) ** 2) for value in grads.values()))
    )
    scale = min(1.0, max_norm / (norm + 1e-6))
    return {name: value * scale for name, value in grads.items()}, norm


# Parameters: PyTorch's initialisation and its weights -------------------------


def init_params(
    kind: str, input_size: int, hidden_size: int, *, seed: int = 0, dtype=np.float64
) -> dict[str, np.ndarray]:
    """Parameters drawn as PyTorch draws them: uniform in ±1/sqrt(hidden_size)
    (chapter 4).
    """
    input_size = validate.count("input_size", input_size)
    hidden_size = validate.count("hidden_size", hidden_size)
    names = param_names(kind)
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_x": (hidden_size, input_size), "W_h": (hidden_size, hidden_size)}
    return {
        name: rng.uniform(-bound, bound, shapes.get(name[:3], (hidden_size,))).astype(
            dtype
        )
        for name in names
    }


def params_from_torch(
    module, *, layer: int = 0, dtype=np.float64
) -> dict[str, np.ndarray]:
    """Copy one layer of a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` into this
    module's layout.

    PyTorch stacks the gates in the rows of ``weight_ih_l{k}`` (input to hidden)
    and ``weight_hh_l{k}`` (hidden to hidden): LSTM in the order i, f, g, o;
    GRU in the order r, z, n. It keeps two bias vectors, ``bias_ih`` and
    ``bias_hh``: they are summed here except for the GRU's candidate, where the
    reset gate multiplies ``W_hn h + b_hn`` and the biases stay apart (chapter 4).
    """
    import torch

    kinds = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}
    kind = next((k for cls, k in kinds.items() if type(module) is cls), None)
    if kind is None:
        raise TypeError(
            "module must be a torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU, "
            f"got {type(module).__name__}"
        )
    layer = validate.integer("layer", layer, minimum=0, maximum=module.num_layers - 1)
    if module.bidirectional:
        raise ValueError(
            "bidirectional layers are not supported; copy each direction by hand"
        )
    if kind == "rnn" and module.nonlinearity != "tanh":
        raise ValueError(
            f"only the tanh RNN is supported, got nonlinearity={module.nonlinearity!r}"
        )
    if kind == "lstm" and module.proj_size:
        raise ValueError(
            f"LSTMs with proj_size > 0 are not supported, got {module.proj_size}"
        )

    def get(name):
        tensor = getattr(module, f"{name}_l{layer}", None)
        if tensor is None:  # bias=False
            return np.zeros(module.hidden_size * len(GATES[kind]), dtype=dtype)
        return tensor.detach().cpu().numpy().astype(dtype)

    w_ih, w_hh, b_ih, b_hh = (
        get("weight_ih"),
        get("weight_hh"),
        get("bias_ih"),
        get("bias_hh"),
    )
    size = module.hidden_size
    params = {}
    for k, gate in enumerate(GATES[kind]):
        rows = slice(k * size, (k + 1) * size)
        params[f"W_x{gate}"] = w_ih[rows].copy()
        params[f"W_h{gate}"] = w_hh[rows].copy()
        if kind == "gru" and gate == "n":
            params["b_xn"], params["b_hn"] = b_ih[rows].copy(), b_hh[rows].copy()
        else:
            params[f"b_{gate}"] = b_ih[rows] + b_hh[rows]
    return {name: params[name] for name in param_names(kind)}
