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
/// "Data-Free Quantization Through Weight Equalization and Bias Correction", §4.2). Measured on
/// rows 0..<samples one by one (`WeightEffectMeter`) and summed in sample order (`WeightEffects`),
/// as cluster workers do.
/// `chosen` (usually `CalibrationPlan.weights`: every weight quantized once, with the ranges or
/// rounding the plan chose) replaces the default codes of the weights it holds.
public func weightQuantizationEffects(_ graph: Graph, data: any Dataset, samples: Int, options: QuantizeOptions, plan: PlanOptions,
                                      chosen: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]) throws -> (sensitivity: [String: Double], biasCorrection: [String: [Float]]) {
    let effects = try WeightEffects.measure(graph, data: data, rows: 0..<min(max(samples, 0), data.count), options: options, plan: plan, chosen: chosen)
    return (effects.sensitivity, effects.biasCorrection)
}

/// One sample's share of `weightQuantizationEffects`: per convolution, over the sample's output
/// values u (FP32 weights) and v (quantized weights), both finite, Σu², Σ(u − v)², per output
/// channel Σ(u − v), and the output pixels. Doubles travel as bit patterns (exact), so the sum
/// over samples in sample order is the same whichever workers measured which samples.
public struct WeightEffectSample: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        /// Bit patterns of [Σu², Σ(u − v)²]; empty when no pair was finite.
        public var sums: [UInt64]
        /// Bit patterns of Σ(u − v) per output channel.
        public var shift: [UInt64]
        public var pixels: Int

        public init(sums: [UInt64], shift: [UInt64], pixels: Int) {
            self.sums = sums
            self.shift = shift
            self.pixels = pixels
        }
    }
    public var sample: Int
    public var layers: [String: Layer]

    public init(sample: Int, layers: [String: Layer]) {
        self.sample = sample
        self.layers = layers
    }

    static let magic: [UInt8] = Array("OWE1".utf8)

    /// The binary form a cluster worker sends for its task's samples (little-endian): "OWE1", u32
    /// samples; per sample u32 index and u32 layers; per layer (by name) u16 length + UTF-8 name,
    /// u8 1 and 2 u64 sums or u8 0, u32 channels and a u64 shift each, u64 pixels.
    public static func encode(_ samples: [WeightEffectSample]) -> [UInt8] {
        var out = magic
        func put(_ v: UInt64, _ bytes: Int) { for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        put(UInt64(samples.count), 4)
        for s in samples {
            put(UInt64(s.sample), 4)
            put(UInt64(s.layers.count), 4)
            for (name, l) in s.layers.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                let utf8 = Array(name.utf8.prefix(Int(UInt16.max)))
                put(UInt64(utf8.count), 2)
                out += utf8
                put(l.sums.count == 2 ? 1 : 0, 1)
                if l.sums.count == 2 { put(l.sums[0], 8); put(l.sums[1], 8) }
                put(UInt64(l.shift.count), 4)
                out.reserveCapacity(out.count + 8 * l.shift.count + 8)
                for v in l.shift { put(v, 8) }
                put(UInt64(l.pixels), 8)
            }
        }
        return out
    }

    /// Parses a worker's binary form; a truncated or malformed one is an error naming the problem.
    public static func decode(_ bytes: [UInt8]) throws -> [WeightEffectSample] {
        var reader = LittleEndianReader(bytes)
        func fail(_ why: String) -> PipelineError { .badOption("malformed weight-effect sums: \(why)") }
        func get(_ n: Int) throws -> UInt64 {
            guard let v = reader.read(n) else { throw fail("truncated at byte \(reader.position)") }
            return v
        }
        guard bytes.count >= 8, Array(bytes[0..<4]) == magic else { throw fail("not a weight-effect payload") }
        reader.position = 4
        let count = Int(try get(4))
        // Every sample takes at least 8 bytes: a count cannot promise more than the payload holds.
        guard count <= reader.remaining / 8 else { throw fail("\(count) samples cannot fit in \(bytes.count) bytes") }
        var out: [WeightEffectSample] = []
        for _ in 0..<count {
            var s = WeightEffectSample(sample: Int(try get(4)), layers: [:])
            let layers = Int(try get(4))
            guard layers <= reader.remaining / 15 else { throw fail("\(layers) layers cannot fit in the payload") }
            for _ in 0..<layers {
                let n = Int(try get(2))
                guard let utf8 = reader.take(n), let name = String(validating: utf8, as: UTF8.self) else { throw fail("a layer name") }
                let flag = try get(1)
                guard flag <= 1 else { throw fail("sums flag \(flag) of '\(name)'") }
                let sums = flag == 1 ? [try get(8), try get(8)] : []
                let channels = Int(try get(4))
                guard channels <= reader.remaining / 8 else { throw fail("\(channels) channels of '\(name)' cannot fit in the payload") }
                var shift = [UInt64](repeating: 0, count: channels)
                for c in 0..<channels { shift[c] = try get(8) }
                let pixels = try get(8)
                // A sample's output pixels are far below 2⁴⁰, so sums over samples cannot overflow.
                guard pixels < 1 << 40, s.layers[name] == nil else { throw fail("layer '\(name)' of sample \(s.sample)") }
                s.layers[name] = Layer(sums: sums, shift: shift, pixels: Int(pixels))
            }
            out.append(s)
        }
        guard reader.remaining == 0 else { throw fail("\(reader.remaining) bytes after the last sample") }
        return out
    }
}

/// Measures `WeightEffectSample`s of one graph: the FP32 model with every tensor captured, and
/// per convolution a kernel with its FP32 weights and one with its quantized weights, run on the
/// captured FP32 input. Compiled once (kernels per input shape are cached).
public final class WeightEffectMeter: @unchecked Sendable {
    /// One kernel pair (float weights, quantized weights) per convolution, per input shape.
    struct Layer { let name: String; let input: String; let exact: Conv2DKernel; let quantized: Conv2DKernel }
    let graph: Graph
    let run: ModelRun
    let isa: ISA
    /// Weights quantized once per convolution (the same whatever the input shape), dequantized.
    let fakeWeights: [String: [Float]]
    /// The convolutions' inputs: the tensors a sample's run captures.
    let inputs: Set<String>
    private var layersByShape: [[String: Shape]: [Layer]] = [:]
    private let lock = NSLock()

    public init(_ graph: Graph, options: QuantizeOptions, plan: PlanOptions,
                chosen: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]) throws {
        var opts = plan
        opts.fuse = false
        opts.threads = 1
        run = try ModelRun(graph: graph, options: opts)
        self.graph = graph
        isa = plan.isa
        var fake: [String: [Float]] = [:]
        for node in graph.nodes {
            guard case .conv = node.op, let w = graph.initializers[node.inputs[1]], let wf = w.floats, w.shape.rank >= 1, w.shape[0] > 0 else { continue }
            let (q, s) = chosen["\(node.inputs[1])@0"].map { ($0.codes, $0.scales) }
                ?? WeightQuantizer.quantize(wf, shape: w.shape, axis: 0, perChannel: options.perChannelWeights,
                                            qmax: options.weightMax, clipping: options.weightClipping)
            let per = wf.count / w.shape[0]
            fake[node.name] = q.enumerated().map { Float($1) * s[s.count == 1 ? 0 : $0 / per] }
        }
        fakeWeights = fake
        inputs = Set(graph.nodes.filter { fake[$0.name] != nil }.map { $0.inputs[0] })
    }

    func layers(for inputShapes: [String: Shape]) throws -> [Layer] {
        lock.lock()
        let cached = layersByShape[inputShapes]
        lock.unlock()
        if let cached { return cached }
        let shapes = try SpecializeShapes.apply(graph, inputShapes: inputShapes).shapes
        var layers: [Layer] = []
        for node in graph.nodes {
            guard let fake = fakeWeights[node.name], let w = graph.initializers[node.inputs[1]], let wf = w.floats,
                  let x = shapes[node.inputs[0]], let y = shapes[node.outputs[0]] else { continue }
            let geometry = try ConvLowering(node, input: x, output: y, weightShape: w.shape).geometry
            layers.append(Layer(name: node.name, input: node.inputs[0],
                                exact: Conv2DKernel(geometry: geometry, weights: wf, bias: nil, isa: isa),
                                quantized: Conv2DKernel(geometry: geometry, weights: fake, bias: nil, isa: isa)))
        }
        lock.lock(); layersByShape[inputShapes] = layers; lock.unlock()
        return layers
    }

    /// The sums of row `i` of `data`.
    public func measure(_ data: any Dataset, sample i: Int) throws -> WeightEffectSample {
        var out = WeightEffectSample(sample: i, layers: [:])
        guard let (_, input) = try run.inputBatches(data, i..<(i + 1)).first else { return out }
        let capture = TensorCapture(watching: inputs)
        _ = try run.run(input, observer: capture)
        for l in try layers(for: input.mapValues(\.shape)) {
            guard let x = capture.values[l.input] else { continue }
            let n = l.exact.geometry.outPixels * l.exact.geometry.outPixelStride
            var a = [Float](repeating: 0, count: n), b = a
            let scratch = AlignedBuffer(count: l.exact.scratchCount)
            x.withUnsafeBufferPointer { xp in
                a.withUnsafeMutableBufferPointer { l.exact.run(input: xp.baseAddress!, output: $0.baseAddress!, pixels: 0..<l.exact.geometry.outPixels, scratch: scratch.pointer) }
                b.withUnsafeMutableBufferPointer { l.quantized.run(input: xp.baseAddress!, output: $0.baseAddress!, pixels: 0..<l.quantized.geometry.outPixels, scratch: scratch.pointer) }
            }
            let stride = l.exact.geometry.outPixelStride
            var shift = [Double](repeating: 0, count: stride)
            var s = 0.0, e = 0.0, seen = false, c = 0
            for (u, v) in zip(a, b) {
                if u.isFinite && v.isFinite {
                    s += Double(u) * Double(u)
                    e += Double(u - v) * Double(u - v)
                    shift[c] += Double(u) - Double(v)
                    seen = true
                }
                c += 1
                if c == stride { c = 0 }
            }
            out.layers[l.name] = .init(sums: seen ? [s.bitPattern, e.bitPattern] : [], shift: shift.map(\.bitPattern),
                                       pixels: l.exact.geometry.outPixels)
        }
        return out
    }
}

/// `weightQuantizationEffects` from every sample's `WeightEffectSample`, added in sample order.
public struct WeightEffects: Sendable {
    /// Measures rows `rows` of `data` in this process (`chosen`: see `weightQuantizationEffects`).
    public static func measure(_ graph: Graph, data: any Dataset, rows: Range<Int>, options: QuantizeOptions, plan: PlanOptions,
                               chosen: [String: InsertQuantizeDequantize.QuantizedWeight] = [:]) throws -> WeightEffects {
        guard !rows.isEmpty else { return WeightEffects([]) }
        let meter = try WeightEffectMeter(graph, options: options, plan: plan, chosen: chosen)
        return WeightEffects(try rows.map { try meter.measure(data, sample: $0) })
    }

    /// Per convolution: output SQNR (dB) of its quantized weights.
    public var sensitivity: [String: Double] = [:]
    /// Per convolution: the mean output shift per channel (the bias correction).
    public var biasCorrection: [String: [Float]] = [:]
    /// Per convolution: its output pixels over the samples measured.
    public var outputPixels: [String: Int] = [:]

    /// Per convolution of `graph` measured here: its multiply-adds over the samples (output pixels
    /// times weights), the cost `sensitiveLayers` budgets.
    public func multiplyAdds(_ graph: Graph) -> [String: Int] {
        var macs: [String: Int] = [:]
        for node in graph.nodes {
            guard let pixels = outputPixels[node.name], node.inputs.count > 1,
                  let w = graph.initializers[node.inputs[1]] else { continue }
            let (product, overflow) = pixels.multipliedReportingOverflow(by: w.shape.elementCount)
            macs[node.name] = overflow ? Int.max : product
        }
        return macs
    }

    /// Sums `samples` (sorted here by sample, so any split or arrival order gives the same result).
    public init(_ samples: [WeightEffectSample]) {
        var signal: [String: Double] = [:], noise: [String: Double] = [:]
        var shift: [String: [Double]] = [:], pixels: [String: Int] = [:]
        for s in samples.sorted(by: { $0.sample < $1.sample }) {
            for (name, l) in s.layers {
                if l.sums.count == 2 {
                    signal[name, default: 0] += Double(bitPattern: l.sums[0])
                    noise[name, default: 0] += Double(bitPattern: l.sums[1])
                }
                var total = shift[name] ?? Array(repeating: 0, count: l.shift.count)
                guard total.count == l.shift.count else { continue }
                for c in total.indices { total[c] += Double(bitPattern: l.shift[c]) }
                shift[name] = total
                pixels[name, default: 0] += l.pixels
            }
        }
        outputPixels = pixels
        for (k, s) in signal { sensitivity[k] = (noise[k] ?? 0) == 0 ? 200 : 10 * log10(s / noise[k]!) }
        for (k, sums) in shift {
            let n = Float(max(pixels[k] ?? 1, 1))
            biasCorrection[k] = sums.map { Float($0) / n }
        }
    }
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
