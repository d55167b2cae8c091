import Dispatch
import Foundation
import OctetCore
import OctetData
import OctetIR
import OctetRuntime

/// FP32 vs INT8 on the same samples: accuracy of each, top-1 agreement, logits SQNR.
public struct EvalReport: Codable, Sendable {
    public var images: Int
    public var labeled: Int
    public var fp32Top1: Double?
    public var int8Top1: Double?
    /// Fraction of samples whose INT8 top-1 class equals the FP32 one.
    public var agreement: Double
    /// 10·log10(Σ fp32² / Σ (fp32 − int8)²) over all logits.
    public var sqnrDB: Double
    /// Σ fp32·int8 / √(Σ fp32² · Σ int8²) over all logits (1 when both are zero).
    public var cosine: Double
    /// The largest |fp32 − int8| of any logit.
    public var maxAbsError: Double
    public var int8ImagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case images, labeled, agreement
        case fp32Top1 = "fp32_top1", int8Top1 = "int8_top1", sqnrDB = "sqnr_db", int8ImagesPerSecond = "int8_images_per_second"
        case cosine, maxAbsError = "max_abs_error"
    }
}

/// Runs both models over `data` in batches.
public func evaluate(fp32: Graph, int8: Graph, data: any Dataset, batch: Int, options: PlanOptions,
                     progress: ProgressHandler? = nil) throws -> EvalReport {
    try evaluateWithLogits(fp32: fp32, int8: int8, data: data, batch: batch, options: options, progress: progress).report
}

/// `evaluate`, also returning the INT8 logits of every sample in order.
public func evaluateWithLogits(fp32: Graph, int8: Graph, data: any Dataset, batch: Int, options: PlanOptions,
                               progress: ProgressHandler? = nil) throws -> (report: EvalReport, int8Logits: [Float]) {
    var allLogits: [Float] = []
    let reference = try ClassificationRun(graph: try ModelLoader.optimize(fp32), options: options)
    let session = try deployQDQ(int8, threads: options.threads)
    var agree = 0, fp32Correct = 0, int8Correct = 0, labeled = 0
    var signal = 0.0, noise = 0.0, int8Seconds = 0.0, dot = 0.0, int8Energy = 0.0, maxAbs = 0.0
    var start = 0
    while start < data.count {
        let range = start..<min(start + batch, data.count)
        let input = try reference.loadBatch(data, range, threads: options.threads)
        guard let a = try reference.plan.run([reference.inputName: input])[reference.outputName]?.floats else { throw PipelineError.notAnImageModel([]) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        guard let b = try session.run(input).floats else { throw PipelineError.notAnImageModel([]) }
        int8Seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        allLogits += b
        let classes = a.count / range.count
        for (k, i) in range.enumerated() {
            let ra = Array(a[(k * classes)..<((k + 1) * classes)]), rb = Array(b[(k * classes)..<((k + 1) * classes)])
            let ta = TopK.indices(ra, k: 1).first, tb = TopK.indices(rb, k: 1).first
            if ta == tb { agree += 1 }
            for (x, y) in zip(ra, rb) {
                let (dx, dy) = (Double(x), Double(y))
                signal += dx * dx; noise += (dx - dy) * (dx - dy)
                dot += dx * dy; int8Energy += dy * dy
                maxAbs = max(maxAbs, abs(dx - dy))
            }
            if let label = data.label(i) {
                labeled += 1
                if ta == label { fp32Correct += 1 }
                if tb == label { int8Correct += 1 }
            }
        }
        start = range.upperBound
        progress?(start, data.count)
    }
    let report = EvalReport(images: data.count, labeled: labeled,
                      fp32Top1: labeled > 0 ? Double(fp32Correct) / Double(labeled) : nil,
                      int8Top1: labeled > 0 ? Double(int8Correct) / Double(labeled) : nil,
                      agreement: Double(agree) / Double(max(data.count, 1)),
                      sqnrDB: noise == 0 ? 200 : 10 * log10(signal / noise),
                      cosine: signal == 0 && int8Energy == 0 ? 1 : dot / max((signal * int8Energy).squareRoot(), .leastNormalMagnitude),
                      maxAbsError: maxAbs,
                      int8ImagesPerSecond: Double(data.count) / max(int8Seconds, 1e-9))
    return (report, allLogits)
}

/// Per quantized tensor: SQNR of the INT8 model's value against the FP32 model's, over a few
/// samples (errors accumulate through the network, unlike the per-tensor histogram estimate).
public func perLayerSQNR(_ q: QuantizedModel, data: any Dataset, samples: Int, options: PlanOptions) throws -> [String: Double] {
    var opts = options
    opts.fuse = false
    opts.threads = 1
    let run = try ClassificationRun(graph: q.fp32, options: opts)
    let int8 = try Int8Plan(graph: q.qdq, fuseResidualAdds: false)  // every quantized tensor kept
    final class Capture: TensorObserver, @unchecked Sendable {
        var values: [String: [Float]] = [:]
        func observe(_ t: ObservedTensor, worker: Int) { values[t.name] = Array(t.values) }
    }
    var signal: [String: Double] = [:], noise: [String: Double] = [:]
    for i in 0..<min(samples, data.count) {
        let input = try run.loadBatch(data, i..<(i + 1), threads: 1)
        let capture = Capture()
        _ = try run.plan.run([run.inputName: input], observer: capture)
        let quantized = try int8.dequantizedIntermediates([run.inputName: input])
        for e in q.table.entries {
            guard let a = capture.values[e.tensor], let b = quantized[e.tensor + "_quantized"], a.count == b.count else { continue }
            for (x, y) in zip(a, b) where x.isFinite {
                signal[e.tensor, default: 0] += Double(x) * Double(x)
                noise[e.tensor, default: 0] += Double(x - y) * Double(x - y)
            }
        }
    }
    return signal.mapValues { _ in 0 }.reduce(into: [:]) { out, kv in
        let s = signal[kv.key] ?? 0, n = noise[kv.key] ?? 0
        out[kv.key] = n == 0 ? 200 : (s == 0 ? 0 : 10 * log10(s / n))
    }
}
