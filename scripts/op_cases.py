#!/usr/bin/env python3
"""Randomized single-operator ONNX models with ONNX Runtime's outputs, for Octet's per-op tests.

    python3 scripts/op_cases.py OUT_DIR [--seed 7]

Writes OUT_DIR/caseK.onnx, caseK.inI.npy (float32 inputs, batch axis first) and caseK.outJ.npy
(ONNX Runtime CPU outputs), and prints one JSON line {"cases": [{"name", "model", "inputs":
[[name, file]], "outputs": [[name, file]]}], "onnxruntime": version}. The cases sweep
broadcasting shapes, negative axes, size-1 and empty dimensions and the attribute forms
exporters emit (attributes in old opsets, inputs in new ones).
"""
import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

rng = None
cases = []


def shape_rand(rank, lo=1, hi=6):
    return [2] + [int(rng.integers(lo, hi + 1)) for _ in range(rank - 1)]


def add_case(name, nodes, inputs, outputs, inits=(), opset=17, input_fn=None):
    """inputs: [(name, shape)], outputs: [name]; float32 everywhere at the graph boundary."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N"] + list(s[1:])) for n, s in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    feeds = {}
    for n, s in inputs:
        x = rng.standard_normal(s).astype(np.float32) * 2
        feeds[n] = input_fn(x) if input_fn else x
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outs = sess.run(None, feeds)
    except Exception as e:  # a case ONNX Runtime refuses is a bug of this script
        raise SystemExit(f"{name}: ONNX Runtime refused the case: {e}")
    k = len(cases)
    path = os.path.join(out_dir, f"case{k}.onnx")
    onnx.save(model, path)
    ins = []
    for i, (n, _) in enumerate(inputs):
        f = os.path.join(out_dir, f"case{k}.in{i}.npy")
        np.save(f, feeds[n])
        ins.append([n, f])
    res = []
    for j, (o, v) in enumerate(zip(outputs, outs)):
        f = os.path.join(out_dir, f"case{k}.out{j}.npy")
        np.save(f, np.asarray(v, dtype=np.float32))
        res.append([o, f])
    cases.append({"name": name, "model": path, "inputs": ins, "outputs": res})


def i64(v):
    return np.asarray(v, dtype=np.int64)


def f32(v):
    return np.asarray(v, dtype=np.float32)


def broadcastable(shape):
    """A random shape that broadcasts to `shape` (dropped leading axes, 1s), never varying along
    the batch axis (a constant per image of a batch is not something a CNN has; Octet refuses it)."""
    rank = len(shape) - int(rng.integers(0, len(shape)))
    out = [1 if rng.random() < 0.5 else d for d in shape[len(shape) - rank:]]
    if rank == len(shape):
        out[0] = 1
    return out


def unary_cases():
    ops = [("Sigmoid", {}), ("Tanh", {}), ("Exp", {}), ("Log", {}), ("Sqrt", {}), ("Neg", {}), ("Reciprocal", {}),
           ("Abs", {}), ("Erf", {}), ("Floor", {}), ("Ceil", {}), ("Round", {}), ("HardSwish", {}), ("Softplus", {}),
           ("Sign", {}), ("HardSigmoid", {"alpha": 0.1666667, "beta": 0.5}), ("HardSigmoid", {}),
           ("LeakyRelu", {"alpha": 0.1}), ("Elu", {"alpha": 0.7}), ("Relu", {})]
    for op, attrs in ops:
        for rank in (2, 3, 4):
            s = shape_rand(rank)
            fn = (lambda x: np.abs(x) + 0.1) if op in ("Log", "Sqrt", "Reciprocal") else None
            add_case(f"{op}{attrs} {s}", [helper.make_node(op, ["x"], ["y"], **attrs)], [("x", s)], ["y"], input_fn=fn)


def binary_cases():
    for op in ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"]:
        for trial in range(4):
            s = shape_rand(int(rng.integers(2, 5)))
            b = broadcastable(s)
            if op == "PRelu":
                b = [1 if (i > 0 and rng.random() < 0.6) else d for i, d in enumerate(s[1:])]
            const = trial % 2 == 0 or op == "PRelu"
            bval = rng.standard_normal(b).astype(np.float32)
            if op == "Pow":
                bval = np.round(bval * 2) / 2
            if op == "Div":
                bval = np.where(np.abs(bval) < 0.2, 0.5, bval).astype(np.float32)
            fn = (lambda x: np.abs(x) + 0.5) if op == "Pow" else None
            if const:
                add_case(f"{op} {s} by const {b}", [helper.make_node(op, ["x", "b"], ["y"])], [("x", s)], ["y"],
                         inits=[("b", bval)], input_fn=fn)
            else:
                bs = [2] + b[1:] if len(b) == len(s) else s[:len(s) - len(b)] + b
                bs = [2] + [d if rng.random() < 0.5 else 1 for d in s[1:]]
                add_case(f"{op} {s} by {bs}", [helper.make_node(op, ["x", "z"], ["y"])], [("x", s), ("z", bs)], ["y"], input_fn=fn)
    for op in ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]:
        s = shape_rand(3)
        b = broadcastable(s)
        add_case(f"Where({op}) {s} {b}", [helper.make_node(op, ["x", "b"], ["c"]),
                                          helper.make_node("Where", ["c", "x", "w"], ["y"])],
                 [("x", s)], ["y"], inits=[("b", np.round(rng.standard_normal(b)).astype(np.float32)),
                                           ("w", rng.standard_normal(broadcastable(s)).astype(np.float32))],
                 input_fn=lambda x: np.round(x))
    for op in ["Max", "Min", "Sum", "Mean"]:
        s = shape_rand(3)
        add_case(f"{op} of 3 {s}", [helper.make_node(op, ["x", "b", "c"], ["y"])], [("x", s)], ["y"],
                 inits=[("b", rng.standard_normal(broadcastable(s)).astype(np.float32)),
                        ("c", rng.standard_normal(broadcastable(s)).astype(np.float32))])


def movement_cases():
    for rank in (3, 4, 5):
        s = shape_rand(rank)
        perm = [0] + list(rng.permutation(range(1, rank)))
        add_case(f"Transpose {s} {perm}", [helper.make_node("Transpose", ["x"], ["y"], perm=[int(p) for p in perm])], [("x", s)], ["y"])
    for trial in range(10):
        s = shape_rand(4, 2, 7)
        axes = sorted(rng.choice([1, 2, 3], size=int(rng.integers(1, 4)), replace=False).tolist())
        starts, ends, steps = [], [], []
        for a in axes:
            n = s[a]
            st = int(rng.choice([1, 1, 2, -1, -2])) if trial % 3 else 1
            if st > 0:
                starts.append(int(rng.integers(-n, n)))
                ends.append(int(rng.choice([n, 2**63 - 1, -1, int(rng.integers(-n, n + 1))])))
            else:
                starts.append(int(rng.choice([-1, n - 1, 2**63 - 1])))
                ends.append(int(rng.choice([-2**63, 0, -n - 1])))
            steps.append(st)
        neg_axes = [a - 4 if rng.random() < 0.5 else a for a in axes]
        add_case(f"Slice {s} axes {neg_axes} {starts}:{ends}:{steps}",
                 [helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])], [("x", s)], ["y"],
                 inits=[("s", i64(starts)), ("e", i64(ends)), ("a", i64(neg_axes)), ("t", i64(steps))])
    s = [2, 3, 4, 5]
    add_case("Slice to empty then Concat", [helper.make_node("Slice", ["x", "s", "e", "a"], ["e0"]),
                                           helper.make_node("Concat", ["e0", "x"], ["y"], axis=2)],
             [("x", s)], ["y"], inits=[("s", i64([2])), ("e", i64([2])), ("a", i64([2]))])
    for opset in (11, 13, 18):
        s = [2, 6, 3, 4]
        if opset == 11:
            nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, split=[1, 2, 3])]
            inits = []
        elif opset == 13:
            nodes = [helper.make_node("Split", ["x", "sp"], ["a", "b", "c"], axis=-3)]
            inits = [("sp", i64([3, 0, 3]))]
        else:
            nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=3, num_outputs=3)]
            inits = []
        add_case(f"Split opset {opset}", nodes, [("x", s)], ["a", "b", "c"], inits=inits, opset=opset)
    add_case("Split equal", [helper.make_node("Split", ["x"], ["a", "b"], axis=2)], [("x", [2, 3, 4, 5])], ["a", "b"], opset=13)
    add_case("Squeeze/Unsqueeze opset 11", [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[1, -1]),
                                           helper.make_node("Squeeze", ["u"], ["y"], axes=[1])],
             [("x", [2, 3, 4])], ["y"], opset=11)
    add_case("Squeeze/Unsqueeze opset 13", [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
                                           helper.make_node("Squeeze", ["u", "sx"], ["y"])],
             [("x", [2, 1, 4])], ["y"], inits=[("ax", i64([2, -1])), ("sx", i64([-1, 1]))], opset=13)
    for target in ([1, 3, 1, 5], [3, 1, 5], [1, 1, 4, 1], [1, 1, 4, 6]):
        add_case(f"Expand to {target}", [helper.make_node("Expand", ["x", "t"], ["y"])], [("x", [2, 1, 4, 1])], ["y"],
                 inits=[("t", i64(target))])
    for idx, axis in (([0, -1, 2], 1), ([[1, 0], [2, 2]], 2), (-1, -1), ([3], 3)):
        add_case(f"Gather {idx} axis {axis}", [helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)],
                 [("x", [2, 4, 3, 5])], ["y"], inits=[("i", i64(idx))])
    add_case("Tile", [helper.make_node("Tile", ["x", "r"], ["y"])], [("x", [2, 3, 1, 2])], ["y"], inits=[("r", i64([1, 2, 3, 1]))])
    for mode in ("constant", "reflect", "edge"):
        pads = [0, 1, 2, 0, 0, 2, 1, 3] if mode != "constant" else [0, 1, -1, 2, 0, 0, 2, -1]
        inputs = ["x", "p", "v"] if mode == "constant" else ["x", "p"]
        inits = [("p", i64(pads))] + ([("v", f32(0.5))] if mode == "constant" else [])
        add_case(f"Pad {mode}", [helper.make_node("Pad", inputs, ["y"], mode=mode)], [("x", [2, 3, 4, 5])], ["y"], inits=inits, opset=13)
    add_case("Pad opset 18 axes", [helper.make_node("Pad", ["x", "p", "", "ax"], ["y"], mode="reflect")],
             [("x", [2, 3, 4, 5])], ["y"], inits=[("p", i64([1, 2, 1, 0])), ("ax", i64([-1, 2]))], opset=18)


def shape_arith_cases():
    # PyTorch-style channel shuffle built from Shape/Gather/Div/Cast/Unsqueeze/Concat/Reshape.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Gather", ["s", "i1"], ["c"], axis=0),
        helper.make_node("Div", ["c", "two"], ["half"]),
        helper.make_node("Cast", ["half"], ["halfi"], to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["n", "z"], ["nu"]),
        helper.make_node("Unsqueeze", ["halfi", "z"], ["hu"]),
        helper.make_node("Concat", ["nu", "twoi", "hu", "m1"], ["t"], axis=0),
        helper.make_node("Reshape", ["x", "t"], ["r"]),
        helper.make_node("Transpose", ["r"], ["tr"], perm=[0, 2, 1, 3]),
        helper.make_node("Shape", ["x"], ["s2"], start=1),
        helper.make_node("Size", ["x"], ["sz"]),
        helper.make_node("ConstantOfShape", ["s2"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("Reshape", ["tr", "s"], ["back"]),
        helper.make_node("Mul", ["back", "ones"], ["y0"]),
        helper.make_node("Range", ["r0", "r1", "r2"], ["rg"]),
        helper.make_node("Cast", ["rg"], ["rgf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["y0", "rgf"], ["y"]),
    ]
    inits = [("i0", i64(0)), ("i1", i64(1)), ("two", i64(2)), ("z", i64([0])), ("twoi", i64([2])), ("m1", i64([-1])),
             ("r0", f32(0.0)), ("r1", f32(2.5)), ("r2", f32(0.5))]
    add_case("channel shuffle via Shape arithmetic", nodes, [("x", [2, 6, 3, 5])], ["y"], inits=inits, opset=15)


def resize_cases():
    coords_nearest = ["asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners", "tf_half_pixel_for_nn"]
    for coord in coords_nearest:
        for nearest in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            scale = float(rng.choice([2.0, 0.5, 1.5, 3.0]))
            add_case(f"Resize nearest {coord} {nearest} x{scale}",
                     [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest", coordinate_transformation_mode=coord,
                                       nearest_mode=nearest)],
                     [("x", [2, 3, 5, 7])], ["y"], inits=[("sc", f32([1, 1, scale, scale]))], opset=13)
    for coord in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"):
        for hw in ([10, 13], [3, 4], [1, 9]):
            # F.interpolate(size=...) as PyTorch exports it: sizes = Concat(Shape(x)[0:2], [h, w]).
            add_case(f"Resize linear {coord} to {hw}",
                     [helper.make_node("Shape", ["x"], ["s"]),
                      helper.make_node("Slice", ["s", "z", "two"], ["nc"]),
                      helper.make_node("Concat", ["nc", "hw"], ["sz"], axis=0),
                      helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="linear", coordinate_transformation_mode=coord)],
                     [("x", [2, 3, 5, 7])], ["y"], inits=[("z", i64([0])), ("two", i64([2])), ("hw", i64(hw))], opset=13)
    add_case("Resize opset 11 roi input", [helper.make_node("Resize", ["x", "roi", "sc"], ["y"], mode="nearest",
                                                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
             [("x", [2, 2, 4, 4])], ["y"], inits=[("roi", f32([])), ("sc", f32([1, 1, 2, 2]))], opset=11)


def conv_transpose_cases():
    for trial in range(10):
        group = int(rng.choice([1, 1, 2, 3]))
        cin = group * int(rng.integers(1, 4))
        cout_g = int(rng.integers(1, 4))
        k = [int(rng.integers(1, 5)), int(rng.integers(1, 5))]
        stride = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        dil = [int(rng.integers(1, 3)), 1]
        pads = [int(rng.integers(0, min(k) )) for _ in range(4)] if trial % 2 else [0, 0, 0, 0]
        outpad = [int(rng.integers(0, s)) for s in stride] if trial % 3 == 0 else [0, 0]
        outpad = [min(o, max(s, d) - 1) for o, s, d in zip(outpad, stride, dil)]
        w = rng.standard_normal([cin, cout_g] + k).astype(np.float32)
        inputs = ["x", "w"] + (["b"] if trial % 2 == 0 else [])
        inits = [("w", w)] + ([("b", rng.standard_normal([cout_g * group]).astype(np.float32))] if trial % 2 == 0 else [])
        add_case(f"ConvTranspose g{group} cin{cin} k{k} s{stride} d{dil} p{pads} op{outpad}",
                 [helper.make_node("ConvTranspose", inputs, ["y"], group=group, kernel_shape=k, strides=stride, dilations=dil,
                                   pads=pads, output_padding=outpad)],
                 [("x", [2, cin, int(rng.integers(1, 7)), int(rng.integers(1, 7))])], ["y"], inits=inits)
    w = rng.standard_normal([4, 2, 3, 3]).astype(np.float32)
    add_case("ConvTranspose output_shape", [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[10, 9])],
             [("x", [2, 4, 5, 4])], ["y"], inits=[("w", w)])
    # Taps that tile the output (stride = kernel, no pads): a detector's upsampling.
    for k, cout, bias in [([2, 2], 1, True), ([2, 2], 5, False), ([3, 2], 3, True)]:
        w = rng.standard_normal([4, cout] + k).astype(np.float32)
        inits = [("w", w)] + ([("b", rng.standard_normal([cout]).astype(np.float32))] if bias else [])
        add_case(f"ConvTranspose tiling k{k} cout{cout}",
                 [helper.make_node("ConvTranspose", ["x", "w"] + (["b"] if bias else []), ["y"], kernel_shape=k, strides=k)],
                 [("x", [2, 4, 5, 3])], ["y"], inits=inits)


def reduce_cases():
    for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2"):
        for keep in (0, 1):
            axes = [int(a) for a in rng.choice([1, 2, -1], size=2, replace=False)]
            add_case(f"{op} opset 13 attr {axes} keep {keep}",
                     [helper.make_node(op, ["x"] + (["ax"] if op == "ReduceSum" else []), ["y"], keepdims=keep,
                                       **({} if op == "ReduceSum" else {"axes": axes}))],
                     [("x", [2, 3, 4, 5])], ["y"], inits=[("ax", i64(axes))] if op == "ReduceSum" else [], opset=13)
            add_case(f"{op} opset 18 input {axes} keep {keep}", [helper.make_node(op, ["x", "ax"], ["y"], keepdims=keep)],
                     [("x", [2, 3, 4, 5])], ["y"], inits=[("ax", i64(axes))], opset=18)
    add_case("GlobalMaxPool", [helper.make_node("GlobalMaxPool", ["x"], ["y"])], [("x", [2, 5, 3, 4])], ["y"])
    for op in ("Softmax", "LogSoftmax"):
        for axis in (1, 2, -1):
            add_case(f"{op} axis {axis}", [helper.make_node(op, ["x"], ["y"], axis=axis)], [("x", [2, 3, 4, 5])], ["y"], opset=13)
        add_case(f"{op} opset 11 axis 2 (coerced)", [helper.make_node(op, ["x"], ["y"], axis=2)], [("x", [2, 3, 4, 5])], ["y"], opset=11)


def linear_cases():
    add_case("MatMul batched runtime B", [helper.make_node("MatMul", ["x", "z"], ["y"])], [("x", [2, 3, 4, 5]), ("z", [2, 3, 5, 2])], ["y"])
    add_case("MatMul broadcast const B rank 3", [helper.make_node("MatMul", ["x", "b"], ["y"])], [("x", [2, 3, 4, 5])], ["y"],
             inits=[("b", rng.standard_normal([3, 5, 6]).astype(np.float32))])
    add_case("MatMul const B rank 2 on rank 4", [helper.make_node("MatMul", ["x", "b"], ["y"])], [("x", [2, 3, 4, 5])], ["y"],
             inits=[("b", rng.standard_normal([5, 6]).astype(np.float32))])
    for axis in (-1, 2, 1):
        inner = [3, 4, 5][axis:] if axis > 0 else [5]
        add_case(f"LayerNormalization axis {axis}", [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=axis, epsilon=1e-5)],
                 [("x", [2, 3, 4, 5])], ["y"], inits=[("s", rng.standard_normal(inner).astype(np.float32)),
                                                      ("b", rng.standard_normal(inner).astype(np.float32))])
    add_case("InstanceNormalization", [helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-4)],
             [("x", [2, 3, 4, 5])], ["y"], inits=[("s", rng.standard_normal([3]).astype(np.float32)),
                                                  ("b", rng.standard_normal([3]).astype(np.float32))])
    add_case("BatchNormalization standalone", [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
             [("x", [2, 3, 4, 5])], ["y"], inits=[("s", f32([1, 2, 3])), ("b", f32([0, 1, -1])), ("m", f32([0.5, 0, 1])),
                                                  ("v", f32([1, 2, 0.5]))])


def row_kernel_cases():
    """The C row kernels' shapes: channel counts across the 8/16-float vectors on NHWC values,
    per-channel (squeeze-excitation, PRelu) and per-row broadcasts, standalone BatchNormalization
    on channels-first values, and ReduceMean over height and width (global average pooling)."""
    for c in (7, 16, 33):
        s = [2, c, 5, 6]
        add_case(f"PRelu per channel {s}", [helper.make_node("PRelu", ["x", "b"], ["y"])], [("x", s)], ["y"],
                 inits=[("b", rng.standard_normal([c, 1, 1]).astype(np.float32))])
        for op in ("Mul", "Div", "Sub", "Max", "Min"):
            add_case(f"{op} {s} by [N,{c},1,1]", [helper.make_node(op, ["x", "z"], ["y"])],
                     [("x", s), ("z", [2, c, 1, 1])], ["y"],
                     input_fn=(lambda x: np.where(np.abs(x) < 0.2, 0.5, x)) if op == "Div" else None)
        add_case(f"Add {s} by [{s[2]},{s[3]}]", [helper.make_node("Add", ["x", "b"], ["y"])], [("x", s)], ["y"],
                 inits=[("b", rng.standard_normal(s[2:]).astype(np.float32))])
        for keep in (0, 1):
            add_case(f"ReduceMean spatial {s} keep {keep}", [helper.make_node("ReduceMean", ["x"], ["y"], keepdims=keep, axes=[2, -1])],
                     [("x", s)], ["y"], opset=13)
    for g, c in ((2, 6), (2, 24), (3, 9)):
        s = [2, c, 3, 5]
        add_case(f"channel shuffle g{g} {s}", [
            helper.make_node("Reshape", ["x", "split"], ["r"]),
            helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
            helper.make_node("Reshape", ["t", "back"], ["y"])], [("x", s)], ["y"],
            inits=[("split", i64([-1, g, c // g, 3, 5])), ("back", i64([-1, c, 3, 5]))])
    for starts, ends, steps in (([0], [7], [1]), ([7], [20], [1]), ([3], [1000], [1]), ([0], [20], [2])):
        add_case(f"Slice channels {starts}:{ends}:{steps} of [2,20,3,4]", [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
                 [("x", [2, 20, 3, 4])], ["y"], inits=[("st", i64(starts)), ("en", i64(ends)), ("ax", i64([1])), ("sp", i64(steps))])
    # Element-wise chains over one value with scalar constants (one fused pass in Octet).
    three, six, zero, half, two, one = f32(3), f32(6), f32(0), f32(0.5), f32(2), f32(1)
    add_case("chain Add Clip Mul Div (Paddle HardSwish)", [
        helper.make_node("Add", ["x", "three"], ["a"]), helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]), helper.make_node("Div", ["m", "six"], ["y"])],
        [("x", [2, 37, 6, 5])], ["y"], inits=[("three", three), ("six", six), ("zero", zero)])
    add_case("chain Sub reversed, Max, PRelu scalar, Div by x", [
        helper.make_node("Sub", ["one", "x"], ["a"]), helper.make_node("Max", ["a", "half"], ["b"]),
        helper.make_node("PRelu", ["b", "two"], ["c"]), helper.make_node("Div", ["x", "c"], ["y"])],
        [("x", [2, 5, 19])], ["y"], inits=[("one", one), ("half", half), ("two", two)])
    add_case("chain Relu Mul Add x then Min", [
        helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Mul", ["two", "a"], ["b"]),
        helper.make_node("Add", ["b", "x"], ["c"]), helper.make_node("Min", ["c", "one"], ["y"])],
        [("x", [2, 33, 3, 3])], ["y"], inits=[("two", two), ("one", one)])
    add_case("BatchNormalization rank 3", [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
             [("x", [2, 19, 21])], ["y"], inits=[("s", rng.standard_normal([19]).astype(np.float32)),
                                                  ("b", rng.standard_normal([19]).astype(np.float32)),
                                                  ("m", rng.standard_normal([19]).astype(np.float32)),
                                                  ("v", (np.abs(rng.standard_normal([19])) + 0.5).astype(np.float32))])
    add_case("Clip rank 3", [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [("x", [2, 5, 37])], ["y"],
             inits=[("lo", f32(-0.5)), ("hi", f32(0.75))])


def main():
    global rng, out_dir
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    out_dir = a.out
    os.makedirs(out_dir, exist_ok=True)
    for f in (unary_cases, binary_cases, movement_cases, shape_arith_cases, resize_cases, conv_transpose_cases,
              reduce_cases, linear_cases, row_kernel_cases):
        f()
    print(json.dumps({"onnxruntime": ort.__version__, "cases": cases}))


if __name__ == "__main__":
    main()
