"""lmbook.cnn against torch.nn.functional, torch.autograd and tf.nn.conv2d."""

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from lmbook import cnn
from lmbook.nn import numerical_gradient

F = torch.nn.functional

# (c_in, c_out, kernel, stride, padding, dilation, (H, W))
CASES = [
    (1, 1, (3, 3), 1, 0, 1, (7, 7)),
    (3, 4, (3, 3), 1, 1, 1, (8, 8)),
    (2, 5, (3, 3), 2, 1, 1, (9, 8)),
    (3, 2, (2, 3), (2, 1), (1, 0), 1, (7, 9)),
    (2, 3, (3, 3), 1, 2, 2, (7, 7)),
    (2, 3, (3, 2), 2, 1, (2, 1), (10, 9)),
    (2, 2, (3, 3), 2, 0, 3, (13, 12)),  # stride and dilation together
    (3, 2, (5, 5), 3, 2, 1, (11, 10)),  # the floor drops the last rows and columns
    (4, 2, (1, 1), 1, 0, 1, (5, 6)),
    (2, 3, (1, 1), 2, 1, 1, (5, 5)),  # padding wider than the kernel reaches
    (1, 2, (4, 4), 1, 3, 1, (2, 2)),  # input smaller than the kernel, saved by padding
]
IDS = [f"k{c[2][0]}x{c[2][1]}-s{c[3]}-p{c[4]}-d{c[5]}-c{c[0]}to{c[1]}" for c in CASES]
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-11}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def make(rng, case, dtype, n=2):
    c_in, c_out, kernel, *_, size = case
    x = rng.standard_normal((n, c_in, *size)).astype(dtype)
    w = rng.standard_normal((c_out, c_in, *kernel)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    return x, w, b


def options(case):
    return dict(zip(("stride", "padding", "dilation"), case[3:6], strict=True))


def torch_conv(x, w, b, **opts):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **opts).numpy()


# Forward -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_and_loop_match_torch(case, dtype, rng):
    x, w, b = make(rng, case, dtype)
    expected = torch_conv(x, w, b, **options(case))
    for function in (cnn.conv2d, cnn.conv2d_loop):
        out = function(x, w, b, **options(case))
        assert out.dtype == dtype and out.shape == expected.shape
        assert np.abs(out - expected).max() < TOLERANCE[dtype]
    no_bias = cnn.conv2d(x, w, **options(case))
    np.testing.assert_allclose(no_bias + b[:, None, None], expected, atol=TOLERANCE[dtype])


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "kernel"),
    [(1, 1, 1, (3, 3)), ((2, 1), (1, 0), 1, (2, 3)), (1, 2, 2, (3, 3)), (2, 0, 1, (5, 5))],
)
def test_conv2d_matches_tensorflow(stride, padding, dilation, kernel, rng):
    from lmbook.env import prepare_tensorflow

    prepare_tensorflow()  # quiet, and Triton before TensorFlow
    import tensorflow as tf

    x, w, b = make(rng, (3, 4, kernel, 0, 0, 0, (11, 10)), np.float32)
    s, p, d = (v if isinstance(v, tuple) else (v, v) for v in (stride, padding, dilation))
    expected = (
        tf.nn.conv2d(
            x.transpose(0, 2, 3, 1),  # NCHW -> NHWC
            w.transpose(2, 3, 1, 0),  # (C_out, C_in, K_h, K_w) -> HWIO
            strides=[1, *s, 1],
            padding=[[0, 0], [p[0], p[0]], [p[1], p[1]], [0, 0]],
            dilations=[1, *d, 1],
        ).numpy()
        + b
    )
    out = cnn.conv2d(x, w, b, stride, padding, dilation)
    assert np.abs(out.transpose(0, 2, 3, 1) - expected).max() < 1e-4


def test_conv2d_is_convolution_with_the_flipped_kernel(rng):
    image, kernel = rng.standard_normal((9, 8)), rng.standard_normal((3, 4))
    flipped = kernel[::-1, ::-1][None, None]
    ours = cnn.conv2d(image[None, None], np.ascontiguousarray(flipped))[0, 0]
    np.testing.assert_allclose(ours, convolve2d(image, kernel, mode="valid"), atol=1e-12)


def test_conv2d_accepts_non_contiguous_input(rng):
    x, w, b = make(rng, CASES[1], np.float64, n=3)
    x = np.asfortranarray(x)[:, :, ::-1]
    np.testing.assert_allclose(
        cnn.conv2d(x, w, b, padding=1), torch_conv(x.copy(), w, b, padding=1)
    )


# Backward ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_backward_matches_autograd(case, dtype, rng):
    x, w, b = make(rng, case, dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, **options(case))
    dout = rng.standard_normal(out.shape).astype(dtype)
    out.backward(torch.from_numpy(dout))
    grads = cnn.conv2d_backward(dout, x, w, **options(case))
    for ours, theirs in zip(grads, (xt.grad, wt.grad, bt.grad), strict=True):
        assert ours.dtype == dtype and ours.shape == theirs.shape
        scale = max(1.0, float(theirs.abs().max()))
        assert np.abs(ours - theirs.numpy()).max() < TOLERANCE[dtype] * scale


def test_conv2d_backward_matches_central_differences(rng):
    x, w, b = make(rng, (2, 2, (3, 2), 0, 0, 0, (6, 5)), np.float64, n=1)
    opts = {"stride": (2, 1), "padding": 1, "dilation": (1, 2)}
    dout = rng.standard_normal(cnn.conv2d(x, w, b, **opts).shape)

    def loss():
        return float(np.sum(cnn.conv2d(x, w, b, **opts) * dout))

    dx, dw, db = cnn.conv2d_backward(dout, x, w, **opts)
    for param, grad in ((x, dx), (w, dw), (b, db)):
        np.testing.assert_allclose(grad, numerical_gradient(loss, param), atol=1e-7)


# Pooling -------------------------------------------------------------------

POOLS = [(2, None), (3, 2), (3, 1), ((2, 3), (1, 2)), (3, None)]


@pytest.mark.parametrize(("kernel", "stride"), POOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_forward_and_backward_match_torch(kind, kernel, stride, rng):
    # Small integers make ties, so max-pooling must also break them as PyTorch does.
    x = rng.integers(0, 4, size=(2, 3, 9, 8)).astype(np.float64)
    if kind == "avg":
        x += rng.standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    pool = {"max": F.max_pool2d, "avg": F.avg_pool2d}[kind]
    out = pool(xt, kernel, stride)
    dout = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(dout))
    forward = {"max": cnn.max_pool2d, "avg": cnn.avg_pool2d}[kind]
    backward = {"max": cnn.max_pool2d_backward, "avg": cnn.avg_pool2d_backward}[kind]
    np.testing.assert_allclose(forward(x, kernel, stride), out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(backward(dout, x, kernel, stride), xt.grad.numpy(), atol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    dx = cnn.max_pool2d_backward(np.full((1, 1, 1, 1), 5.0, np.float32), x, 2)
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])
    assert dx.dtype == np.float32


# Sizes, parameters, FLOPs, receptive fields ---------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation"),
    [(28, 3, 1, 1, 1), (28, 5, 1, 0, 1), (32, 3, 2, 1, 1), (224, 7, 2, 3, 1), (10, 3, 3, 0, 2)],
)
def test_output_size_matches_torch_shapes(size, kernel, stride, padding, dilation):
    x, w = torch.zeros(1, 1, size, size + 1), torch.zeros(1, 1, kernel, kernel)
    out = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    assert cnn.output_size(size, kernel, stride, padding, dilation) == out.shape[2]
    assert cnn.output_size(size + 1, kernel, stride, padding, dilation) == out.shape[3]


def test_output_size_of_the_articles_flatten():
    # Two 3x3 convolutions (padding 1) and two 2x2 max-pools take 32x32 to 8x8, not 28x28.
    size = 32
    for _ in range(2):
        size = cnn.output_size(cnn.output_size(size, 3, padding=1), 2, stride=2)
    assert size == 8


@pytest.mark.parametrize(
    ("c_in", "c_out", "kernel", "bias"), [(3, 64, 3, True), (16, 32, (5, 3), False)]
)
def test_conv2d_params_match_torch(c_in, c_out, kernel, bias):
    layer = torch.nn.Conv2d(c_in, c_out, kernel, bias=bias)
    assert cnn.conv2d_params(c_in, c_out, kernel, bias) == sum(
        p.numel() for p in layer.parameters()
    )


def test_two_3x3_layers_save_parameters_over_one_5x5():
    assert cnn.conv2d_params(64, 64, 3, bias=False) * 2 == 73_728
    assert cnn.conv2d_params(64, 64, 5, bias=False) == 102_400


def test_conv2d_flops():
    assert cnn.conv2d_flops(16, 32, 3, 28, 28) == 2 * 16 * 9 * 32 * 28 * 28
    assert cnn.conv2d_flops(3, 64, (3, 3), 224, 224) == 173_408_256  # VGG16's first layer


@pytest.mark.parametrize(
    ("kernels", "strides", "dilations", "field"),
    [
        ([3], None, None, 3),
        ([3, 3], None, None, 5),
        ([3, 3, 3], None, None, 7),
        ([3, 3], [2, 1], None, 7),
        ([3, 2, 3], [1, 2, 1], None, 8),  # conv, 2x2 max-pool, conv
        ([7, 3], [2, 2], None, 11),  # ResNet's stem: 7x7/2 conv, 3x3/2 max-pool
        ([3, 3, 3], None, [1, 2, 4], 15),
    ],
)
def test_receptive_field(kernels, strides, dilations, field):
    assert cnn.receptive_field(kernels, strides, dilations) == field


@pytest.mark.parametrize(("kernels", "strides"), [([3, 3, 3], [1, 1, 1]), ([3, 3, 3], [2, 2, 1])])
def test_receptive_field_matches_the_gradient_footprint(kernels, strides):
    x = torch.zeros(1, 1, 41, 41, requires_grad=True)
    y = x
    for k, s in zip(kernels, strides, strict=True):
        y = F.conv2d(y, torch.ones(1, 1, k, k, dtype=x.dtype), stride=s)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = np.flatnonzero(x.grad[0, 0].abs().sum(dim=1).numpy())
    assert rows[-1] - rows[0] + 1 == cnn.receptive_field(kernels, strides)


# Bad inputs -----------------------------------------------------------------


@pytest.mark.parametrize("function", [cnn.conv2d, cnn.conv2d_loop])
def test_bad_conv_inputs_are_rejected(function):
    x, w = np.zeros((2, 3, 8, 8), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(
        ValueError, match=r"x must be a 4-D array of shape \(N, C_in, H, W\), got shape \(3, 8, 8\)"
    ):
        function(x[0], w)
    with pytest.raises(
        ValueError, match=r"w must be a 4-D array of shape \(C_out, C_in, K_h, K_w\)"
    ):
        function(x, w[0])
    with pytest.raises(ValueError, match="x has 2 channels, but w expects C_in = 3"):
        function(x[:, :2], w)
    with pytest.raises(
        ValueError,
        match="height: kernel of effective size 5 .* larger than the padded input of size 4",
    ):
        function(x[:, :, :2, :], w, dilation=2, padding=1)
    with pytest.raises(
        ValueError, match="width: kernel of effective size 3 .* padded input of size 2"
    ):
        function(x[:, :, :, :2], w)
    for stride in (0, -1, (1, 0), (1, 2, 3)):
        with pytest.raises(ValueError, match=r"stride must be an integer ≥ 1 or a pair \(h, w\)"):
            function(x, w, stride=stride)
    for stride in (1.5, True, "2", (1, 2.0), None):
        with pytest.raises(TypeError, match=r"stride must be an integer ≥ 1 or a pair \(h, w\)"):
            function(x, w, stride=stride)
    with pytest.raises(ValueError, match="padding must be an integer ≥ 0 or a pair"):
        function(x, w, padding=-1)
    with pytest.raises(ValueError, match="dilation must be an integer ≥ 1 or a pair"):
        function(x, w, dilation=0)
    with pytest.raises(ValueError, match=r"b must have shape \(C_out,\) = \(4,\), got \(3,\)"):
        function(x, w, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"b must be a 1-D array of shape \(C_out,\)"):
        function(x, w, np.zeros((4, 1), np.float32))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array, got dtype int64"):
        function(x.astype(np.int64), w)
    with pytest.raises(TypeError, match="w must be a float32 or float64 array, got dtype float16"):
        function(x, w.astype(np.float16))
    with pytest.raises(TypeError, match="w is float64 but x is float32; cast one"):
        function(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="b is float64 but x is float32"):
        function(x, w, np.zeros(4))
    with pytest.raises(ValueError, match="w must have no empty dimension"):
        function(x, np.zeros((0, 3, 3, 3), np.float32))
    with pytest.raises(TypeError, match="x must be a NumPy array, got list"):
        function(x.tolist(), w)


def test_bad_conv_backward_inputs_are_rejected():
    x, w = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"dout must have the shape of conv2d's output \(2, 4, 6, 6\), got \(2, 4, 8, 8\)",
    ):
        cnn.conv2d_backward(np.zeros((2, 4, 8, 8)), x, w)
    with pytest.raises(TypeError, match="dout must be a float32 or float64 array, got dtype int64"):
        cnn.conv2d_backward(np.zeros((2, 4, 6, 6), dtype=np.int64), x, w)
    with pytest.raises(TypeError, match="dout is float32 but x is float64"):
        cnn.conv2d_backward(np.zeros((2, 4, 6, 6), np.float32), x, w)
    with pytest.raises(ValueError, match="x has 2 channels, but w expects C_in = 3"):
        cnn.conv2d_backward(np.zeros((2, 4, 6, 6)), x[:, :2], w)
    with pytest.raises(ValueError, match="stride must be an integer ≥ 1"):
        cnn.conv2d_backward(np.zeros((2, 4, 6, 6)), x, w, stride=0)
    with pytest.raises(TypeError, match=r"dout must be a NumPy array, got Tensor \(convert"):
        cnn.conv2d_backward(torch.zeros(2, 4, 6, 6, dtype=torch.float64), x, w)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_bad_pooling_inputs_are_rejected(kind):
    forward = {"max": cnn.max_pool2d, "avg": cnn.avg_pool2d}[kind]
    backward = {"max": cnn.max_pool2d_backward, "avg": cnn.avg_pool2d_backward}[kind]
    x = np.zeros((2, 3, 6, 6))
    with pytest.raises(
        ValueError, match=r"x must be a 4-D array of shape \(N, C, H, W\), got shape \(6, 6\)"
    ):
        forward(x[0, 0], 2)
    with pytest.raises(
        ValueError, match="height: kernel of effective size 7 .* padded input of size 6"
    ):
        forward(x, 7)
    with pytest.raises(ValueError, match="kernel must be an integer ≥ 1 or a pair"):
        forward(x, 0)
    with pytest.raises(TypeError, match="kernel must be an integer ≥ 1 or a pair"):
        forward(x, 2.0)
    with pytest.raises(ValueError, match="stride must be an integer ≥ 1 or a pair"):
        forward(x, 2, stride=0)
    with pytest.raises(TypeError, match="x must be a float32 or float64 array, got dtype int64"):
        forward(x.astype(np.int64), 2)
    with pytest.raises(
        ValueError,
        match=r"dout must have the shape of the pooled output \(2, 3, 3, 3\), got \(2, 3, 6, 6\)",
    ):
        backward(x, x, 2)
    with pytest.raises(TypeError, match="dout is float32 but x is float64"):
        backward(np.zeros((2, 3, 3, 3), np.float32), x, 2)


def test_bad_size_arguments_are_rejected():
    with pytest.raises(
        ValueError,
        match=r"kernel of effective size 5 \(kernel 5, dilation 1\) is larger than the padded "
        r"input of size 4 \(size 4 \+ 2·padding 0\)",
    ):
        cnn.output_size(4, 5)
    assert cnn.output_size(4, 5, padding=1) == 2
    for name, kwargs in [
        ("size", {"size": 0}),
        ("kernel", {"kernel": 0}),
        ("stride", {"stride": 0}),
        ("dilation", {"dilation": -1}),
    ]:
        arguments = {"size": 8, "kernel": 3} | kwargs
        with pytest.raises(ValueError, match=f"{name} must be an integer ≥ 1, got"):
            cnn.output_size(**arguments)
    for name, kwargs in [
        ("stride", {"stride": 1.0}),
        ("size", {"size": "8"}),
        ("kernel", {"kernel": True}),
    ]:
        arguments = {"size": 8, "kernel": 3} | kwargs
        with pytest.raises(TypeError, match=f"{name} must be an integer ≥ 1, got"):
            cnn.output_size(**arguments)
    with pytest.raises(ValueError, match="padding must be an integer ≥ 0, got -1"):
        cnn.output_size(8, 3, padding=-1)
    with pytest.raises(ValueError, match="c_in must be an integer ≥ 1, got 0"):
        cnn.conv2d_params(0, 4, 3)
    with pytest.raises(TypeError, match="bias must be True or False, got 1"):
        cnn.conv2d_params(3, 4, 3, bias=1)
    with pytest.raises(ValueError, match="kernel must be an integer ≥ 1 or a pair"):
        cnn.conv2d_flops(3, 4, (3, 0), 8, 8)
    with pytest.raises(ValueError, match="out_h must be an integer ≥ 1, got 0"):
        cnn.conv2d_flops(3, 4, 3, 0, 8)
    with pytest.raises(TypeError, match="out_w must be an integer ≥ 1, got 8.0"):
        cnn.conv2d_flops(3, 4, 3, 8, 8.0)


def test_bad_receptive_field_arguments_are_rejected():
    with pytest.raises(ValueError, match="kernels must list at least one layer"):
        cnn.receptive_field([])
    with pytest.raises(
        TypeError, match="kernels must be a list of integers ≥ 1, one per layer, got 3"
    ):
        cnn.receptive_field(3)
    with pytest.raises(
        ValueError, match="strides has 1 entries but kernels has 2; give one per layer"
    ):
        cnn.receptive_field([3, 3], [2])
    with pytest.raises(ValueError, match=r"dilations\[1\] must be an integer ≥ 1, got 0"):
        cnn.receptive_field([3, 3], dilations=[1, 0])
    with pytest.raises(TypeError, match=r"kernels\[1\] must be an integer ≥ 1, got 2.5"):
        cnn.receptive_field([3, 2.5])


# Residual networks -------------------------------------------------------------


def test_basic_block_adds_the_identity_when_the_shape_stays():
    torch.manual_seed(0)
    block = cnn.basic_block(4, 4).eval()
    assert block.projection is None
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        np.testing.assert_allclose(block(x), torch.relu(block.residual(x) + x), atol=1e-6)
    plain = cnn.basic_block(4, 4, shortcut=False).eval()
    plain.load_state_dict(block.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose(plain(x), torch.relu(block.residual(x)), atol=1e-6)
        assert (plain(x) - block(x)).abs().max() > 0.1


def test_basic_block_projects_with_a_strided_1x1_convolution():
    block = cnn.basic_block(4, 8, stride=2)
    conv = block.projection[0]
    assert (conv.kernel_size, conv.stride, conv.in_channels, conv.out_channels) == (
        (1, 1),
        (2, 2),
        4,
        8,
    )
    assert block(torch.randn(3, 4, 7, 7)).shape == (3, 8, 4, 4)
    assert cnn.basic_block(4, 8, shortcut=False).projection is None


def test_the_shortcut_passes_the_gradient_unchanged():
    """∂y/∂x = I + ∂F/∂x: with F switched off (its last BN scaled to 0), dy = dx."""
    block = cnn.basic_block(3, 3).eval()
    with torch.no_grad():
        block.residual[4].weight.zero_()
    x = (torch.rand(2, 3, 5, 5) + 0.1).requires_grad_()  # positive: the ReLU passes it
    g = torch.randn(2, 3, 5, 5)
    (block(x) * g).sum().backward()
    assert (x.grad - g).abs().max() < 1e-6


@pytest.mark.parametrize("batch_norm", [True, False])
def test_small_resnet_shapes_and_parameters(batch_norm):
    model = cnn.small_resnet((16, 32), 1, batch_norm=batch_norm)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    bias = 0 if batch_norm else 1
    bn = 2 if batch_norm else 0
    stem = 9 * 16 + 16 * (bias + bn)
    block_1 = 2 * (9 * 16 * 16 + 16 * (bias + bn))
    block_2 = (9 * 16 * 32 + 32 * (bias + bn)) + (9 * 32 * 32 + 32 * (bias + bn))
    projection = 16 * 32 + 32 * (bias + bn)
    head = 32 * 10 + 10
    expected = stem + block_1 + block_2 + projection + head
    assert sum(p.numel() for p in model.parameters()) == expected
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert has_bn == batch_norm


def test_small_resnet_depth_and_plain_version():
    deep = cnn.small_resnet((8, 16), 3)
    plain = cnn.small_resnet((8, 16), 3, shortcut=False)
    convs = [m for m in plain.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 2 * 3 * 2  # the stem and two per block, no projection
    assert len(deep.blocks) == len(plain.blocks) == 6
    assert deep.blocks[3].projection is not None and plain.blocks[3].projection is None


def test_bad_resnet_arguments_are_rejected():
    with pytest.raises(ValueError, match="c_in"):
        cnn.basic_block(0, 4)
    with pytest.raises(TypeError, match="stride"):
        cnn.basic_block(4, 4, stride=1.5)
    with pytest.raises(TypeError, match="shortcut"):
        cnn.basic_block(4, 4, shortcut="yes")
    with pytest.raises(TypeError, match="batch_norm"):
        cnn.small_resnet(batch_norm=1)
    with pytest.raises(ValueError, match="widths"):
        cnn.small_resnet(())
    with pytest.raises(TypeError, match="widths"):
        cnn.small_resnet(16)
    with pytest.raises(ValueError, match="classes"):
        cnn.small_resnet(classes=1)
    with pytest.raises(ValueError, match="blocks_per_stage"):
        cnn.small_resnet(blocks_per_stage=0)
