"""The checkers of chapter 7 (``lmbook.checks.ch07``), audited."""

from __future__ import annotations

import numpy as np
from audit import AuditTests, Row, number

from lmbook import checks
from lmbook.checks import ch07

AUDIT = [
    number(
        checks.ch07_conv_params,
        256 * 3 * 3 * 128 + 256,
        [
            (294_912, "bias"),
            (590_080, "128 channels"),
            (33_024, "3×3 positions"),
            (1153, "one filter"),
        ],
        solve=lambda kernel, filters, in_channels: filters * (kernel * kernel * in_channels + 1),
    ),
    number(
        checks.ch07_fc1_share,
        (7 * 7 * 512 * 4096 + 4096) / 138_357_544,
        [
            (0.89365, "all three"),
            (74.276, "percentage"),
            (0.01519, "flattened"),
            (0.5, "the share is its count over the whole network's"),
        ],
        solve=lambda feature_map, width, total: (np.prod(feature_map) * width + width) / total,
    ),
    Row(
        checks.ch07_caffe_pixel,
        [0 - 103.939, 128 - 116.779, 255 - 123.68],
        [
            ([255 - 103.939, 128 - 116.779, 0 - 123.68], "BGR"),
            ([0 - 123.68, 128 - 116.779, 255 - 103.939], "BGR order too"),
            ([0, 128, 255], "subtract"),
            ([2.2489, 0.2052, -1.8044], "torch-style"),
            ([1, 2, 3], "reorders the channels and subtracts a mean per channel"),
        ],
        [
            (None, "No answer yet"),
            ([1, 2], "shape (3,)"),
            ("orange", "not an array of numbers"),
            ([float("nan"), 0, 0], "nan or inf"),
        ],
        also_right=[np.array([-103.939, 11.221, 131.32]), (-103.939, 11.221, 131.32)],
        generic=[1, 2, 3],
        solve=lambda pixel: [pixel[2] - 103.939, pixel[1] - 116.779, pixel[0] - 123.68],
    ),
]


class TestAudit(AuditTests):
    module, rows = ch07, AUDIT
