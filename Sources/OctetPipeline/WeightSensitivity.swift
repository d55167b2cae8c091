import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetKernels
import OctetPasses
import OctetRuntime

/// Output-space sensitivity of each convolution to weight quantization: on a few samples, the
/// SQNR (dB) of the layer's FP32 output against the same layer computed with its quantized
/// weights on the same FP32 input. Weight error is amplified where a channel's output is a
/// small difference of large terms (e.g. the first depthwise layer of EfficientNet-Lite0), which
/// weight-space error does not show.
public func weightSensitivity(_ graph: Graph, data: any Dataset, samples: Int, options: QuantizeOptions,
                              plan: PlanOptions) throws -> [String: Double] {
    try weightQuantizationEffects(graph, data: data, samples: samples, options: options, plan: plan).sensitivity
}

/// Per convolution: the output-space SQNR of weight quantization (see `weightSensitivity`) and
/// the mean output shift it causes per output channel, E[y_fp32 − y_quantized-weights] over the
/// samples' pixels: adding it to the bias is empirical bias correction (Nagel et al. 2019,
/// "Data-Free Quantization Through Weight Equalization and Bias Correction", §4.2).
/// `chosen` (usually `CalibrationPlan.weights`: every weight quantized once, with the ranges or rounding the plan chose) replaces the default
/// codes of the weights it holds.
public func weightQuantizationEffects(_ graph: Graph, data: any Dataset, samples: Int, options: QuantizeOptions, plan: PlanOptions,
                                      chosen: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]) throws -> (sensitivity: [String: Double], biasCorrection: [String: [Float]]) {
    var opts = plan
    opts.fuse = false
    opts.threads = 1
    let run = try ModelRun(graph: graph, options: opts)
    final class Capture: TensorObserver, @unchecked Sendable {
        var values: [String: [Float]] = [:]
        func observe(_ t: ObservedTensor, worker: Int) { values[t.name] = Array(t.values) }
    }
    // One kernel pair (float weights, quantized weights) per convolution, per input shape.
    struct Layer { let name: String; let input: String; let output: String; let exact: Conv2DKernel; let quantized: Conv2DKernel }
    // Weights quantized once per convolution (the same whatever the input shape).
    var fakeWeights: [String: [Float]] = [:]
    for node in graph.nodes {
        guard case .conv = node.op, let w = graph.initializers[node.inputs[1]], let wf = w.floats, w.shape.rank >= 1, w.shape[0] > 0 else { continue }
        let (q, s) = chosen["\(node.inputs[1])@0"].map { ($0.codes, $0.scales) }
            ?? WeightQuantizer.quantize(wf, shape: w.shape, axis: 0, perChannel: options.perChannelWeights,
                                        qmax: options.weightMax, clipping: options.weightClipping)
        let per = wf.count / w.shape[0]
        fakeWeights[node.name] = q.enumerated().map { Float($1) * s[s.count == 1 ? 0 : $0 / per] }
    }
    func layers(for inputShapes: [String: Shape]) throws -> [Layer] {
        let shapes = try SpecializeShapes.apply(graph, inputShapes: inputShapes).shapes
        var layers: [Layer] = []
        for node in graph.nodes {
            guard let fake = fakeWeights[node.name], let w = graph.initializers[node.inputs[1]], let wf = w.floats,
                  let x = shapes[node.inputs[0]], let y = shapes[node.outputs[0]] else { continue }
            let geometry = try ConvLowering(node, input: x, output: y, weightShape: w.shape).geometry
            layers.append(Layer(name: node.name, input: node.inputs[0], output: node.outputs[0],
                                exact: Conv2DKernel(geometry: geometry, weights: wf, bias: nil, isa: plan.isa),
                                quantized: Conv2DKernel(geometry: geometry, weights: fake, bias: nil, isa: plan.isa)))
        }
        return layers
    }
    var layersByShape: [[String: Shape]: [Layer]] = [:]
    var signal: [String: Double] = [:], noise: [String: Double] = [:]
    var shift: [String: [Double]] = [:], counted: [String: Int] = [:]
    for i in 0..<min(samples, data.count) {
        guard let (_, input) = try run.inputBatches(data, i..<(i + 1)).first else { continue }
        let capture = Capture()
        _ = try run.run(input, observer: capture)
        let key = input.mapValues(\.shape)
        let layers = try layersByShape[key] ?? layers(for: key)
        layersByShape[key] = layers
        for l in layers {
            guard let x = capture.values[l.input] else { continue }
            let n = l.exact.geometry.outPixels * l.exact.geometry.outPixelStride
            var a = [Float](repeating: 0, count: n), b = a
            let scratch = AlignedBuffer(count: l.exact.scratchCount)
            x.withUnsafeBufferPointer { xp in
                a.withUnsafeMutableBufferPointer { l.exact.run(input: xp.baseAddress!, output: $0.baseAddress!, pixels: 0..<l.exact.geometry.outPixels, scratch: scratch.pointer) }
                b.withUnsafeMutableBufferPointer { l.quantized.run(input: xp.baseAddress!, output: $0.baseAddress!, pixels: 0..<l.quantized.geometry.outPixels, scratch: scratch.pointer) }
            }
            let stride = l.exact.geometry.outPixelStride
            // Running sums in locals (one dictionary access per layer, not per value); the order of
            // the additions is the values' order, as before.
            var sums = shift[l.name] ?? Array(repeating: 0, count: stride)
            var s = signal[l.name] ?? 0, e = noise[l.name] ?? 0, seen = signal[l.name] != nil
            var c = 0
            for (u, v) in zip(a, b) {
                if u.isFinite && v.isFinite {
                    s += Double(u) * Double(u)
                    e += Double(u - v) * Double(u - v)
                    sums[c] += Double(u) - Double(v)
                    seen = true
                }
                c += 1
                if c == stride { c = 0 }
            }
            if seen { signal[l.name] = s; noise[l.name] = e }
            shift[l.name] = sums
            counted[l.name, default: 0] += l.exact.geometry.outPixels
        }
    }
    var out: [String: Double] = [:]
    for (k, s) in signal { out[k] = (noise[k] ?? 0) == 0 ? 200 : 10 * log10(s / noise[k]!) }
    let corrections = shift.mapValues { sums in sums.map { Float($0) } }.reduce(into: [String: [Float]]()) { acc, kv in
        let n = Float(max(counted[kv.key] ?? 1, 1))
        acc[kv.key] = kv.value.map { $0 / n }
    }
    return (out, corrections)
}

/// The corrections NNCF's FastBiasCorrection rule keeps: a convolution's correction applies only
/// when it moves no channel's bias by `cap` times that bias or more, max |shift / bias| < cap (a
/// zero or missing bias counts as infinitely moved). A large relative shift is more likely the
/// noise of few samples than a systematic error. nil keeps every correction.
public func cappedBiasCorrections(_ graph: Graph, _ corrections: [String: [Float]], cap: Double?) -> [String: [Float]] {
    guard let cap else { return corrections }
    var kept: [String: [Float]] = [:]
    for node in graph.nodes {
        guard case .conv = node.op, let shift = corrections[node.name] else { continue }
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]]?.floats : nil
        guard let bias, bias.count == shift.count else { continue }
        let magnitude = zip(shift, bias).reduce(0.0) { m, sb in
            sb.1 == 0 ? .infinity : max(m, abs(Double(sb.0) / Double(sb.1)))
        }
        if magnitude < cap { kept[node.name] = shift }
    }
    return kept
}

/// `graph` with each listed convolution's bias increased by its correction (a bias is added
/// where the convolution had none); `graph` itself when there is none.
public func applyBiasCorrection(_ graph: Graph, _ corrections: [String: [Float]]) -> Graph {
    if corrections.isEmpty { return graph }
    var g = graph
    for i in g.nodes.indices {
        guard case .conv = g.nodes[i].op, let delta = corrections[g.nodes[i].name] else { continue }
        let node = g.nodes[i]
        let old = node.inputs.count > 2 && !node.inputs[2].isEmpty ? g.initializers[node.inputs[2]]?.floats : nil
        guard delta.count == (old?.count ?? delta.count) else { continue }
        let base = old ?? Array(repeating: 0, count: delta.count)
        let name = node.name + "_corrected_bias"
        g.initializers[name] = try? Tensor(shape: [delta.count], floats: zip(base, delta).map { $0 + $1 })
        g.nodes[i].inputs = [node.inputs[0], node.inputs[1], name]
    }
    return EliminateDeadNodes.apply(g)
}
