"""Compressing a real language model, with its quality measured beside its cost
(chapter 9.7).

Sections 9.2 to 9.6 build quantization, pruning, distillation and the key/value cache on
small models. This module applies them to SmolLM2-135M-Instruct's real weights
(:func:`lmbook.generation.load_smollm2`) and scores every variant by its perplexity on
held-out English text: :func:`perplexity` reads the text in non-overlapping windows.
Pruning zeroes the smallest weights of the decoder's linear layers
(:func:`prune_linear_weights`) or removes whole feed-forward channels
(:func:`prune_mlp_channels`); depth pruning removes whole decoder layers, ranked by how
little they change their input (:func:`block_influence`, :func:`drop_layers`), and a few
steps of training then heal the cut model, from the full model's next-token
distribution (:func:`token_distillation_loss`) or from the text alone (:func:`heal`).
Every function works with any ``LlamaForCausalLM``; the tests use tiny random ones.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from typing import NamedTuple

import torch
from torch.nn import functional as F

from lmbook import deploy, generation, validate

# Linear layers that pruning leaves alone by default: SmolLM2 ties its output layer to
# the token-embedding table (an nn.Embedding, never pruned here), so pruning ``lm_head``
# would prune the input embeddings too, and every token's row of it is used at every
# step.
EXCLUDED = ("lm_head",)


# Checks ----------------------------------------------------------------------


def _check_llama(model: object) -> torch.nn.Module:
    """A Hugging Face decoder-only model with ``model.model.layers``
    (Llama, SmolLM2...).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a causal LM (a torch.nn.Module), got {type(model).__name__}"
        )
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, torch.nn.ModuleList) or not hasattr(model, "config"):
        raise TypeError(
            "model must be a transformers causal LM with decoder layers in "
            f"model.model.layers (such as LlamaForCausalLM), got {type(model).__name__}"
        )
    return model


def _check_tokens(ids: object, name: str = "ids") -> torch.Tensor:
    """A 1-D tensor of token ids (a leading batch axis of 1 is dropped)."""
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.is_complex():
        raise TypeError(f"{name} must be a torch.Tensor of integer token ids")
    if ids.ndim == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.ndim != 1:
        raise ValueError(
            f"{name} must be one sequence, shape (n,) or (1, n), got {tuple(ids.shape)}"
        )
    return ids.long()


# Quality: perplexity in windows (chapter 9.7) --------------------------------


def windows(ids: torch.Tensor, window: int) -> torch.Tensor:
    """The token ids cut into non-overlapping rows of ``window`` tokens: (rows, window).

    The last ``len(ids) % window`` tokens, too few for a full row, are dropped, so every
    row has the same length and the rows run as one batch without padding.
    """
    ids = _check_tokens(ids)
    window = validate.integer("window", window, minimum=2)
    rows = len(ids) // window
    if rows == 0:
        raise ValueError(f"{len(ids)} tokens are fewer than one window of {window}")
    return ids[: rows * window].view(rows, window)


class Evaluation(NamedTuple):
    """What :func:`evaluate` measures of a model on a text (chapter 9.7)."""

    perplexity: float  # exp(nats_per_token)
    nats_per_token: float  # the mean negative log-likelihood of the scored tokens
    tokens: int  # the number of scored tokens
    seconds: float  # wall-clock time of the forward passes and the scoring
    # (windows, window - 1): each scored token's NLL in nats, float64.
    nlls: torch.Tensor
    predictions: torch.Tensor  # (windows, window - 1): the most likely next token there

    @property
    def tokens_per_second(self) -> float:
        """Scored tokens per second: about the speed of reading a prompt (prefill)."""
        return self.tokens / self.seconds


def _run_with_hooks(model: torch.nn.Module, rows: torch.Tensor, handles) -> None:
    """One forward pass in eval mode for the hooks in ``handles``, which it
    then removes.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(input_ids=rows, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


@torch.no_grad()
def _score(model: torch.nn.Module, rows: torch.Tensor, batch_size: int):
    was_training = model.training
    model.eval()
    nlls, predictions = [], []
    try:
        for batch in rows.split(batch_size):
            logits = model(input_ids=batch, use_cache=False).logits[:, :-1]
            nlls.append(generation.token_nll(logits, batch[:, 1:]))
            predictions.append(logits.argmax(dim=-1))
    finally:
        model.train(was_training)
    return torch.cat(nlls), torch.cat(predictions)


def token_nlls(
    model: torch.nn.Module, ids: torch.Tensor, *, window: int = 256, batch_size: int = 4
) -> torch.Tensor:
    """-log p(token | the tokens before it in its window), in nats, for each
    scored token.

    The text is cut by :func:`windows`; in each window every token but the first is
    scored, given the tokens before it in that window (the first has no context there).
    Returns a float64 tensor (rows, window - 1). ``batch_size`` windows run per forward
    pass: the same numbers, less overhead per token.
    """
    model = _check_llama(model)
    rows = windows(ids, window)
    return _score(model, rows, validate.count("batch_size", batch_size))[0]


def evaluate(
    model: torch.nn.Module, ids: torch.Tensor, *, window: int = 256, batch_size: int = 4
) -> Evaluation:
    """Perplexity, nats per token, speed and greedy predictions on a text (chapter 9.7).

    One pass of :func:`token_nlls`, timed with ``time.perf_counter``; the greedy
    ``predictions`` let :func:`agreement` compare two models token by token.
    """
    model = _check_llama(model)
    rows = windows(ids, window)
    batch_size = validate.count("batch_size", batch_size)
    start = time.perf_counter()
    nlls, predictions = _score(model, rows, batch_size)
    seconds = time.perf_counter() - start
    nats = nlls.mean().item()
    return Evaluation(math.exp(nats), nats, nlls.numel(), seconds, nlls, predictions)


def perplexity(
    model: torch.nn.Module, ids: torch.Tensor, *, window: int = 256, batch_size: int = 4
) -> float:
    """exp(mean NLL per token) over non-overlapping windows of ``window`` tokens
    (chapter 9.7).

    The number of equally likely tokens the model is, on average, choosing among.
    """
    return math.exp(
        token_nlls(model, ids, window=window, batch_size=batch_size).mean().item()
    )


def agreement(predictions: torch.Tensor, reference: torch.Tensor) -> float:
    """The share of positions where two models predict the same next token
    (chapter 9.7).
    """
    for name, value in (("predictions", predictions), ("reference", reference)):
        if not isinstance(value, torch.Tensor) or value.is_floating_point():
            raise TypeError(
                f"{name} must be a tensor of token ids, such as Evaluation.predictions"
            )
    if predictions.shape != reference.shape or predictions.numel() == 0:
        raise ValueError(
            "predictions and reference must be non-empty and of the same shape, got "
            f"{tuple(predictions.shape)} and {tuple(reference.shape)}"
        )
    return (predictions == reference).double().mean().item()


# Serving (chapter 9.7) ---------------------------------------------------------


def timed_generate(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    new_tokens: int,
    use_cache: bool = True,
) -> tuple[torch.Tensor, float]:
    """Greedy continuation of ``input_ids`` (batch, time) and its wall-clock seconds.

    :func:`lmbook.generation.generate` without an end token, so every row gets exactly
    ``new_tokens`` tokens and the throughput is ``batch · new_tokens / seconds``.
    """
    new_tokens = validate.count("new_tokens", new_tokens)
    start = time.perf_counter()
    out = generation.generate(
        model, input_ids, max_new_tokens=new_tokens, use_cache=use_cache
    )
    return out, time.perf_counter() - start


def _linears(model: torch.nn.Module, exclude) -> list[tuple[str, torch.nn.Linear]]:
    """The ``nn.Linear`` modules of ``model`` whose names do not end in one of
    ``exclude``.
    """
    if isinstance(exclude, str) or not all(isinstance(name, str) for name in exclude):
        raise TypeError("exclude must be a tuple of module names, such as ('lm_head',)")
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.endswith(tuple(exclude))
    ]


def nonzero_linear_weights(model: torch.nn.Module, *, exclude=EXCLUDED) -> int:
    """The number of nonzero weights in the linear layers not named in ``exclude``
    (chapter 9.7).

    What pruning removes, whichever way it does it: zeros written into the matrices
    (unstructured), rows and columns cut out of them (structured), whole layers dropped.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(
        int(layer.weight.count_nonzero()) for _, layer in _linears(model, exclude)
    )


# Quantization (chapter 9.7) ---------------------------------------------------


def quantize_linear_int8(model: torch.nn.Module, *, exclude=()) -> torch.nn.Module:
    """A copy of ``model`` whose linear layers run in dynamic int8, but those in
    ``exclude``.

    ``exclude`` holds name endings, such as ``("down_proj",)``: those layers stay in
    float32, the mixed precision that outlier inputs call for. With no exclusions this
    is :func:`lmbook.deploy.quantize_dynamic_int8` (per-tensor scales).
    """
    model = _check_llama(model)
    names = {name for name, _ in _linears(model, exclude)}
    if not names:
        raise ValueError(f"exclude={exclude!r} leaves no linear layer to quantize")
    # Torch.ao.quantization is deprecated in PyTorch 2.13.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        spec = dict.fromkeys(names, default_dynamic_qconfig)
        return quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8).eval()


def state_bytes(model: torch.nn.Module) -> int:
    """The bytes of the tensors in ``model.state_dict()``, int8 weights included,
    counted once.

    About what :func:`lmbook.deploy.saved_bytes` writes to disk, without writing it: a
    tensor shared by two modules (SmolLM2's tied embedding and output layer) counts
    once.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    seen, total = set(), 0
    stack = list(model.state_dict().values())
    while stack:
        value = stack.pop()
        if isinstance(value, tuple | list):
            stack.extend(value)  # a quantized layer's packed (weight, bias)
        elif isinstance(value, torch.Tensor):
            key = (value.data_ptr(), value.numel(), value.dtype)
            if key not in seen:
                seen.add(key)
                total += value.numel() * value.element_size()
    return total


@torch.no_grad()
def input_ranges(
    model: torch.nn.Module, ids: torch.Tensor, *, window: int = 256
) -> dict:
    """max |x| / RMS(x) of the input of each linear layer, over the windows of ``ids``.

    Dynamic int8 quantization gives a layer's whole input one scale, set by its largest
    value, so a large ratio leaves the typical value few integer steps (chapter 9.7).
    Returns {layer name: ratio}.
    """
    model = _check_llama(model)
    rows = windows(ids, window)
    ratios = {}

    def record(name):
        def hook(module, args):
            x = args[0].double()
            ratios[name] = (x.abs().max() / x.pow(2).mean().sqrt()).item()

        return hook

    handles = [
        layer.register_forward_pre_hook(record(name))
        for name, layer in _linears(model, ())
    ]
    _run_with_hooks(model, rows, handles)
    return ratios


# Pruning (chapter 9.7) ---------------------------------------------------------


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Magnitude pruning's mask: 0 for the ``round(sparsity · n)`` smallest |w|
    (chapter 9.7).

    :func:`lmbook.deploy.magnitude_mask`'s mask (up to which of several equal values are
    pruned), found with one ``kthvalue`` instead of ``topk``: about twice as fast on
    SmolLM2's matrices. Their 4-bit origin gives them many equal values; those tied at
    the threshold are pruned in storage order until exactly ``round(sparsity · n)``
    weights are zero.
    """
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError("weight must be a floating-point torch.Tensor")
    if weight.numel() == 0:
        raise ValueError("weight is empty")
    magnitude = weight.detach().abs().flatten()
    count = round(deploy.check_sparsity(sparsity) * magnitude.numel())
    mask = torch.ones_like(magnitude)
    if count:
        threshold = magnitude.kthvalue(count).values
        below = magnitude < threshold
        mask[below] = 0
        tied = (magnitude == threshold).nonzero().flatten()
        mask[tied[: count - int(below.sum())]] = 0
    return mask.view_as(weight)


@torch.no_grad()
def prune_linear_weights(
    model: torch.nn.Module, sparsity: float, *, exclude=EXCLUDED
) -> torch.nn.Module:
    """A copy of ``model`` with the ``sparsity`` share of each linear layer's
    weights zeroed.

    Unstructured magnitude pruning, matrix by matrix (:func:`magnitude_mask`: the
    smallest |w| of each), of every ``nn.Linear`` whose name does not end in one of
    ``exclude``. The zeros are written into the weights; the matrices keep their shape.
    """
    model = _check_llama(model)
    sparsity = deploy.check_sparsity(sparsity)
    pruned = copy.deepcopy(model)
    for _, layer in _linears(pruned, exclude):
        layer.weight.mul_(magnitude_mask(layer.weight, sparsity))
    return pruned


def _check_swiglu(mlp: torch.nn.Module) -> torch.nn.Module:
    for name in ("gate_proj", "up_proj", "down_proj"):
        if not isinstance(getattr(mlp, name, None), torch.nn.Linear):
            raise TypeError(
                f"the feed-forward blocks must be SwiGLU, with an nn.Linear {name}"
            )
    return mlp


@torch.no_grad()
def mlp_channel_scores(
    model: torch.nn.Module,
    calibration: torch.Tensor | None = None,
    *,
    window: int = 256,
) -> list[torch.Tensor]:
    """One importance score per hidden channel of each feed-forward block (chapter 9.7).

    Channel j of a SwiGLU block computes h_j = silu(gate_j · x) · (up_j · x) and adds
    h_j times column j of ``down_proj`` to the output. Without ``calibration`` text the
    score is the weights alone, |gate_j|·|up_j|·|down_j| (L2 norms); with it, the mean
    |h_j| over the calibration tokens times |down_j|, the average size of what the
    channel adds (activation-aware, as in Minitron). Returns a list, one tensor per
    layer.
    """
    model = _check_llama(model)
    mlps = [_check_swiglu(layer.mlp) for layer in model.model.layers]
    down_norms = [mlp.down_proj.weight.norm(dim=0) for mlp in mlps]
    if calibration is None:
        return [
            mlp.gate_proj.weight.norm(dim=1) * mlp.up_proj.weight.norm(dim=1) * down
            for mlp, down in zip(mlps, down_norms, strict=True)
        ]
    rows = windows(calibration, window)
    means = {}

    def record(index):
        def hook(module, args):  # the input of down_proj is h
            means[index] = args[0].abs().flatten(0, -2).mean(dim=0)

        return hook

    handles = [
        mlp.down_proj.register_forward_pre_hook(record(i)) for i, mlp in enumerate(mlps)
    ]
    _run_with_hooks(model, rows, handles)
    return [means[i] * down for i, down in enumerate(down_norms)]


def _shrunk(layer: torch.nn.Linear, keep: torch.Tensor, dim: int) -> torch.nn.Linear:
    """A new linear layer with only the rows (dim 0) or columns (dim 1) in ``keep``."""
    weight = layer.weight.detach().index_select(dim, keep).clone()
    out_features, in_features = weight.shape
    small = torch.nn.Linear(in_features, out_features, bias=layer.bias is not None)
    small.weight = torch.nn.Parameter(weight)
    if layer.bias is not None:
        bias = layer.bias.detach()
        small.bias = torch.nn.Parameter((bias[keep] if dim == 0 else bias).clone())
    return small


@torch.no_grad()
def prune_mlp_channels(model: torch.nn.Module, share: float, scores) -> torch.nn.Module:
    """A copy of ``model`` whose feed-forward blocks lost ``share`` of their
    hidden channels.

    Structured pruning: in every decoder layer the channels of lowest ``scores`` (from
    :func:`mlp_channel_scores`) are cut out of ``gate_proj`` and ``up_proj`` (rows) and
    ``down_proj`` (columns), so the matrices shrink and stay dense.
    """
    model = _check_llama(model)
    share = deploy.check_sparsity(share)
    mlps = [_check_swiglu(layer.mlp) for layer in model.model.layers]
    scores = list(scores) if not isinstance(scores, torch.Tensor) else None
    if scores is None or len(scores) != len(mlps):
        raise ValueError(f"scores must be a list of {len(mlps)} tensors, one per layer")
    for mlp, score in zip(mlps, scores, strict=True):
        if not isinstance(score, torch.Tensor) or score.shape != (
            mlp.up_proj.out_features,
        ):
            raise ValueError(
                "each layer's scores must be a tensor of shape "
                f"({mlp.up_proj.out_features},)"
            )
    pruned = copy.deepcopy(model)
    for layer, score in zip(pruned.model.layers, scores, strict=True):
        mlp = layer.mlp
        kept = len(score) - round(share * len(score))
        if kept == 0:
            raise ValueError(
                f"share {share} would remove every channel of {len(score)}"
            )
        keep = torch.topk(score, kept).indices.sort().values
        mlp.gate_proj = _shrunk(mlp.gate_proj, keep, 0)
        mlp.up_proj = _shrunk(mlp.up_proj, keep, 0)
        mlp.down_proj = _shrunk(mlp.down_proj, keep, 1)
        if hasattr(mlp, "intermediate_size"):
            mlp.intermediate_size = kept
    return pruned


# Depth pruning: dropping decoder layers (chapter 9.7) -------------------------


@torch.no_grad()
def block_influence(
    model: torch.nn.Module, ids: torch.Tensor, *, window: int = 256
) -> torch.Tensor:
    """1 - mean cosine(input, output) of each decoder layer's hidden states
    (chapter 9.7).

    ShortGPT's *block influence* (Men et al., 2024): a layer whose output points where
    its input did changes little, and is a candidate to drop. Averaged over every token
    of the windows of ``ids`` (see :func:`windows`). Returns a float64 tensor (layers,).
    """
    model = _check_llama(model)
    rows = windows(ids, window)
    cosines = []

    def record(module, args, kwargs, output):
        inputs = args[0] if args else kwargs["hidden_states"]
        outputs = output[0] if isinstance(output, tuple) else output
        cosines.append(
            F.cosine_similarity(inputs.double(), outputs.double(), dim=-1).mean()
        )

    # Hooks see each layer's own input and output (hidden_states=True would give the
    # last layer's output after the final norm).
    handles = [
        layer.register_forward_hook(record, with_kwargs=True)
        for layer in model.model.layers
    ]
    _run_with_hooks(model, rows, handles)
    return 1 - torch.stack(cosines)


def least_influential(scores: torch.Tensor, count: int) -> list[int]:
    """The indices of the ``count`` layers of lowest
    :func:`block_influence`, in order.
    """
    if (
        not isinstance(scores, torch.Tensor)
        or scores.ndim != 1
        or not scores.is_floating_point()
    ):
        raise TypeError(
            "scores must be a 1-D floating-point tensor, one score per layer"
        )
    count = validate.integer("count", count, minimum=1, maximum=len(scores) - 1)
    return sorted(torch.topk(scores, count, largest=False).indices.tolist())


def drop_layers(model: torch.nn.Module, drop) -> torch.nn.Module:
    """A copy of ``model`` without the decoder layers whose indices are in ``drop``.

    The remaining layers are renumbered (each attention layer's ``layer_idx`` is its
    slot in the key/value cache) and the copy's config counts them, so the cut model
    generates with and without the cache like any other.
    """
    model = _check_llama(model)
    layers = len(model.model.layers)
    drop = sorted(set(drop)) if not isinstance(drop, str | bytes) else drop
    if not isinstance(drop, list) or not all(validate.is_integer(i) for i in drop):
        raise TypeError("drop must be a collection of integer layer indices")
    if not drop or drop[0] < 0 or drop[-1] >= layers or len(drop) == layers:
        raise ValueError(
            f"drop must name between 1 and {layers - 1} layers of "
            f"0..{layers - 1}, got {drop}"
        )
    keep = [i for i in range(layers) if i not in drop]
    cut = copy.deepcopy(model)
    cut.model.layers = torch.nn.ModuleList(cut.model.layers[i] for i in keep)
    for new_index, layer in enumerate(cut.model.layers):
        layer.self_attn.layer_idx = new_index
    cut.config.num_hidden_layers = len(keep)
    if getattr(cut.config, "layer_types", None) is not None:  # one type per layer
        cut.config.layer_types = [cut.config.layer_types[i] for i in keep]
    return cut


def layers_around(drop, layers: int) -> list[int]:
    """The indices, in the cut model, of the kept layers just before and after each gap.

    ``drop`` lists the original indices removed from a stack of ``layers`` layers; these
    neighbours are the ones :func:`heal` trains, so they can take over the missing work.
    """
    layers = validate.count("layers", layers)
    drop = set(drop)
    if not drop or not all(validate.is_integer(i) and 0 <= i < layers for i in drop):
        raise ValueError(
            f"drop must name layers in 0..{layers - 1}, got {sorted(drop)}"
        )
    keep = [i for i in range(layers) if i not in drop]
    return [
        new
        for new, old in enumerate(keep)
        if old - 1 in drop or old + 1 in drop  # a neighbour of a dropped layer
    ]


# Healing the cut model: distillation or hard labels (chapter 9.7) --------------


def token_distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> torch.Tensor:
    """T² · KL(teacher_T ‖ student_T), averaged over tokens (chapter 9.7).

    Logits of shape (..., vocab); ``teacher_T`` and ``student_T`` are the softmaxes of
    the logits divided by T. For one token this is
    :func:`lmbook.deploy.distillation_loss` with ``alpha=1``; here every position of
    every sequence is one example.
    """
    temperature = validate.positive("temperature", temperature)
    for name, logits in (
        ("student_logits", student_logits),
        ("teacher_logits", teacher_logits),
    ):
        if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim < 1:
        raise ValueError(
            "student_logits and teacher_logits must have the same shape (..., vocab), "
            f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    vocab = student_logits.shape[-1]
    log_q = F.log_softmax(student_logits.reshape(-1, vocab) / temperature, dim=-1)
    log_p = F.log_softmax(
        teacher_logits.reshape(-1, vocab).detach() / temperature, dim=-1
    )
    kl = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
    return temperature**2 * kl


def heal(
    student: torch.nn.Module,
    ids: torch.Tensor,
    *,
    steps: int,
    train_layers,
    teacher: torch.nn.Module | None = None,
    temperature: float = 1.0,
    lr: float = 1e-4,
    window: int = 128,
    batch_size: int = 4,
    seed: int = 0,
) -> list[float]:
    """Train the decoder layers ``train_layers`` of ``student`` for ``steps``
    steps of Adam.

    Each step reads ``batch_size`` windows of ``window`` tokens of ``ids`` (see
    :func:`windows`), in an order fixed by ``seed``. Without a ``teacher`` the loss is
    the cross-entropy of the next token (hard labels); with one, the
    :func:`token_distillation_loss` to the teacher's next-token distribution at the
    same positions. Every other parameter stays frozen, so backpropagation stops at the
    lowest trained layer. Returns the loss of each step; the student ends in eval mode.
    """
    student = _check_llama(student)
    if teacher is not None:
        teacher = _check_llama(teacher).eval()
    steps = validate.count("steps", steps)
    batch_size = validate.count("batch_size", batch_size)
    temperature = validate.positive("temperature", temperature)
    rows = windows(ids, window)
    layers = len(student.model.layers)
    train_layers = sorted(set(train_layers))
    if not train_layers or not all(
        validate.is_integer(i) and 0 <= i < layers for i in train_layers
    ):
        raise ValueError(f"train_layers must name decoder layers in 0..{layers - 1}")
    if steps * batch_size > len(rows):
        raise ValueError(
            f"{steps} steps of {batch_size} windows need {steps * batch_size} windows "
            f"of {window} tokens; the text has {len(rows)}, so every "
            "window is read once at most"
        )
    flags = {name: p.requires_grad for name, p in student.named_parameters()}
    student.requires_grad_(False)
    trained = [p for i in train_layers for p in student.model.layers[i].parameters()]
    for p in trained:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(trained, lr=validate.positive("lr", lr))
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))
    losses = []
    student.train()
    try:
        for step in range(steps):
            batch = rows[order[step * batch_size : (step + 1) * batch_size]]
            logits = student(input_ids=batch, use_cache=False).logits[:, :-1]
            if teacher is None:
                loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
            else:
                with torch.no_grad():
                    target = teacher(input_ids=batch, use_cache=False).logits[:, :-1]
                loss = token_distillation_loss(logits, target, temperature=temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        for name, p in student.named_parameters():
            p.requires_grad_(flags[name])
        student.eval()
    return losses
