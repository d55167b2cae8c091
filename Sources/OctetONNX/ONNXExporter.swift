import Foundation
import OctetCore
import OctetIR
import SwiftProtobuf

/// Writes `Graph`s as ONNX models that ONNX Runtime and other tools can load.
public enum ONNXExporter {
    /// Serializes `graph` as a `ModelProto` with the graph's opset (at least 13).
    public static func serialize(_ graph: Graph, producer: String = "octet") throws(ONNXError) -> Data {
        do { try graph.verify() } catch { throw .invalidGraph(error) }
        let opset = max(graph.opsetVersion, 13)
        var model = Onnx_ModelProto()
        model.irVersion = opset >= 21 ? 10 : (opset >= 19 ? 9 : 8)
        model.producerName = producer
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]

        var g = Onnx_GraphProto()
        g.name = graph.name
        var extra: [Onnx_TensorProto] = []
        for node in graph.nodes {
            g.node.append(contentsOf: exportNode(node, opset: opset, initializers: graph.initializers, extraInitializers: &extra))
        }
        g.initializer = graph.initializers.keys.sorted().map { TensorConversion.proto(name: $0, tensor: graph.initializers[$0]!) } + extra
        g.input = graph.inputs.map(valueInfo)
        g.output = graph.outputs.map(valueInfo)
        model.graph = g
        do { return try model.serializedData() } catch {
            throw .notAModel(reason: "serialization failed: \(error)")
        }
    }

    /// Writes `graph` to `url`.
    public static func write(_ graph: Graph, to url: URL) throws(ONNXError) {
        let data = try serialize(graph)
        do { try data.write(to: url, options: .atomic) } catch {
            throw .unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    private static func valueInfo(_ v: ValueInfo) -> Onnx_ValueInfoProto {
        var p = Onnx_ValueInfoProto()
        p.name = v.name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = v.dtype.rawValue
        var shape = Onnx_TensorShapeProto()
        shape.dim = v.dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "N" }
            return dim
        }
        t.shape = shape
        p.type.tensorType = t
        return p
    }

    private static func attr(_ name: String, int value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(value); return a
    }
    private static func attr(_ name: String, float value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = value; return a
    }
    private static func attr(_ name: String, ints value: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = value.map { Int64($0) }; return a
    }
    private static func attr(_ name: String, string value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(value.utf8); return a
    }

    private static func windowAttributes(_ w: Window2D) -> [Onnx_AttributeProto] {
        var attrs = [attr("kernel_shape", ints: w.kernel), attr("strides", ints: w.strides)]
        if w.autoPad == .notSet { attrs.append(attr("pads", ints: w.pads)) } else { attrs.append(attr("auto_pad", string: w.autoPad.rawValue)) }
        return attrs
    }

    private static func exportNode(_ node: Node, opset: Int, initializers: [String: Tensor],
                                   extraInitializers: inout [Onnx_TensorProto]) -> [Onnx_NodeProto] {
        var p = Onnx_NodeProto()
        p.name = node.name
        p.opType = node.op.onnxType
        p.input = node.inputs
        p.output = node.outputs
        switch node.op {
        case .conv(let w, let group):
            p.attribute = windowAttributes(w) + [attr("dilations", ints: w.dilations), attr("group", int: group)]
        case .batchNormalization(let eps): p.attribute = [attr("epsilon", float: eps)]
        case .relu, .globalAveragePool, .add, .mul, .matMul, .identity, .dropout: break
        case .clip(let lo, let hi):
            // Opset >= 11 takes the bounds as inputs.
            let names = [node.name + "_min", node.name + "_max"]
            for (name, v) in zip(names, [lo, hi]) {
                extraInitializers.append(TensorConversion.proto(name: name, tensor: Tensor.filled([], v)))
            }
            p.input = [node.inputs[0]] + names
        case .maxPool(let w, let ceil):
            p.attribute = windowAttributes(w) + [attr("dilations", ints: w.dilations), attr("ceil_mode", int: ceil ? 1 : 0)]
        case .averagePool(let w, let ceil, let include):
            p.attribute = windowAttributes(w) + [attr("ceil_mode", int: ceil ? 1 : 0), attr("count_include_pad", int: include ? 1 : 0)]
            if w.dilations != [1, 1] { p.attribute.append(attr("dilations", ints: w.dilations)) }
        case .flatten(let axis): p.attribute = [attr("axis", int: axis)]
        case .reshape(let allowZero): if allowZero { p.attribute = [attr("allowzero", int: 1)] }
        case .gemm(let g):
            p.attribute = [attr("alpha", float: g.alpha), attr("beta", float: g.beta),
                           attr("transA", int: g.transA ? 1 : 0), attr("transB", int: g.transB ? 1 : 0)]
        case .softmax(let axis, let coerce2D):
            if coerce2D && opset >= 13 {
                return coercedSoftmax(node, axis: axis, extraInitializers: &extraInitializers)
            }
            p.attribute = [attr("axis", int: axis)]
        case .concat(let axis): p.attribute = [attr("axis", int: axis)]
        case .quantizeLinear(let axis), .dequantizeLinear(let axis): p.attribute = [attr("axis", int: axis)]
        case .unary(let f):
            switch f {
            case .hardSigmoid(let alpha, let beta): p.attribute = [attr("alpha", float: alpha), attr("beta", float: beta)]
            case .leakyRelu(let alpha), .elu(let alpha): p.attribute = [attr("alpha", float: alpha)]
            default: break
            }
        case .binary, .where, .slice, .squeeze, .unsqueeze, .expand, .tile, .size, .range, .globalMaxPool: break
        case .transpose(let perm): if let perm { p.attribute = [attr("perm", ints: perm)] }
        case .split(let axis, let outputs):
            p.attribute = [attr("axis", int: axis)]
            if node.inputs.count < 2 && opset >= 18 { p.attribute.append(attr("num_outputs", int: outputs)) }
        case .gather(let axis): p.attribute = [attr("axis", int: axis)]
        case .pad(let mode): p.attribute = [attr("mode", string: mode.rawValue)]
        case .shape(let start, let end):
            if start != 0 { p.attribute.append(attr("start", int: start)) }
            if let end { p.attribute.append(attr("end", int: end)) }
        case .constantOfShape(let value):
            var a = Onnx_AttributeProto(); a.name = "value"; a.type = .tensor
            a.t = TensorConversion.proto(name: "value", tensor: value)
            p.attribute = [a]
        case .cast(let to, let toBool): p.attribute = [attr("to", int: toBool ? 9 : Int(to.rawValue))]
        case .resize(let r):
            p.attribute = [attr("mode", string: r.mode.rawValue), attr("coordinate_transformation_mode", string: r.coordinateTransform.rawValue),
                           attr("nearest_mode", string: r.nearestMode.rawValue)]
        case .convTranspose(let c):
            p.attribute = windowAttributes(c.window) + [attr("dilations", ints: c.window.dilations), attr("group", int: c.group),
                                                        attr("output_padding", ints: c.outputPadding)]
            if let o = c.outputShape { p.attribute.append(attr("output_shape", ints: o)) }
        case .reduce(let kind, let keepDims, let noop):
            p.attribute = [attr("keepdims", int: keepDims ? 1 : 0)]
            if noop { p.attribute.append(attr("noop_with_empty_axes", int: 1)) }
            // Axes are an input from opset 18 (13 for ReduceSum), an attribute before.
            if opset < (kind == .sum ? 13 : 18), node.inputs.count > 1 {
                p.input = [node.inputs[0]]
                if let axes = initializers[node.inputs[1]] { p.attribute.append(attr("axes", ints: axes.data.ints)) }
            }
        case .logSoftmax(let axis, let coerce2D):
            if coerce2D && opset >= 13 {
                return coercedSoftmax(node, axis: axis, opType: "LogSoftmax", extraInitializers: &extraInitializers)
            }
            p.attribute = [attr("axis", int: axis)]
        case .layerNormalization(let axis, let eps): p.attribute = [attr("axis", int: axis), attr("epsilon", float: eps)]
        case .instanceNormalization(let eps): p.attribute = [attr("epsilon", float: eps)]
        }
        return [p]
    }

    /// Opset < 13 Softmax semantics written for opset >= 13: Flatten at `axis`, Softmax over
    /// the last axis, Reshape back to the input's shape.
    private static func coercedSoftmax(_ node: Node, axis: Int, opType: String = "Softmax",
                                       extraInitializers: inout [Onnx_TensorProto]) -> [Onnx_NodeProto] {
        let flat = node.name + "_flat", soft = node.name + "_soft", shapeOf = node.name + "_shape"
        var f = Onnx_NodeProto(); f.name = flat; f.opType = "Flatten"; f.input = [node.inputs[0]]; f.output = [flat]
        f.attribute = [attr("axis", int: axis)]
        var s = Onnx_NodeProto(); s.name = soft; s.opType = opType; s.input = [flat]; s.output = [soft]
        s.attribute = [attr("axis", int: -1)]
        var sh = Onnx_NodeProto(); sh.name = shapeOf; sh.opType = "Shape"; sh.input = [node.inputs[0]]; sh.output = [shapeOf]
        var r = Onnx_NodeProto(); r.name = node.name; r.opType = "Reshape"; r.input = [soft, shapeOf]; r.output = node.outputs
        return [f, s, sh, r]
    }
}
