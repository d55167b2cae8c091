import Foundation
import OctetPipeline

/// A deliberately naive NCHW interpreter of every `Op`, straight from the ONNX operator
/// definitions, accumulating in Double. It shares no code with the executor and is the
/// specification the executor is tested against.
public enum ReferenceInterpreter {
    public struct Value {
        public var shape: Shape
        public var data: [Double]
    }

    public static func run(_ graph: Graph, inputs: [String: Tensor]) throws -> [String: Tensor] {
        var env: [String: Value] = [:]
        for (k, t) in graph.initializers { env[k] = Value(shape: t.shape, data: t.data.doubles) }
        for (k, t) in inputs { env[k] = Value(shape: t.shape, data: t.data.doubles) }
        for node in graph.nodes {
            let ins = node.inputs.map { $0.isEmpty ? nil : env[$0] }
            env[node.outputs[0]] = evaluate(node, ins, graph)
        }
        var out: [String: Tensor] = [:]
        for o in graph.outputs {
            let v = env[o.name]!
            out[o.name] = try Tensor(shape: v.shape, floats: v.data.map { Float($0) })
        }
        return out
    }

    static func evaluate(_ node: Node, _ ins: [Value?], _ graph: Graph) -> Value {
        let x = ins[0]!
        switch node.op {
        case .unary, .binary, .where, .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .pad,
             .shape, .size, .constantOfShape, .range, .cast, .resize, .convTranspose, .reduce, .globalMaxPool,
             .logSoftmax, .layerNormalization, .instanceNormalization:
            // The general operators are checked against ONNX Runtime (ZooModelTests, GeneralOpTests).
            preconditionFailure("ReferenceInterpreter has no definition of \(node.op.onnxType); compare with ONNX Runtime")
        case .conv(let w, let group): return conv(x, ins[1]!, ins.count > 2 ? ins[2] : nil, w, group)
        case .batchNormalization(let eps):
            let (s, b, m, v) = (ins[1]!.data, ins[2]!.data, ins[3]!.data, ins[4]!.data)
            let c = x.shape[1], inner = x.shape.dims[2...].reduce(1, *)
            var out = x
            for i in out.data.indices {
                let ch = (i / inner) % c
                out.data[i] = (x.data[i] - m[ch]) / (v[ch] + Double(eps)).squareRoot() * s[ch] + b[ch]
            }
            return out
        case .relu: return Value(shape: x.shape, data: x.data.map { max($0, 0) })
        case .clip(let lo, let hi): return Value(shape: x.shape, data: x.data.map { min(max($0, Double(lo)), Double(hi)) })
        case .maxPool(let w, let ceil): return pool(x, w, ceil: ceil, average: false, includePad: false)
        case .averagePool(let w, let ceil, let include): return pool(x, w, ceil: ceil, average: true, includePad: include)
        case .globalAveragePool:
            let (n, c, hw) = (x.shape[0], x.shape[1], x.shape.dims[2...].reduce(1, *))
            var out = [Double](repeating: 0, count: n * c)
            for i in 0..<(n * c) { out[i] = x.data[(i * hw)..<((i + 1) * hw)].reduce(0, +) / Double(hw) }
            return Value(shape: Shape([n, c] + Array(repeating: 1, count: x.shape.rank - 2)), data: out)
        case .add: return broadcast(x, ins[1]!, +)
        case .mul: return broadcast(x, ins[1]!, *)
        case .flatten(let axis):
            let a = axis < 0 ? axis + x.shape.rank : axis
            return Value(shape: [x.shape.dims[..<a].reduce(1, *), x.shape.dims[a...].reduce(1, *)], data: x.data)
        case .reshape(let allowZero):
            return Value(shape: Shape.reshaped(x.shape, to: ins[1]!.data.map { Int($0) }, allowZero: allowZero)!, data: x.data)
        case .gemm(let g):
            let b = ins[1]!
            let (m, k) = g.transA ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
            let n = g.transB ? b.shape[0] : b.shape[1]
            var out = [Double](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for t in 0..<k {
                        let av = g.transA ? x.data[t * m + i] : x.data[i * k + t]
                        let bv = g.transB ? b.data[j * k + t] : b.data[t * n + j]
                        acc += av * bv
                    }
                    out[i * n + j] = Double(g.alpha) * acc
                }
            }
            var result = Value(shape: [m, n], data: out)
            if ins.count > 2, let c = ins[2] {
                let scaled = Value(shape: c.shape, data: c.data.map { $0 * Double(g.beta) })
                result = broadcast(result, scaled, +)
            }
            return result
        case .matMul:
            let b = ins[1]!
            let k = x.shape[x.shape.rank - 1], n = b.shape[1], rows = x.data.count / k
            var out = [Double](repeating: 0, count: rows * n)
            for i in 0..<rows { for j in 0..<n { for t in 0..<k { out[i * n + j] += x.data[i * k + t] * b.data[t * n + j] } } }
            return Value(shape: Shape(x.shape.dims.dropLast() + [n]), data: out)
        case .softmax(let axis, let coerce2D):
            let a = axis < 0 ? axis + x.shape.rank : axis
            let n = coerce2D ? x.shape.dims[a...].reduce(1, *) : x.shape[a]
            let inner = coerce2D ? 1 : x.shape.dims[(a + 1)...].reduce(1, *)
            var out = x.data
            for o in 0..<(x.data.count / (n * inner)) {
                for i in 0..<inner {
                    let idx = (0..<n).map { o * n * inner + $0 * inner + i }
                    let m = idx.map { x.data[$0] }.max()!
                    let s = idx.map { exp(x.data[$0] - m) }.reduce(0, +)
                    for j in idx { out[j] = exp(x.data[j] - m) / s }
                }
            }
            return Value(shape: x.shape, data: out)
        case .concat(let axis):
            let vs = ins.map { $0! }
            let a = axis < 0 ? axis + x.shape.rank : axis
            var shape = x.shape
            shape[a] = vs.reduce(0) { $0 + $1.shape[a] }
            let outer = x.shape.dims[..<a].reduce(1, *)
            var out: [Double] = []
            for o in 0..<outer {
                for v in vs {
                    let chunk = v.shape.dims[a...].reduce(1, *)
                    out += v.data[(o * chunk)..<((o + 1) * chunk)]
                }
            }
            return Value(shape: shape, data: out)
        case .identity, .dropout: return x
        case .quantizeLinear(let axis), .dequantizeLinear(let axis):
            let s = ins[1]!.data, zp = ins.count > 2 ? ins[2]?.data ?? [0] : [0]
            let a = axis < 0 ? axis + x.shape.rank : axis
            let inner = x.shape.rank > 0 ? x.shape.dims[(a + 1)...].reduce(1, *) : 1
            let channels = x.shape.rank > 0 ? x.shape[a] : 1
            var out = x
            for i in out.data.indices {
                let c = s.count == 1 ? 0 : (i / inner) % channels
                if case .quantizeLinear = node.op {
                    out.data[i] = min(max((x.data[i] / s[c]).rounded(.toNearestOrEven) + zp[zp.count == 1 ? 0 : c], 0), 255)
                } else {
                    out.data[i] = (x.data[i] - zp[zp.count == 1 ? 0 : c]) * s[c]
                }
            }
            return out
        }
    }

    static func broadcast(_ a: Value, _ b: Value, _ f: (Double, Double) -> Double) -> Value {
        let shape = Shape.broadcast(a.shape, b.shape)!
        let ia = BroadcastIndex(from: a.shape, to: shape), ib = BroadcastIndex(from: b.shape, to: shape)
        return Value(shape: shape, data: (0..<shape.elementCount).map { f(a.data[ia.source($0)], b.data[ib.source($0)]) })
    }

    static func conv(_ x: Value, _ w: Value, _ b: Value?, _ win: Window2D, _ group: Int) -> Value {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, cpg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let pads = win.resolvedPads(input: [h, wd])
        let o = win.outputSize(input: [h, wd])
        let opg = cout / group
        var out = [Double](repeating: 0, count: n * cout * o[0] * o[1])
        for b0 in 0..<n {
            for oc in 0..<cout {
                let g = oc / opg
                for oy in 0..<o[0] {
                    for ox in 0..<o[1] {
                        var acc = b?.data[oc] ?? 0
                        for ic in 0..<cpg {
                            let c = g * cpg + ic
                            for ky in 0..<kh {
                                let iy = oy * win.strides[0] - pads[0] + ky * win.dilations[0]
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kw {
                                    let ix = ox * win.strides[1] - pads[1] + kx * win.dilations[1]
                                    if ix < 0 || ix >= wd { continue }
                                    acc += x.data[((b0 * cin + c) * h + iy) * wd + ix] * w.data[((oc * cpg + ic) * kh + ky) * kw + kx]
                                }
                            }
                        }
                        out[((b0 * cout + oc) * o[0] + oy) * o[1] + ox] = acc
                    }
                }
            }
        }
        return Value(shape: [n, cout, o[0], o[1]], data: out)
    }

    static func pool(_ x: Value, _ win: Window2D, ceil: Bool, average: Bool, includePad: Bool) -> Value {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pads = win.resolvedPads(input: [h, wd])
        let o = win.outputSize(input: [h, wd], ceilMode: ceil)
        var out = [Double](repeating: 0, count: n * c * o[0] * o[1])
        for plane in 0..<(n * c) {
            for oy in 0..<o[0] {
                for ox in 0..<o[1] {
                    var best = -Double.infinity, sum = 0.0, count = 0, padded = 0
                    for ky in 0..<win.kernel[0] {
                        let iy = oy * win.strides[0] - pads[0] + ky * win.dilations[0]
                        for kx in 0..<win.kernel[1] {
                            let ix = ox * win.strides[1] - pads[1] + kx * win.dilations[1]
                            // Positions in explicit padding count for count_include_pad; ceil-mode overhang does not.
                            let inPadded = iy >= -pads[0] && iy < h + pads[2] && ix >= -pads[1] && ix < wd + pads[3]
                            if inPadded { padded += 1 }
                            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                            let v = x.data[(plane * h + iy) * wd + ix]
                            best = max(best, v); sum += v; count += 1
                        }
                    }
                    out[(plane * o[0] + oy) * o[1] + ox] = average ? sum / Double(includePad ? padded : max(count, 1)) : best
                }
            }
        }
        return Value(shape: [n, c, o[0], o[1]], data: out)
    }
}
