import Dispatch
import Foundation
import OctetCalibration
import OctetCore
import OctetIR
import OctetKernels
import OctetPipeline
import OctetRuntime

/// Runs one task on a worker: calibration histograms, verification or inference. Models are
/// read from the worker's blob cache and compiled once per content hash; the last few compiled
/// models are kept (`modelsKept`), older ones dropped.
public final class TaskExecutor: @unchecked Sendable {
    let cache: BlobStore
    let threads: Int
    /// INT8 kernel path for inference (nil: best).
    let isa: ISA
    /// Compiled models kept per kind (FP32 graphs, INT8 sessions).
    static let modelsKept = 4
    private var graphs = RecentlyUsedCache<Graph>(capacity: modelsKept)
    private var sessions = RecentlyUsedCache<InferenceSession>(capacity: modelsKept)

    public init(cache: BlobStore, threads: Int, isa: ISA) {
        self.cache = cache
        self.threads = threads
        self.isa = isa
    }

    /// Errors that another worker could avoid (this CPU lacks the pinned path) are transient;
    /// anything about the model or data is permanent and fails the job with its message.
    public static func isPermanent(_ error: any Error) -> Bool {
        if case KernelError.unsupportedISA = error { return false }
        return true
    }

    public func run(_ a: Octet_Wire_TaskAssignment, workerID: String) throws -> Octet_Wire_TaskResult {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let spec = try JobSpec.parse(a.jobSpecJson)
        let data = try spec.dataset.open(blobPath: cache.path)
        let range = Int(a.start)..<Int(a.end)
        guard range.lowerBound <= range.upperBound, range.upperBound <= data.count else {
            throw JobFailure("samples \(range) are outside the dataset's \(data.count)")
        }
        var r = Octet_Wire_TaskResult()
        r.jobID = a.jobID
        r.task = a.task
        r.attempt = a.attempt
        r.workerID = workerID
        switch a.kind {
        case .calibrationShard:
            let options = PlanOptions(isa: try ISA.named(a.isa), threads: threads, fuse: false)
            let h = try collectHistograms(try observedGraph(a.modelHash, spec: spec, data: data, options: options), data: data, range: range,
                                          watched: Set(a.watched), options: options, batch: 16)
            r.histograms = Compression.pack(HistogramSet.encode(h))
        case .verification:
            let run = try ClassificationRun(graph: try fp32Graph(a.modelHash), options: PlanOptions(isa: try ISA.named(a.isa), threads: threads))
            let session = try int8Session(a.int8ModelHash)
            r.predictions = try predict(data: data, range: range, batch: 16, loader: run, timing: &r) { input in
                let fp32 = try run.plan.run([run.inputName: input])[run.outputName]?.floats ?? []
                return (try session.run(input).floats ?? [], fp32)
            }
        case .inference:
            let session = try int8Session(a.modelHash)
            r.predictions = try predict(data: data, range: range, batch: range.count, chw: session.chw, timing: &r) { input in
                (try session.run(input).floats ?? [], nil)
            }
        default:
            throw JobFailure("unknown task kind \(a.kind)")
        }
        r.images = UInt32(range.count)
        r.seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return r
    }

    /// The graph a calibration job histograms (`calibrationGraph`: cross-layer equalized when the
    /// job asks, which depends on the job's first samples), cached per model and job spec.
    func observedGraph(_ hash: String, spec: JobSpec, data: any Dataset, options: PlanOptions) throws -> Graph {
        guard let calibration = spec.calibration, calibration.equalize else { return try fp32Graph(hash) }
        let key = hash + "#equalized#" + ContentHash.sha256(Array(spec.json().utf8))
        if let g = graphs.value(for: key) { return g }
        let g = try calibrationGraph(try fp32Graph(hash), data: data, config: try calibration.quantConfig(plan: options)).graph
        graphs.insert(g, for: key)
        return g
    }

    func fp32Graph(_ hash: String) throws -> Graph {
        if let g = graphs.value(for: hash) { return g }
        let g = try ModelLoader.load(path: cache.path(hash))
        graphs.insert(g, for: hash)
        return g
    }

    func int8Session(_ hash: String) throws -> InferenceSession {
        if let s = sessions.value(for: hash) { return s }
        let s = try deployQDQ(try ModelLoader.loadQDQ(path: cache.path(hash)), threads: threads, isa: isa)
        sessions.insert(s, for: hash)
        return s
    }

    /// Top-5 classes and softmax scores of `logits` for each sample of `range`, in batches; the
    /// time spent loading samples and running the model is added to `timing`.
    func predict(data: any Dataset, range: Range<Int>, batch: Int, loader: ClassificationRun? = nil, chw: [Int]? = nil,
                 timing: inout Octet_Wire_TaskResult,
                 _ infer: (Tensor) throws -> (logits: [Float], fp32: [Float]?)) throws -> [Octet_Wire_Prediction] {
        var out: [Octet_Wire_Prediction] = []
        var start = range.lowerBound
        while start < range.upperBound {
            let r = start..<min(start + max(batch, 1), range.upperBound)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let input: Tensor
            if let loader { input = try loader.loadBatch(data, r, threads: threads) }
            else { input = try ClassificationRun.loadBatch(data, r, chw: chw ?? [], threads: threads) }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let (logits, fp32) = try infer(input)
            timing.decodeSeconds += Double(t1 - t0) / 1e9
            timing.computeSeconds += Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
            let classes = logits.count / max(r.count, 1)
            guard classes > 0, logits.count == classes * r.count else { throw JobFailure("model output has \(logits.count) values for \(r.count) samples") }
            for (k, i) in r.enumerated() {
                let row = Array(logits[(k * classes)..<((k + 1) * classes)])
                var p = Octet_Wire_Prediction()
                p.index = UInt32(i)
                p.name = data.name(i)
                if let label = data.label(i) { p.label = Int32(clamping: label) }
                let top = TopK.indices(row, k: min(5, classes))
                let m = row.max() ?? 0
                let z = row.reduce(0.0) { $0 + exp(Double($1 - m)) }
                p.classes = top.map { UInt32($0) }
                p.scores = top.map { Float(exp(Double(row[$0] - m)) / z) }
                if let fp32 {
                    let ref = Array(fp32[(k * classes)..<((k + 1) * classes)])
                    p.fp32Top1 = Int32(TopK.indices(ref, k: 1).first ?? -1)
                }
                out.append(p)
            }
            start = r.upperBound
        }
        return out
    }
}
