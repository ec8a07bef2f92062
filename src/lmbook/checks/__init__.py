"""Exercise checkers: each accepts a right answer, rejects a wrong one with a hint.

A checker prints a short confirmation when the answer is right. When it is
wrong it raises :class:`AnswerError` whose message teaches (what to
reconsider) without giving the answer away. An answer of the wrong type or
shape gets a message that says what was expected, naming the learner's
variable (``answer_1``, or the function they wrote).

Checkers are named ``ch<notebook>_<exercise>`` after the notebook that calls
them, e.g. ``ch01_training_compute`` (``notebooks/01_rise_of_large_models.ipynb``)
or ``ch06b_accuracy_margin`` (``notebooks/06b_fine_tuning_a_classifier.ipynb``),
and live in the module of that notebook (:mod:`lmbook.checks.ch06b`). The
notebooks call them from here, ``checks.ch01_training_compute(answer_1)``.
:mod:`lmbook.checks.core` holds what they share: :class:`AnswerError`,
:func:`check_close` (for writing a checker of one's own) and the coercion of
an answer into a number, an array or a function.

Hints come in two tiers (:class:`~lmbook.checks.core.Hint`): a first wrong answer
gets the concept to use, a repeated one also the method; :func:`hint` prints both.
:func:`set_language` switches every message and hint to Chinese (the notebooks of
the Chinese edition call ``checks.set_language("zh_CN")``), see
:mod:`lmbook.checks.messages`.
Neither tier states the expected value. At grading time,
:mod:`lmbook.checks.grading` runs each checker again with a second case.
"""

import importlib

from lmbook.checks.ch01 import (
    ch01_chinchilla_rule,
    ch01_doubling_months,
    ch01_scaling_experiment,
    ch01_training_compute,
)
from lmbook.checks.ch02 import (
    ch02_divergence_experiment,
    ch02_linear_backward,
    ch02_max_learning_rate,
    ch02_sigmoid_derivative,
    ch02_softmax_as_logits_loss,
)
from lmbook.checks.ch02b import (
    ch02b_dropout_backward,
    ch02b_kaiming_bound,
    ch02b_regulariser_experiment,
)
from lmbook.checks.ch03 import (
    ch03_flatten_size,
    ch03_max_pool_backward,
    ch03_output_size,
    ch03_shortcut_experiment,
    ch03_vgg_receptive_field,
)
from lmbook.checks.ch04 import (
    ch04_beam_experiment,
    ch04_forget_bias,
    ch04_gru_step,
    ch04_lstm_parameters,
    ch04_vanishing_steps,
)
from lmbook.checks.ch05 import (
    ch05_attention_flops,
    ch05_causal_mask,
    ch05_position_experiment,
    ch05_score_scale,
)
from lmbook.checks.ch06a import (
    ch06a_bert_large_parameters,
    ch06a_cls_pooling,
    ch06a_mean_pool,
    ch06a_wordpiece,
)
from lmbook.checks.ch06b import ch06b_accuracy_margin, ch06b_trainable_parameters
from lmbook.checks.ch06c import (
    ch06c_bio_errors,
    ch06c_entity_scores,
    ch06c_seen_names,
    ch06c_spans_to_bio,
)
from lmbook.checks.ch06d import (
    ch06d_perplexity_from_probs,
    ch06d_temperature_probs,
    ch06d_top_p_survivors,
)
from lmbook.checks.ch07 import ch07_caffe_pixel, ch07_conv_params, ch07_fc1_share
from lmbook.checks.ch08 import (
    ch08_allreduce_gigabytes,
    ch08_finetune_memory,
    ch08_training_days,
)
from lmbook.checks.ch09 import (
    ch09_csr_break_even,
    ch09_int4_size,
    ch09_kv_cache,
    ch09_qparams,
)
from lmbook.checks.ch10 import ch10_break_even, ch10_decode_tokens, ch10_training_cost
from lmbook.checks.ch11 import (
    ch11_dp_epsilon,
    ch11_integrated_gradients,
    ch11_training_emissions,
)
from lmbook.checks.core import AnswerError, check_close
from lmbook.checks.messages import _, language, set_language


def hint(exercise: str) -> None:
    """Print both tiers of the hint of ``exercise`` ("1.1", "6b.2"): concept
    and method.
    """
    if not isinstance(exercise, str):
        raise TypeError(
            _(
                "exercise must be a string such as '1.1', got {kind}",
                kind=type(exercise).__name__,
            )
        )
    chapter = exercise.partition(".")[0]
    digits = chapter.rstrip("abcd")
    if not digits.isdigit():
        raise ValueError(
            _(
                "exercise must look like '1.1' or '6b.2', got {exercise}",
                exercise=repr(exercise),
            )
        )
    try:
        module = importlib.import_module(
            f"lmbook.checks.ch{int(digits):02d}{chapter[len(digits) :]}"
        )
    except ModuleNotFoundError:
        module = None
    hints = getattr(module, "HINTS", {})
    if exercise not in hints:
        known = ", ".join(sorted(hints)) or _("none in that chapter")
        raise ValueError(
            _(
                "no auto-checked exercise {exercise}; the chapter's are: {known}",
                exercise=repr(exercise),
                known=known,
            )
        )
    print(hints[exercise].both())


__all__ = [
    "AnswerError",
    "check_close",
    "hint",
    "language",
    "set_language",
    "ch01_training_compute",
    "ch01_chinchilla_rule",
    "ch01_doubling_months",
    "ch01_scaling_experiment",
    "ch02_sigmoid_derivative",
    "ch02_linear_backward",
    "ch02_max_learning_rate",
    "ch02_softmax_as_logits_loss",
    "ch02_divergence_experiment",
    "ch02b_kaiming_bound",
    "ch02b_dropout_backward",
    "ch02b_regulariser_experiment",
    "ch03_output_size",
    "ch03_flatten_size",
    "ch03_max_pool_backward",
    "ch03_vgg_receptive_field",
    "ch03_shortcut_experiment",
    "ch04_lstm_parameters",
    "ch04_vanishing_steps",
    "ch04_forget_bias",
    "ch04_beam_experiment",
    "ch04_gru_step",
    "ch05_causal_mask",
    "ch05_attention_flops",
    "ch05_score_scale",
    "ch05_position_experiment",
    "ch06a_wordpiece",
    "ch06a_bert_large_parameters",
    "ch06a_mean_pool",
    "ch06a_cls_pooling",
    "ch06b_trainable_parameters",
    "ch06b_accuracy_margin",
    "ch06c_entity_scores",
    "ch06c_spans_to_bio",
    "ch06c_bio_errors",
    "ch06c_seen_names",
    "ch06d_perplexity_from_probs",
    "ch06d_top_p_survivors",
    "ch06d_temperature_probs",
    "ch07_conv_params",
    "ch07_fc1_share",
    "ch07_caffe_pixel",
    "ch08_finetune_memory",
    "ch08_training_days",
    "ch08_allreduce_gigabytes",
    "ch09_int4_size",
    "ch09_qparams",
    "ch09_kv_cache",
    "ch09_csr_break_even",
    "ch10_break_even",
    "ch10_training_cost",
    "ch10_decode_tokens",
    "ch11_dp_epsilon",
    "ch11_training_emissions",
    "ch11_integrated_gradients",
]
