"""lmbook.vision against Keras' VGG16 and preprocess_input, torch's FLOP counter, formulas."""

import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lmbook import nn, vision
from lmbook.env import prepare_tensorflow

CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def keras():
    prepare_tensorflow()  # before TensorFlow loads: quiet logs, CPU only
    import keras

    return keras


@pytest.fixture(scope="module")
def lite0():
    # Offline: any attempt to open a connection while the model loads fails the test.
    def refuse(*args, **kwargs):
        raise AssertionError("load_efficientnet_lite0 tried to use the network")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        return vision.load_efficientnet_lite0()


@pytest.fixture(scope="module")
def chelsea_input():
    return vision.efficientnet_lite_preprocess(vision.example_photos()["chelsea"])


def test_importing_vision_imports_no_framework():
    code = (
        "import sys, lmbook.vision; "
        "assert not {'torch', 'tensorflow', 'keras', 'PIL'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# VGG16 by the numbers -------------------------------------------------------------


def test_vgg16_parameters_by_formula():
    table = vision.vgg16_layers()
    assert table["params"].sum() == vision.VGG16_PARAMETERS == 138_357_544
    assert len(table) == 1 + 13 + 5 + 1 + 3  # input, convolutions, poolings, flatten, dense
    assert (table["kind"] == "conv").sum() == 13 and (table["kind"] == "dense").sum() == 3
    dense = table[table["kind"] == "dense"]
    assert dense["params"].sum() == 123_642_856  # 89% of the parameters ...
    assert dense["flops"].sum() / table["flops"].sum() < 0.01  # ... and under 1% of the FLOPs
    fc1 = table.set_index("name").loc["fc1"]
    assert (
        fc1["params"] == 7 * 7 * 512 * 4096 + 4096 and fc1["params_formula"] == "25088·4096 + 4096"
    )
    assert vision.vgg16_layers(include_top=False)["params"].sum() == 14_714_688


def test_vgg16_layers_match_keras(keras):
    model = keras.applications.VGG16(weights=None)
    assert model.count_params() == vision.VGG16_PARAMETERS
    table = vision.vgg16_layers()
    assert len(model.layers) == len(table)
    for row, layer in zip(table.itertuples(), model.layers, strict=True):
        if row.kind != "input":
            assert layer.name == row.name
        assert layer.count_params() == row.params, row.name
        assert tuple(layer.output.shape[1:]) == row.output_shape, row.name


def test_vgg16_base_at_another_size_matches_keras(keras):
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    table = vision.vgg16_layers(image_size=64, include_top=False)
    assert model.count_params() == table["params"].sum() == 14_714_688
    assert tuple(model.output.shape[1:3]) == table["output_shape"].iloc[-1][:2] == (2, 2)


def test_vgg16_flops_match_torch_flop_counter():
    model = vision.vgg16_torch(device="meta")
    assert sum(p.numel() for p in model.parameters()) == vision.VGG16_PARAMETERS
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 224, 224, device="meta"))
    counts = {
        name.split(".")[-1]: sum(ops.values())
        for name, ops in counter.get_flop_counts().items()
        if "." in name
    }
    table = vision.vgg16_layers()
    for row in table.itertuples():
        assert counts.get(row.name, 0) == row.flops, row.name
    assert counter.get_total_flops() == table["flops"].sum() == 30_940_528_640


def test_vgg16_torch_forward_shape():
    model = vision.vgg16_torch(num_classes=10, device="meta")
    assert model(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 10)
    assert list(model.named_children())[0][0] == "block1_conv1"


# Preprocessing --------------------------------------------------------------------


def test_vgg_preprocess_matches_keras(keras, rng):
    from keras.applications.vgg16 import preprocess_input

    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    batch = rng.uniform(0, 255, size=(2, 4, 6, 3)).astype(np.float32)
    for x in (image, batch):
        ours = vision.vgg_preprocess(x)
        expected = np.asarray(preprocess_input(x.astype(np.float32).copy()))
        assert ours.dtype == np.float32 and ours.shape == x.shape
        assert np.abs(ours - expected).max() < 1e-4
    # By hand: channel 0 is blue minus its mean.
    one = np.array([[[10, 20, 30]]], dtype=np.uint8)
    np.testing.assert_allclose(
        vision.vgg_preprocess(one)[0, 0], [30 - 103.939, 20 - 116.779, -113.68], rtol=1e-6
    )


def test_imagenet_normalize_matches_formula(rng):
    batch = rng.integers(0, 256, size=(3, 5, 4, 3), dtype=np.uint8)
    out = vision.imagenet_normalize(batch)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert tuple(out.shape) == (3, 3, 5, 4)
    mean, std = np.array(vision.IMAGENET_MEAN), np.array(vision.IMAGENET_STD)
    expected = ((batch / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    assert np.abs(out.numpy() - expected).max() < 1e-5
    single = vision.imagenet_normalize(batch[0].astype(np.float64))
    np.testing.assert_allclose(single.numpy(), out.numpy()[:1], atol=1e-6)
    lite = vision.imagenet_normalize(batch, vision.LITE_MEAN, vision.LITE_STD)
    np.testing.assert_allclose(
        lite.numpy(), ((batch - 127.0) / 128).transpose(0, 3, 1, 2), atol=1e-5
    )


def test_resize_center_crop(rng):
    image = rng.integers(0, 256, size=(30, 50, 3), dtype=np.uint8)
    out = vision.resize_center_crop(image, 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    flat = np.full((30, 50, 3), 77, dtype=np.uint8)
    assert np.all(vision.resize_center_crop(flat, 9) == 77)
    # At the crop's own size nothing is interpolated: the central 30×30 square comes back.
    square = vision.resize_center_crop(image, 30, crop_fraction=1.0)
    np.testing.assert_array_equal(square, image[:, 10:40])
    grey = vision.resize_center_crop(image[..., 0].astype(np.float32), 12, crop_fraction=1.0)
    assert grey.shape == (12, 12) and grey.dtype == np.float32
    rgb = vision.gray_to_rgb(image[..., 0])
    assert rgb.shape == (30, 50, 3) and np.all(rgb[..., 2] == image[..., 0])


# EfficientNet-Lite0 on ImageNet ---------------------------------------------------


def test_imagenet_labels():
    short, full, clean = (vision.imagenet_labels(s) for s in ("short", "full", "clean"))
    assert len(short) == len(full) == len(clean) == 1000
    assert short[281] == "tabby" and full[281] == "tabby, tabby cat" and short[0] == "tench"
    assert clean[281] == "tabby cat" and clean[134] == "crane bird" and len(set(clean)) == 998


def test_efficientnet_lite0_sees_the_cat(lite0, chelsea_input):
    assert sum(p.numel() for p in lite0.parameters()) == 4_652_008
    assert not lite0.training and tuple(chelsea_input.shape) == (1, 3, 224, 224)
    with torch.no_grad():
        logits = lite0(chelsea_input)
    top5 = vision.top_k(logits)
    assert {label for label, _ in top5} & CATS, top5
    assert top5[0][0] in CATS


def test_efficientnet_features_feed_the_classifier(lite0, chelsea_input):
    features = vision.efficientnet_features(lite0, chelsea_input)
    assert features.shape == (1, 1280) and features.dtype == np.float32
    with torch.no_grad():
        logits = lite0(chelsea_input)
        from_features = lite0._fc(torch.from_numpy(features))
    assert (from_features - logits).abs().max() < 1e-4


def test_top_k(rng):
    logits = rng.standard_normal(1000)
    top = vision.top_k(logits, k=1000)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-9
    assert top[0][0] == vision.imagenet_labels()[int(np.argmax(logits))]
    exact = np.exp(logits - logits.max())
    np.testing.assert_allclose(probs[0], exact.max() / exact.sum(), rtol=1e-12)
    softmaxed = nn.softmax(logits)
    assert vision.top_k(softmaxed) == vision.top_k(torch.tensor(logits)[None])[:5]
    assert vision.top_k(np.array([0.2, 0.7, 0.1]), 2, labels=["a", "b", "c"]) == [
        ("b", pytest.approx(0.7)),
        ("a", pytest.approx(0.2)),
    ]


def test_grad_cam_is_cam_for_a_pooled_linear_head():
    # conv → global average pool → linear: ∂y_c/∂A_k = w_ck / (h·w) everywhere, so Grad-CAM
    # is ReLU(Σ_k w_ck A_k), normalised: the class activation map of Zhou et al. (2016).
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    head = torch.nn.Linear(4, 2)
    model = torch.nn.Sequential(
        conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), head
    ).eval()
    x = torch.randn(1, 3, 6, 6)
    cam = vision.grad_cam(model, conv, x, class_index=1)
    with torch.no_grad():
        expected = torch.relu(torch.einsum("k,khw->hw", head.weight[1], conv(x)[0]))
    expected = (expected / expected.max()).numpy()
    assert cam.shape == (6, 6) and np.abs(cam - expected).max() < 1e-5
    assert conv.weight.grad is None  # no parameter gradients were accumulated


def test_saliency_of_a_linear_model_is_its_weights():
    torch.manual_seed(0)
    linear = torch.nn.Linear(3 * 4 * 5, 2)
    model = torch.nn.Sequential(torch.nn.Flatten(), linear).eval()
    x = torch.randn(1, 3, 4, 5)
    saliency = vision.saliency_map(model, x, class_index=0)
    weights = linear.weight[0].detach().reshape(3, 4, 5).abs().amax(dim=0)
    np.testing.assert_allclose(saliency, (weights / weights.max()).numpy(), atol=1e-6)


def test_grad_cam_on_efficientnet(lite0, chelsea_input):
    cam = vision.grad_cam(lite0, lite0._conv_head, chelsea_input)
    assert cam.shape == (224, 224) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    saliency = vision.saliency_map(lite0, chelsea_input, class_index=281)
    assert saliency.shape == (224, 224) and saliency.min() >= 0


# Bad inputs -----------------------------------------------------------------------


def test_bad_images_are_rejected(rng):
    image = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    for function in (vision.vgg_preprocess, vision.imagenet_normalize):
        with pytest.raises(ValueError, match=r"grayscale image \(shape \(8, 8\)\).*gray_to_rgb"):
            function(image[..., 0])
        with pytest.raises(ValueError, match="grayscale"):
            function(image[..., :1])
        with pytest.raises(ValueError, match=r"drop the alpha channel"):
            function(np.concatenate([image, image[..., :1]], axis=-1))
        with pytest.raises(ValueError, match="channels-first"):
            function(np.zeros((2, 3, 8, 8), dtype=np.uint8))
        with pytest.raises(TypeError, match="uint8 or float .* got dtype int64"):
            function(image.astype(np.int64))
        with pytest.raises(ValueError, match=r"pixel values in \[0, 255\], got values from -1.0"):
            function(image - np.float32(1.0))
        with pytest.raises(TypeError, match="got a torch tensor"):
            function(torch.zeros(8, 8, 3))
    with pytest.warns(UserWarning, match="multiply it by 255 first"):
        vision.vgg_preprocess(image / 255.0)
    with pytest.raises(ValueError, match="for a batch of grey images"):
        vision.vgg_preprocess(np.zeros((5, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="mean must be 3 finite numbers"):
        vision.imagenet_normalize(image, mean=(0.5, 0.5))
    with pytest.raises(TypeError, match="mean must be a number or array of numbers"):
        vision.imagenet_normalize(image, mean="imagenet")
    with pytest.raises(ValueError, match="std must be positive"):
        vision.imagenet_normalize(image, std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="one image .* got a batch"):
        vision.resize_center_crop(image[None])
    with pytest.raises(ValueError, match=r"crop_fraction must be a finite number in \(0, 1\]"):
        vision.resize_center_crop(image, 4, crop_fraction=1.5)
    with pytest.raises(TypeError, match=r"crop_fraction must be a finite number in \(0, 1\]"):
        vision.resize_center_crop(image, 4, crop_fraction="0.875")
    with pytest.raises(ValueError, match="size must be an integer ≥ 1, got 0"):
        vision.resize_center_crop(image, 0)
    with pytest.raises(TypeError, match="size must be an integer ≥ 1, got 224.0"):
        vision.resize_center_crop(image, 224.0)
    for function in (vision.vgg_preprocess, vision.resize_center_crop, vision.gray_to_rgb):
        with pytest.raises(TypeError, match=r"must be a NumPy array, got list; convert it with"):
            function(image.tolist())
    with pytest.raises(ValueError, match="list of them"):
        vision.efficientnet_lite_preprocess(np.stack([image, image]))
    with pytest.raises(ValueError, match="one grey image"):
        vision.gray_to_rgb(image[None])


def test_bad_vgg_arguments_are_rejected():
    with pytest.raises(ValueError, match="multiple of 32"):
        vision.vgg16_layers(100)
    with pytest.raises(ValueError, match="image_size must be an integer ≥ 32, got 16"):
        vision.vgg16_layers(16)
    with pytest.raises(TypeError, match="image_size must be an integer ≥ 32, got '224'"):
        vision.vgg16_layers("224")
    with pytest.raises(TypeError, match="include_top must be True or False"):
        vision.vgg16_layers(include_top="yes")
    with pytest.raises(ValueError, match="num_classes must be an integer ≥ 1, got 0"):
        vision.vgg16_torch(num_classes=0, device="meta")


def test_bad_top_k_arguments_are_rejected(rng):
    logits = rng.standard_normal(1000)
    with pytest.raises(ValueError, match=r"shape \(C,\) or \(1, C\), got \(2, 1000\)"):
        vision.top_k(np.stack([logits, logits]))
    with pytest.raises(ValueError, match="k must be at most the number of classes 1000"):
        vision.top_k(logits, k=1001)
    with pytest.raises(ValueError, match="k must be an integer ≥ 1, got 0"):
        vision.top_k(logits, k=0)
    with pytest.raises(TypeError, match="k must be an integer ≥ 1, got 5.0"):
        vision.top_k(logits, k=5.0)
    with pytest.raises(ValueError, match="3 classes, not ImageNet's 1000: pass labels"):
        vision.top_k(logits[:3], k=2)
    with pytest.raises(ValueError, match="labels has 2 entries but scores has 3 classes"):
        vision.top_k(logits[:3], k=1, labels=["a", "b"])
    with pytest.raises(ValueError, match="are not probabilities"):
        vision.top_k(logits, from_logits=False)
    with pytest.raises(TypeError, match="scores must be a float32 or float64 array, got dtype int"):
        vision.top_k(np.arange(1000))
    with pytest.raises(TypeError, match="scores must be a NumPy array, got list"):
        vision.top_k(logits.tolist())
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        vision.top_k(logits, from_logits="yes")
    with pytest.raises(ValueError, match="finite"):
        vision.top_k(np.full(1000, np.nan))
    with pytest.raises(ValueError, match="style must be one of 'short', 'full', 'clean'; got"):
        vision.imagenet_labels("wordnet")


def test_bad_explanation_arguments_are_rejected(lite0, chelsea_input):
    other = torch.nn.Conv2d(3, 3, 1)
    with pytest.raises(ValueError, match="target_layer must be one of model's modules"):
        vision.grad_cam(lite0, other, chelsea_input)
    with pytest.raises(TypeError, match="target_layer must be a torch.nn.Module, got str"):
        vision.grad_cam(lite0, "_conv_head", chelsea_input)
    with pytest.raises(ValueError, match="one image"):
        vision.grad_cam(lite0, lite0._conv_head, chelsea_input.repeat(2, 1, 1, 1))
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\) \(channels first\)"):
        vision.saliency_map(lite0, chelsea_input.permute(0, 2, 3, 1))
    with pytest.raises(TypeError, match="torch.Tensor"):
        vision.saliency_map(lite0, chelsea_input.numpy())
    with pytest.raises(ValueError, match=r"class_index must be an integer in \[0, 999\], got 1000"):
        vision.saliency_map(lite0, chelsea_input, class_index=1000)
    with pytest.raises(TypeError, match=r"class_index must be an integer in \[0, 999\], got 2.0"):
        vision.saliency_map(lite0, chelsea_input, class_index=2.0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    with pytest.raises(ValueError, match="training mode"):
        vision.saliency_map(model, torch.zeros(1, 3, 2, 2))
    with pytest.raises(TypeError, match="must be an EfficientNet"):
        vision.efficientnet_features(model.eval(), torch.zeros(1, 3, 2, 2))
