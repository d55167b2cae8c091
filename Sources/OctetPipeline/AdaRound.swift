import Dispatch
import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetKernels
import OctetPasses
import OctetRuntime

/// How each convolution's and dense layer's weights are rounded to codes once their scales are chosen.
public enum WeightRounding: String, Codable, Sendable, CaseIterable {
    /// Each weight to its nearest code (round half to even): no data needed.
    case nearest
    /// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training
    /// Quantization"): each weight rounds up or down as minimizes the layer's output error on the
    /// statistics samples' FP32 inputs, which can differ from the nearest code where rounding
    /// errors of one output's weights cancel.
    case adaround
}

/// AdaRound's optimization: AIMET's defaults for the regularization, the β schedule and the warm
/// start; 1000 Adam iterations (AMD Quark's default; AIMET runs 10,000) at learning rate 0.01.
public struct AdaRoundSettings: Sendable, Hashable {
    public var iterations = 1000
    /// Calibration samples whose FP32 inputs define each layer's output error.
    public var samples = 32
    /// λ of the rounding regularizer Σ 1 − |2h − 1|^β.
    public var regularization: Float = 0.01
    public var learningRate: Float = 0.01
    /// The first fraction of the iterations run without the regularizer.
    public var warmStart: Float = 0.2
    /// β decays from the first to the second on a cosine after the warm start.
    public var betaStart: Float = 20, betaEnd: Float = 2

    public init() {}
}

/// The convolutions whose weights a calibration may choose freely: float weights of their own
/// (a weight tensor that other nodes share keeps the default ranges and rounding).
func convolutionsWithOwnWeights(_ graph: Graph) -> [Node] {
    let readers = graph.consumers
    return graph.nodes.filter { node in
        guard case .conv = node.op, node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], w.floats != nil,
              w.shape.rank >= 2, w.shape[0] > 0 else { return false }
        return readers[node.inputs[1]]?.count == 1
    }
}

/// The layers whose weight rounding a calibration may choose: `convolutionsWithOwnWeights` and
/// the dense layers (Gemm with a constant B of its own, A not transposed: a classifier's fully
/// connected layers), in graph order. The cluster splits this list (`weightChoiceGroups`).
func layersWithOwnWeights(_ graph: Graph) -> [Node] {
    let convs = Set(convolutionsWithOwnWeights(graph).map(\.name))
    let readers = graph.consumers
    return graph.nodes.filter { node in
        if convs.contains(node.name) { return true }
        guard case .gemm(let a) = node.op, !a.transA, node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], w.floats != nil,
              w.shape.rank == 2, w.shape[0] > 0, w.shape[1] > 0 else { return false }
        return readers[node.inputs[1]]?.count == 1
    }
}

/// A layer's weights with output channels first, as AdaRound and the convolutions' scales take
/// them: a convolution's as stored (OIHW), a Gemm's B as [N, K] (transposed when `transB` is
/// false). `storageOrder` maps per-weight values back.
struct OutputMajorWeights {
    var values: [Float]
    var shape: Shape
    /// Rows and columns of a Gemm's stored B [K, N] to transpose back; nil when stored as is.
    var stored: (rows: Int, columns: Int)?

    init?(_ node: Node, _ graph: Graph) {
        guard node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], let wf = w.floats else { return nil }
        switch node.op {
        case .conv:
            (values, shape, stored) = (wf, w.shape, nil)
        case .gemm(let a) where w.shape.rank == 2:
            let (k, n) = a.transB ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
            (values, shape) = (a.transB ? wf : transposed(wf, rows: k, columns: n), Shape([n, k]))
            stored = a.transB ? nil : (k, n)
        default:
            return nil
        }
    }

    /// Per-weight values (rounding flags, codes) of `values`' order in the stored tensor's order.
    func storageOrder<T>(_ v: [T]) -> [T] {
        guard let stored else { return v }
        return transposed(v, rows: stored.columns, columns: stored.rows)
    }

    /// The inverse of `storageOrder`: per-weight values in the stored order, output channels first.
    static func outputMajor<T>(_ v: [T], _ w: OutputMajorWeights) -> [T] {
        guard let stored = w.stored else { return v }
        return transposed(v, rows: stored.rows, columns: stored.columns)
    }
}

/// `v` as a rows × columns row-major matrix, transposed.
func transposed<T>(_ v: [T], rows: Int, columns: Int) -> [T] {
    guard rows * columns == v.count, let first = v.first else { return v }
    var out = [T](repeating: first, count: v.count)
    for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = v[r * columns + c] } }
    return out
}

/// Per convolution (by node name), AdaRound's rounding direction of every weight (OIHW order,
/// true = up: code floor(w/scale) + 1, then clamped to ±qmax), at the scales the calibration
/// uses (`weightScales` where given, else `WeightQuantizer`'s default ranges).
///
/// The layer's output error ‖(W̃ − W)·X‖² over the first `samples` rows' FP32 input patches X
/// is a quadratic form in W̃ with the inputs' second moments H = X·Xᵀ (one K×K matrix per group,
/// K = input channels per group × kernel area), accumulated once; each of the settings'
/// iterations then costs one product (W̃ − W)·H, run as a grouped 1×1 convolution on the FP32
/// kernels. Each weight's soft rounding h(V) = clamp(1.2·σ(V) − 0.1, 0, 1) starts at its
/// fractional part, Adam minimizes the error plus λ·Σ 1 − |2h − 1|^β, and V ≥ 0 rounds up.
///
/// Deterministic for a kernel path: the moments sum in sample and pixel order, each layer is
/// optimized alone (layers are spread over `plan.threads`, which changes nothing), and
/// non-finite inputs are skipped with their whole patch.
///
/// `layers`, when given, limits the work to those convolutions (a cluster task's share,
/// `weightChoiceGroups`); each layer's result is the same as in the whole run.
public func adaRoundedWeights(_ graph: Graph, data: any Dataset, samples: Int, options: QuantizeOptions, plan: PlanOptions,
                              weightScales: [String: [Float]] = [:], settings: AdaRoundSettings = AdaRoundSettings(),
                              layers: Set<String>? = nil) throws -> [String: [Bool]] {
    let convs = adaRoundConvolutions(graph).filter { layers?.contains($0.name) ?? true }
    guard !convs.isEmpty, settings.iterations > 0 else { return [:] }
    let moments = try inputSecondMoments(graph, convs: convs, data: data, samples: samples, plan: plan)
    // The largest problems first, so the threads finish together.
    let work = convs.compactMap { node -> (Node, LayerMoments)? in moments[node.name].map { (node, $0) } }
        .sorted { ($0.1.cost, $1.0.name) > ($1.1.cost, $0.0.name) }
    let results = parallelMap(work.count, threads: plan.threads) { i -> [Bool]? in
        let (node, m) = work[i]
        guard let w = OutputMajorWeights(node, graph),
              let scales = convolutionScales(w.values, shape: w.shape, given: weightScales[node.name], options: options) else { return nil }
        let up = adaRound(weights: w.values, scales: scales, moments: m, qmax: options.weightMax, isa: plan.isa, settings: settings)
        return w.storageOrder(up)
    }
    var out: [String: [Bool]] = [:]
    for (i, (node, _)) in work.enumerated() { if let up = results[i], !up.isEmpty { out[node.name] = up } }
    return out
}

/// The layers AdaRound optimizes: convolutions and dense layers with weights of their own
/// (`layersWithOwnWeights`), all finite.
func adaRoundConvolutions(_ graph: Graph) -> [Node] {
    layersWithOwnWeights(graph).filter { node in graph.initializers[node.inputs[1]]?.floats?.allSatisfy(\.isFinite) == true }
}

/// The layers whose weights a calibration may choose (`layersWithOwnWeights`: the convolutions'
/// ranges on the outputs, every such layer's AdaRound rounding), in at most `count` groups of about equal work (each
/// layer in turn, largest first by output channels × K², to the group with the least so far;
/// ties by name and group order): a cluster task's share each. A function of the graph alone, so
/// every machine splits it alike.
public func weightChoiceGroups(_ graph: Graph, count: Int) -> [[String]] {
    let layers = layersWithOwnWeights(graph).compactMap { node -> (String, Int)? in
        guard let w = OutputMajorWeights(node, graph) else { return nil }
        let k = w.shape.dims.dropFirst().reduce(1, *)
        return (node.name, w.shape[0] * k * k)
    }.sorted { ($0.1, $1.0) > ($1.1, $0.0) }
    var groups = [[String]](repeating: [], count: max(1, min(count, layers.count)))
    var load = [Int](repeating: 0, count: groups.count)
    for (name, cost) in layers {
        let g = load.indices.min { (load[$0], $0) < (load[$1], $1) } ?? 0
        groups[g].append(name)
        load[g] += cost
    }
    return groups.filter { !$0.isEmpty }
}

/// One convolution's input second moments: per group g the K×K matrix Σ x·xᵀ over every
/// output pixel's input patch x (K = input channels per group × kernel area, in the weights'
/// [channel][ky][kx] order), and the number of patches. A reference, so that each layer's sums
/// are updated by one thread in place.
final class LayerMoments: @unchecked Sendable {
    let groups: Int, outPerGroup: Int, k: Int
    var h: [Float]
    var patches = 0
    /// Multiply-adds of one optimization step.
    var cost: Int { groups * outPerGroup * k * k }

    init(groups: Int, outPerGroup: Int, k: Int) {
        self.groups = groups
        self.outPerGroup = outPerGroup
        self.k = k
        h = [Float](repeating: 0, count: groups * k * k)
    }
}

/// The second moments (`LayerMoments`) of each convolution's FP32 input over the first
/// `samples` rows, one row at a time in order.
func inputSecondMoments(_ graph: Graph, convs: [Node], data: any Dataset, samples: Int, plan: PlanOptions) throws -> [String: LayerMoments] {
    var opts = plan
    opts.fuse = false
    opts.threads = 1
    let run = try ModelRun(graph: graph, options: opts)
    final class Capture: TensorObserver, @unchecked Sendable {
        let watched: Set<String>
        var values: [String: (values: [Float], layout: PhysicalLayout)] = [:]
        init(_ watched: Set<String>) { self.watched = watched }
        func observe(_ t: ObservedTensor, worker: Int) { if watched.contains(t.name) { values[t.name] = (Array(t.values), t.layout) } }
    }
    var moments: [String: LayerMoments] = [:]
    for node in convs {
        if case .gemm = node.op, let w = OutputMajorWeights(node, graph) {
            moments[node.name] = LayerMoments(groups: 1, outPerGroup: w.shape[0], k: w.shape[1])
            continue
        }
        guard case .conv(_, let group) = node.op, let w = graph.initializers[node.inputs[1]], w.shape.rank == 4, group >= 1,
              w.shape[0] % group == 0 else { continue }
        let k = w.shape[1] * w.shape[2] * w.shape[3]
        moments[node.name] = LayerMoments(groups: group, outPerGroup: w.shape[0] / group, k: k)
    }
    var geometries: [[String: Shape]: [String: ConvGeometry]] = [:]
    for i in 0..<min(samples, data.count) {
        guard let (_, input) = try run.inputBatches(data, i..<(i + 1)).first else { continue }
        let capture = Capture(Set(convs.map { $0.inputs[0] }))
        _ = try run.run(input, observer: capture)
        let key = input.mapValues(\.shape)
        if geometries[key] == nil {
            let shapes = try SpecializeShapes.apply(graph, inputShapes: key).shapes
            var byNode: [String: ConvGeometry] = [:]
            for node in convs {
                guard let w = graph.initializers[node.inputs[1]], let x = shapes[node.inputs[0]], let y = shapes[node.outputs[0]] else { continue }
                if case .gemm = node.op {
                    // A dense layer: each row of A [rows, K] is one patch of a 1×1 convolution.
                    guard let m = moments[node.name], x.rank == 2, x[1] == m.k else { continue }
                    byNode[node.name] = ConvGeometry(inHeight: x[0], inWidth: 1, inPixelStride: m.k, outHeight: x[0], outWidth: 1,
                                                     outPixelStride: m.outPerGroup, kernel: (1, 1), inChannelsPerGroup: m.k,
                                                     outChannelsPerGroup: m.outPerGroup)
                    continue
                }
                guard let lowering = try? ConvLowering(node, input: x, output: y, weightShape: w.shape) else { continue }
                byNode[node.name] = lowering.geometry
            }
            geometries[key] = byNode
        }
        // Each layer's sums on one thread: the same bits whatever the threads.
        let jobs = convs.compactMap { node -> (LayerMoments, ConvGeometry, [Float], Bool)? in
            guard let g = geometries[key]?[node.name], let m = moments[node.name], let x = capture.values[node.inputs[0]],
                  x.values.count == g.inHeight * g.inWidth * g.inPixelStride, m.k == g.inChannelsPerGroup * g.kernel.h * g.kernel.w,
                  m.groups == g.groups else { return nil }
            // A Gemm's A is row-major [rows, K]: the patch layout of NHWC pixels.
            let isGemm = if case .gemm = node.op { true } else { false }
            return (m, g, x.values, x.layout == .rowMajor && !isGemm)
        }
        _ = parallelMap(jobs.count, threads: plan.threads) { j -> Void? in
            let (m, g, x, nchw) = jobs[j]
            m.patches += accumulatePatchMoments(x, nchw: nchw, geometry: g, into: &m.h)
            return nil
        }
    }
    return moments.filter { $0.value.patches > 0 }
}

/// Adds x·xᵀ of every output pixel's input patch x to `h` (per group, upper triangle mirrored
/// at the end of each call); a pixel whose patch holds a NaN or infinity is skipped. Returns the
/// patches added.
private func accumulatePatchMoments(_ input: [Float], nchw: Bool, geometry g: ConvGeometry, into h: inout [Float]) -> Int {
    let kh = g.kernel.h, kw = g.kernel.w, cin = g.inChannelsPerGroup, k = cin * kh * kw, groups = g.groups
    let plane = g.inHeight * g.inWidth
    var patch = [Float](repeating: 0, count: groups * k)
    var added = 0
    var upper = [Float](repeating: 0, count: groups * k * k)
    input.withUnsafeBufferPointer { x in
        patch.withUnsafeMutableBufferPointer { p in
            upper.withUnsafeMutableBufferPointer { u in
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var finite = true
                        for gi in 0..<groups {
                            for c in 0..<cin {
                                let channel = gi * cin + c
                                for ky in 0..<kh {
                                    let iy = oy * g.stride.h - g.padTop + ky * g.dilation.h
                                    for kx in 0..<kw {
                                        let ix = ox * g.stride.w - g.padLeft + kx * g.dilation.w
                                        var v: Float = 0
                                        if iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth {
                                            v = nchw ? x[channel * plane + iy * g.inWidth + ix] : x[(iy * g.inWidth + ix) * g.inPixelStride + channel]
                                        }
                                        finite = finite && v.isFinite
                                        p[gi * k + (c * kh + ky) * kw + kx] = v
                                    }
                                }
                            }
                        }
                        guard finite else { continue }
                        added += 1
                        for gi in 0..<groups {
                            let pg = p.baseAddress! + gi * k, hg = u.baseAddress! + gi * k * k
                            for i in 0..<k {
                                let a = pg[i]
                                if a == 0 { continue }
                                let row = hg + i * k
                                for j in i..<k { row[j] += a * pg[j] }
                            }
                        }
                    }
                }
            }
        }
    }
    // This call's sums, mirrored, join the running total.
    for gi in 0..<groups {
        let base = gi * k * k
        for i in 0..<k {
            for j in i..<k {
                let v = upper[base + i * k + j]
                h[base + i * k + j] += v
                if j != i { h[base + j * k + i] += v }
            }
        }
    }
    return added
}

/// AdaRound of one convolution (see `adaRoundedWeights`): the rounding direction of each weight,
/// OIHW order.
func adaRound(weights w: [Float], scales: [Float], moments m: LayerMoments, qmax: Int, isa: ISA, settings: AdaRoundSettings) -> [Bool] {
    let groups = m.groups, cg = m.outPerGroup, k = m.k, n = groups * cg * k
    guard w.count == n, m.patches > 0, scales.count == 1 || scales.count == groups * cg else { return [] }
    // Working layout [row r of a group][group g][k]: a 1×1 grouped convolution of `cg` pixels
    // with H_g as each group's weights gives (W̃ − W)·H (H is symmetric).
    func oihw(_ i: Int) -> Int {
        let r = i / (groups * k), g = (i / k) % groups, j = i % k
        return (g * cg + r) * k + j
    }
    // Eleven arrays of n floats (zeroed) in one buffer: the hot loops run on raw pointers.
    let storage = AlignedBuffer(count: 11 * n)
    let base = storage.pointer
    let weight = base, scale = base + n, down = base + 2 * n, v = base + 3 * n, error = base + 4 * n
    let product = base + 5 * n, dhdv = base + 6 * n, adamM = base + 7 * n, adamV = base + 8 * n, h = base + 9 * n
    let sig = base + 10 * n
    for i in 0..<n {
        let o = oihw(i), s = scales[scales.count == 1 ? 0 : o / k]
        weight[i] = w[o]
        scale[i] = s
        let x = w[o] / s
        down[i] = x.rounded(.down)
        // h(V) = the fractional part: σ(V) = (frac + 0.1) / 1.2.
        let sigma = min(max((x - down[i] + 0.1) / 1.2, 1e-6), 1 - 1e-6)
        v[i] = DeterministicMath.log(sigma / (1 - sigma))
    }
    let gemm = Conv2DKernel(geometry: ConvGeometry(inHeight: 1, inWidth: cg, inPixelStride: groups * k, outHeight: 1, outWidth: cg,
                                                   outPixelStride: groups * k, kernel: (1, 1), groups: groups,
                                                   inChannelsPerGroup: k, outChannelsPerGroup: k),
                            weights: m.h, bias: nil, isa: isa)
    let scratch = AlignedBuffer(count: max(gemm.scratchCount, 1))
    let zeta: Float = 1.1, gamma: Float = -0.1, lo = -Float(qmax), hi = Float(qmax)
    let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
    let reconScale = 2 / Float(m.patches), lambda = settings.regularization
    let warm = Int((Float(settings.iterations) * settings.warmStart).rounded(.down))
    // σ on the kernel path's sigmoid (bit-identical on every path), so no libm variant that
    // differs between CPUs decides a rounding.
    let sigmoid = ActivationKernel(.sigmoid, isa: isa)
    var b1t: Float = 1, b2t: Float = 1
    for t in 0..<settings.iterations {
        let regularized = t >= warm
        let progress = Double(t - warm) / Double(max(settings.iterations - warm, 1))
        let beta = settings.betaEnd + 0.5 * (settings.betaStart - settings.betaEnd) * Float(1 + DeterministicMath.cos(Double.pi * progress))
        sigmoid.run(v, sig, count: n)
        for i in 0..<n {
            let sigma = sig[i]
            let raw = sigma * (zeta - gamma) + gamma
            let hi01 = min(max(raw, 0), 1)
            let soft = down[i] + hi01
            error[i] = scale[i] * min(max(soft, lo), hi) - weight[i]
            // Gradients are zero where h or the code is clamped.
            dhdv[i] = raw > 0 && raw < 1 && soft >= lo && soft <= hi ? (zeta - gamma) * sigma * (1 - sigma) : 0
            h[i] = hi01
        }
        gemm.run(input: error, output: product, pixels: 0..<cg, scratch: scratch.pointer)
        b1t *= b1; b2t *= b2
        let rate = settings.learningRate * (1 - b2t).squareRoot() / (1 - b1t)
        for i in 0..<n {
            var grad = reconScale * product[i] * scale[i]
            if regularized, dhdv[i] != 0 {
                // d/dh of λ·(1 − |2h − 1|^β) where h is not clamped.
                let a = 2 * h[i] - 1
                if a != 0 { grad -= lambda * 2 * beta * DeterministicMath.pow(abs(a), beta - 1) * (a > 0 ? 1 : -1) }
            }
            grad *= dhdv[i]
            guard grad.isFinite else { continue }
            adamM[i] = b1 * adamM[i] + (1 - b1) * grad
            adamV[i] = b2 * adamV[i] + (1 - b2) * grad * grad
            v[i] -= rate * adamM[i] / (adamV[i].squareRoot() + eps)
        }
    }
    var up = [Bool](repeating: false, count: n)
    for i in 0..<n { up[oihw(i)] = v[i] >= 0 }
    return up
}
