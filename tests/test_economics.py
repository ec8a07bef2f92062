import math
import re

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lmbook import economics, scale, scaling

H100 = scale.ACCELERATORS["H100"]


# Prices and market figures -----------------------------------------------------------


def test_every_price_is_dated_and_sourced():
    for price in economics.GPU_HOUR_PRICES.values():
        assert price.gpu in scale.ACCELERATORS
        assert price.usd_per_hour > 0
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", price.date)
        assert re.fullmatch(r"[a-z]+\d{4}[a-z0-9]+", price.source)
    for price in economics.API_PRICES.values():
        assert 0 < price.input_usd_per_million <= price.output_usd_per_million
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", price.date)
        assert re.fullmatch(r"[a-z]+\d{4}[a-z0-9]+", price.source)
    assert economics.DEFAULT_GPU_HOUR_PRICE == 2.0


DATE = r"\d{4}-\d{2}(-\d{2})?"


def test_every_dated_figure_has_a_date_and_a_source_in_the_bibliography(root):
    table = economics.dated_figures()
    assert list(table.columns) == ["kind", "key", "what", "figure", "as_of", "until", "source"]
    expected = len(economics.GPU_HOUR_PRICES) + len(economics.API_PRICES)
    assert len(table) == expected + len(economics.MARKET_FIGURES)
    bibliography = (root / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bibliography, flags=re.MULTILINE))
    for row in table.itertuples():
        assert re.fullmatch(DATE, row.as_of), f"{row.key} has no date: {row.as_of!r}"
        assert row.source in keys, f"{row.key}'s source {row.source!r} is not in references.bib"
        assert row.figure and row.what, row.key
        # A lapsed figure says when it lapsed, after it applied.
        assert row.until == "" or (re.fullmatch(DATE, row.until) and row.until > row.as_of)


def test_lapsed_prices_are_marked():
    assert economics.GPU_HOUR_PRICES["aws-h100"].until == "2025-01-01"
    assert economics.API_PRICES["deepseek-v3"].until == "2025-09-05"
    assert economics.API_PRICES["deepseek-v3.1"].until == "2025-09-29"
    assert economics.API_PRICES["deepseek-v3.2"].until is None
    # Each DeepSeek price starts where the one before it lapsed.
    chain = [economics.API_PRICES[k] for k in ("deepseek-v3", "deepseek-v3.1", "deepseek-v3.2")]
    assert [p.until for p in chain[:-1]] == [p.date for p in chain[1:]]


def test_market_figures_are_dated_and_sourced():
    table = economics.market_figures()
    assert list(table.columns) == ["source", "date", "estimate", "figure", "key"]
    assert table["date"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert table.notna().all().all()


# Training ------------------------------------------------------------------------------


def test_training_cost_follows_six_n_d():
    cost = economics.training_cost(1e9, 2e10, gpu="H100", mfu=0.5, usd_per_gpu_hour=3.0)
    flops = scaling.training_compute(1e9, 2e10)
    assert cost.flops == flops
    assert cost.gpu_hours == pytest.approx(flops / (0.5 * 989e12 * 3600))
    assert cost.usd == pytest.approx(3.0 * cost.gpu_hours)
    assert cost.days(100) == pytest.approx(cost.gpu_hours / 100 / 24)
    same = economics.training_cost(1e9, 2e10, gpu=H100, mfu=0.5, usd_per_gpu_hour=3.0)
    assert same == cost


def test_implied_mfu_inverts_training_cost():
    # Llama 3.1 405B: 30.84M H100-hours for about 15.6e12 tokens (model card, Llama 3 paper).
    mfu = economics.implied_mfu(405e9, 15.6e12, 30.84e6)
    assert 0.30 < mfu < 0.40
    cost = economics.training_cost(405e9, 15.6e12, mfu=mfu)
    assert cost.gpu_hours == pytest.approx(30.84e6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"gpu": "H9000"}, ValueError, "accelerator must be an Accelerator or one of"),
        ({"gpu": 100}, ValueError, "accelerator must be an Accelerator or one of"),
        ({"mfu": 0.0}, ValueError, "mfu must be a finite number > 0, got 0.0"),
        ({"mfu": 40}, ValueError, r"mfu must be a fraction in \(0, 1\], got 40 \(did you mean 0.4"),
        ({"mfu": True}, TypeError, "mfu must be a finite number > 0, got True"),
        ({"usd_per_gpu_hour": -1.0}, ValueError, "usd_per_gpu_hour must be a finite number > 0"),
        ({"usd_per_gpu_hour": float("nan")}, ValueError, "usd_per_gpu_hour must be a finite"),
        ({"usd_per_gpu_hour": "2"}, TypeError, "usd_per_gpu_hour must be a finite number > 0"),
    ],
)
def test_training_cost_rejects_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        economics.training_cost(1e9, 1e10, **kwargs)


@pytest.mark.parametrize(
    ("parameters", "tokens", "error", "message"),
    [
        (0, 1e9, ValueError, "parameters must be a finite number > 0, got 0"),
        (1e9, -1, ValueError, "tokens must be a finite number > 0, got -1"),
        (None, 1e9, TypeError, "parameters must be a finite number > 0, got None"),
    ],
)
def test_training_cost_rejects_bad_sizes(parameters, tokens, error, message):
    with pytest.raises(error, match=message):
        economics.training_cost(parameters, tokens)


def test_days_needs_a_whole_number_of_gpus():
    cost = economics.training_cost(1e9, 1e10)
    with pytest.raises(TypeError, match="gpus must be an integer ≥ 1, got 2.5"):
        cost.days(2.5)
    with pytest.raises(ValueError, match="gpus must be an integer ≥ 1, got 0"):
        cost.days(0)


# Serving: FLOPs per token, checked against PyTorch's FLOP counter ---------------------


def test_forward_flops_per_token_are_two_per_weight_plus_attention(tiny_llama_config):
    from transformers import LlamaForCausalLM

    # An untied output layer is one more weight matrix; eager attention is counted as matmuls.
    config = tiny_llama_config(tie_word_embeddings=False, attn_implementation="eager")
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    matrix_weights = sum(
        p.numel() for name, p in model.named_parameters() if p.ndim == 2 and "embed" not in name
    )
    tokens = 16
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros((1, tokens), dtype=torch.long, device="meta"))
    attention = 4 * config.num_hidden_layers * tokens**2 * config.hidden_size
    assert counter.get_total_flops() == 2 * tokens * matrix_weights + attention
    # prefill_tokens_per_second uses 2·N per token: the attention term is the difference.
    rate = economics.prefill_tokens_per_second(matrix_weights)
    measured = H100.peak_flops / (counter.get_total_flops() / tokens)
    assert rate == pytest.approx(measured, rel=attention / (2 * tokens * matrix_weights) + 1e-9)


def test_prefill_scales_with_gpus_and_mfu():
    one = economics.prefill_tokens_per_second(8e9)
    assert one == pytest.approx(989e12 / 16e9)
    assert economics.prefill_tokens_per_second(8e9, gpus=4, mfu=0.5) == pytest.approx(2 * one)


def test_decode_at_batch_one_is_bandwidth_over_weight_bytes():
    result = economics.decode_tokens_per_second(8e9, gpu="H100")
    assert result.bound == "memory"
    assert result.tokens_per_second == pytest.approx(3350e9 / 16e9)
    halved = economics.decode_tokens_per_second(8e9, bytes_per_parameter=1.0)
    assert halved.tokens_per_second == pytest.approx(2 * result.tokens_per_second)
    two = economics.decode_tokens_per_second(8e9, gpus=2)
    assert two.tokens_per_second == pytest.approx(2 * result.tokens_per_second)


def test_decode_grows_with_batch_until_compute_binds():
    rates = [
        economics.decode_tokens_per_second(1e9, batch_size=b).tokens_per_second
        for b in (1, 2, 4, 8)
    ]
    np.testing.assert_allclose(rates, [rates[0] * b for b in (1, 2, 4, 8)])
    big = economics.decode_tokens_per_second(1e9, batch_size=4096)
    assert big.bound == "compute"
    assert big.tokens_per_second == pytest.approx(989e12 / 2e9)


def test_kv_cache_is_read_every_step_and_must_fit():
    plain = economics.decode_tokens_per_second(8e9, batch_size=8)
    with_kv = economics.decode_tokens_per_second(
        8e9, batch_size=8, context_tokens=1000, kv_bytes_per_token=131072
    )
    assert with_kv.bytes_per_step == pytest.approx(16e9 + 8 * 1000 * 131072)
    assert with_kv.tokens_per_second < plain.tokens_per_second
    with pytest.raises(ValueError, match="need"):
        economics.decode_tokens_per_second(
            8e9, batch_size=512, context_tokens=4096, kv_bytes_per_token=131072
        )
    with pytest.raises(ValueError, match="hold"):
        economics.decode_tokens_per_second(70e9, gpus=1)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 2.0}, TypeError),
        ({"gpus": 0}, ValueError),
        ({"bytes_per_parameter": 0}, ValueError),
        ({"context_tokens": -1}, ValueError),
        ({"bandwidth_efficiency": 1.5}, ValueError),
        ({"gpu": "TPU"}, ValueError),
    ],
)
def test_decode_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        economics.decode_tokens_per_second(1e9, **kwargs)


def test_mixed_rate_is_a_weighted_harmonic_mean():
    assert economics.mixed_tokens_per_second(100.0, 10.0, 1.0) == pytest.approx(100.0)
    assert economics.mixed_tokens_per_second(100.0, 10.0, 0.0) == pytest.approx(10.0)
    assert economics.mixed_tokens_per_second(100.0, 10.0, 0.5) == pytest.approx(1 / 0.055)
    with pytest.raises(
        ValueError, match=r"input_share must be a finite number in \[0, 1\], got 1.2"
    ):
        economics.mixed_tokens_per_second(100.0, 10.0, 1.2)
    with pytest.raises(
        TypeError, match=r"input_share must be a finite number in \[0, 1\], got '1'"
    ):
        economics.mixed_tokens_per_second(100.0, 10.0, "1")


def test_cost_per_million_tokens():
    assert economics.cost_per_million_tokens(1000.0, 3.6) == pytest.approx(1.0)
    assert economics.cost_per_million_tokens(1000.0, 3.6, gpus=2) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="tokens_per_second must be a finite number > 0, got 0.0"):
        economics.cost_per_million_tokens(0.0, 2.0)


# API versus self-hosting ------------------------------------------------------------------


def test_blended_price_and_api_cost():
    assert economics.blended_price(0.15, 0.60, 0.75) == pytest.approx(0.2625)
    np.testing.assert_allclose(economics.api_monthly_cost([0, 2e6], 0.5), [0.0, 1.0])
    assert economics.api_monthly_cost(4e6, 0.25) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="tokens_per_month must be one or more token volumes ≥ 0"):
        economics.api_monthly_cost(-1.0, 0.5)
    with pytest.raises(ValueError, match="tokens_per_month must be one or more token volumes ≥ 0"):
        economics.api_monthly_cost([], 0.5)
    with pytest.raises(TypeError, match="tokens_per_month must be a number or array of numbers"):
        economics.api_monthly_cost("many", 0.5)
    with pytest.raises(ValueError, match="usd_per_million must be a finite number ≥ 0, got -0.5"):
        economics.api_monthly_cost(1e6, -0.5)
    with pytest.raises(ValueError, match=r"input_share must be a finite number in \[0, 1\]"):
        economics.blended_price(1.0, 2.0, -0.1)


def test_self_hosting_pays_for_whole_replicas():
    capacity = economics.replica_capacity(1000.0, 0.5)
    assert capacity == pytest.approx(1000 * 0.5 * 3600 * 730)
    volumes = np.array([0.0, capacity, capacity + 1, 3 * capacity])
    cost = economics.self_hosting_monthly_cost(
        volumes, tokens_per_second=1000.0, average_load=0.5, usd_per_gpu_hour=2.0
    )
    np.testing.assert_allclose(cost, np.array([1, 1, 2, 3]) * 2.0 * 730)
    more = economics.self_hosting_monthly_cost(
        0.0, tokens_per_second=1000.0, min_replicas=2, gpus_per_replica=4, fixed_usd_per_month=10
    )
    assert more == pytest.approx(2 * 4 * 2.0 * 730 + 10)


def brute_force_break_even(api_price, **kwargs):
    volumes = np.linspace(1e6, 2e11, 400_001)
    api = economics.api_monthly_cost(volumes, api_price)
    hosted = economics.self_hosting_monthly_cost(volumes, **kwargs)
    cheaper = np.nonzero(hosted <= api)[0]
    return volumes[cheaper[0]] if cheaper.size else math.inf


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tokens_per_second": 5000.0, "average_load": 0.5, "fixed_usd_per_month": 3000.0},
        {"tokens_per_second": 5000.0, "average_load": 0.5},
        {"tokens_per_second": 12000.0, "average_load": 0.3, "fixed_usd_per_month": 10000.0},
        {"tokens_per_second": 3000.0, "min_replicas": 3, "fixed_usd_per_month": 500.0},
    ],
)
def test_break_even_matches_a_brute_force_search(kwargs):
    exact = economics.break_even_tokens(0.5, **kwargs)
    approximate = brute_force_break_even(0.5, **kwargs)
    assert exact == pytest.approx(approximate, rel=1e-3)
    at = economics.self_hosting_monthly_cost(exact, **kwargs)
    assert at == pytest.approx(economics.api_monthly_cost(exact, 0.5))


def test_break_even_is_infinite_when_a_full_replica_loses_money():
    # 1,000 tokens/s at 10 % load is 263M tokens a month: $26 at $0.10 per million, for $1,460.
    kwargs = {"tokens_per_second": 1000.0, "average_load": 0.1}
    assert economics.break_even_tokens(0.10, **kwargs) == math.inf
    assert brute_force_break_even(0.10, **kwargs) == math.inf
    with pytest.raises(
        ValueError, match="api_usd_per_million must be a finite number > 0, got 0.0"
    ):
        economics.break_even_tokens(0.0, tokens_per_second=1000.0)
    with pytest.raises(TypeError, match="min_replicas must be an integer ≥ 1, got 1.5"):
        economics.break_even_tokens(0.10, **kwargs, min_replicas=1.5)


def test_sensitivity_orders_inputs_by_swing():
    def area(width, height):
        return width * height

    table = economics.sensitivity(
        area, {"width": 2.0, "height": 3.0}, {"width": (1.0, 3.0), "height": (2.9, 3.1)}
    )
    assert list(table["input"]) == ["width", "height"]
    assert table.loc[0, "at_low"] == 3.0 and table.loc[0, "at_high"] == 9.0
    with pytest.raises(ValueError, match="does not have"):
        economics.sensitivity(area, {"width": 2.0, "height": 3.0}, {"depth": (1, 2)})
    with pytest.raises(ValueError, match="low, high"):
        economics.sensitivity(area, {"width": 2.0, "height": 3.0}, {"width": (1, 2, 3)})


def test_break_even_gpu_price_is_where_self_hosting_stops_paying():
    kwargs = {"tokens_per_second": 5000.0, "average_load": 0.5}
    threshold = economics.break_even_gpu_price(0.5, **kwargs)
    # p·K: $0.5 per million × 5000 tokens/s × 0.5 × 3600 s × 730 h, over 730 hours.
    assert threshold == pytest.approx(0.5e-6 * 5000 * 0.5 * 3600)
    below = economics.break_even_tokens(0.5, usd_per_gpu_hour=0.99 * threshold, **kwargs)
    above = economics.break_even_tokens(0.5, usd_per_gpu_hour=1.01 * threshold, **kwargs)
    assert math.isfinite(below) and math.isinf(above)
    two = economics.break_even_gpu_price(0.5, gpus_per_replica=2, **kwargs)
    assert two == pytest.approx(threshold / 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_usd_per_million": 0.0}, "api_usd_per_million"),
        ({"tokens_per_second": -1.0}, "tokens_per_second"),
        ({"average_load": 30}, "average_load"),
        ({"gpus_per_replica": 0}, "gpus_per_replica"),
    ],
)
def test_break_even_gpu_price_rejects_bad_inputs(kwargs, message):
    arguments = {"api_usd_per_million": 0.5, "tokens_per_second": 5000.0} | kwargs
    with pytest.raises(ValueError, match=message):
        economics.break_even_gpu_price(arguments.pop("api_usd_per_million"), **arguments)
