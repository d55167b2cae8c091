import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetKernels
import OctetPasses
import OctetRuntime

/// How each convolution's weight range (its quantization scale per output channel) is chosen.
public enum WeightRangeSearch: String, Codable, Sendable, CaseIterable {
    /// The clipping of each channel that minimizes the weights' own squared error
    /// (`WeightQuantizer`'s MSE clipping): no data needed.
    case weights
    /// The clipping that minimizes the error of the layer's output on the statistics samples'
    /// FP32 inputs, channel by channel (AIMET's sequential-MSE search, with FP32 instead of
    /// quantized inputs): weight error where the inputs are large costs more than where they are
    /// small, which the weights alone cannot see.
    case outputs
}

/// Per convolution (by node name), the weight scales that minimize its output's squared error on
/// the first `samples` rows: for each candidate clipping max|w|·(1 − k/50), k = 0…24, the layer
/// runs on its captured FP32 inputs with the weights quantized at that range, and each output
/// channel keeps the candidate with the least error (the widest on ties); with per-tensor
/// weights the whole layer keeps one. Convolutions whose weight tensor other nodes share are
/// left to the default. Deterministic: sums per channel in a fixed order. `layers`, when given,
/// limits the work to those convolutions (a cluster task's share, `weightChoiceGroups`); each
/// layer's scales are the same as in the whole run.
public func outputMSEWeightScales(_ graph: Graph, data: any Dataset, samples: Int, options: QuantizeOptions,
                                  plan: PlanOptions, layers: Set<String>? = nil) throws -> [String: [Float]] {
    var opts = plan
    opts.fuse = false
    opts.threads = 1
    let run = try ModelRun(graph: graph, options: opts)
    let convs = convolutionsWithOwnWeights(graph).filter { layers?.contains($0.name) ?? true }
    guard !convs.isEmpty else { return [:] }
    // Every sample's inputs of every convolution, grouped by the model's input shapes.
    var captured: [[String: Shape]: [[String: [Float]]]] = [:]
    var order: [[String: Shape]] = []
    for i in 0..<min(samples, data.count) {
        guard let (_, input) = try run.inputBatches(data, i..<(i + 1)).first else { continue }
        let capture = TensorCapture(watching: Set(convs.map { $0.inputs[0] }))
        _ = try run.run(input, observer: capture)
        let key = input.mapValues(\.shape)
        if captured[key] == nil { order.append(key) }
        captured[key, default: []].append(capture.values)
    }
    guard let shapesKey = order.first, let inputs = captured[shapesKey] else { return [:] }
    let shapes = try SpecializeShapes.apply(graph, inputShapes: shapesKey).shapes
    let qmax = options.weightMax
    var chosen: [String: [Float]] = [:]
    for node in convs {
        guard let w = graph.initializers[node.inputs[1]], let wf = w.floats, let x = shapes[node.inputs[0]], let y = shapes[node.outputs[0]]
        else { continue }
        let geometry = try ConvLowering(node, input: x, output: y, weightShape: w.shape).geometry
        let exact = Conv2DKernel(geometry: geometry, weights: wf, bias: nil, isa: plan.isa)
        let n = geometry.outPixels * geometry.outPixelStride, stride = geometry.outPixelStride
        let scratch = AlignedBuffer(count: exact.scratchCount)
        func output(_ kernel: Conv2DKernel, _ input: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            input.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { kernel.run(input: xp.baseAddress!, output: $0.baseAddress!, pixels: 0..<geometry.outPixels, scratch: scratch.pointer) }
            }
            return out
        }
        let layerInputs = inputs.compactMap { $0[node.inputs[0]] }.filter { $0.count == geometry.inHeight * geometry.inWidth * geometry.inPixelStride }
        guard !layerInputs.isEmpty else { continue }
        let expected = layerInputs.map { output(exact, $0) }
        let channels = w.shape[0], per = wf.count / channels
        let perChannel = options.perChannelWeights
        var maxAbs = [Float](repeating: 0, count: perChannel ? channels : 1)
        for (i, v) in wf.enumerated() where v.isFinite { maxAbs[perChannel ? i / per : 0] = max(maxAbs[perChannel ? i / per : 0], abs(v)) }
        var best = maxAbs.map { $0 > 0 ? $0 / Float(qmax) : 1 }
        var bestError = [Double](repeating: .infinity, count: maxAbs.count)
        for k in 0..<25 {
            let scales = maxAbs.map { $0 > 0 ? $0 * (1 - Float(k) / 50) / Float(qmax) : 1 }
            let q = WeightQuantizer.codes(wf, shape: w.shape, axis: 0, scales: scales, qmax: qmax)
            let fake = q.enumerated().map { Float($1) * scales[perChannel ? $0 / per : 0] }
            let kernel = Conv2DKernel(geometry: geometry, weights: fake, bias: nil, isa: plan.isa)
            var error = [Double](repeating: 0, count: maxAbs.count)
            for (input, reference) in zip(layerInputs, expected) {
                for (i, (u, v)) in zip(reference, output(kernel, input)).enumerated() where u.isFinite && v.isFinite {
                    let c = i % stride
                    guard c < channels else { continue }
                    error[perChannel ? c : 0] += Double(u - v) * Double(u - v)
                }
            }
            for c in error.indices where error[c] < bestError[c] {
                bestError[c] = error[c]
                best[c] = scales[c]
            }
        }
        chosen[node.name] = best
    }
    return chosen
}
