import Dispatch
import Foundation
import OctetCalibration
import OctetCore
import OctetIR
import OctetKernels
import OctetPipeline
import OctetRuntime

/// An inference task's samples read and preprocessed ahead of its computation.
public struct PreparedInput: Sendable {
    /// The task it was prepared for (job, task, attempt).
    let key: String
    let input: Result<Tensor, TaskError>
    let seconds: Double
}

/// Runs one task on a worker: calibration histograms, the calibration report's sums, verification or inference. Models are
/// read from the worker's blob cache and compiled once per content hash; the last few compiled
/// models and opened datasets are kept (`modelsKept`), older ones dropped. `prepare` (the next
/// task's images) and `run` (the current task) may run at once on two threads.
public final class TaskExecutor: @unchecked Sendable {
    let cache: BlobStore
    let threads: Int
    /// INT8 kernel path for inference (nil: best).
    let isa: ISA
    /// Compiled models kept per kind (FP32 graphs, INT8 sessions).
    static let modelsKept = 4
    private var graphs = RecentlyUsedCache<Graph>(capacity: modelsKept)
    private var sessions = RecentlyUsedCache<InferenceSession>(capacity: modelsKept)
    private var datasets = RecentlyUsedCache<any Dataset>(capacity: modelsKept)
    private var runs = RecentlyUsedCache<ModelRun>(capacity: modelsKept)
    private var meters = RecentlyUsedCache<ReportMeter>(capacity: modelsKept)
    private var effectMeters = RecentlyUsedCache<WeightEffectMeter>(capacity: modelsKept)
    /// Guards the caches (and a model's compilation, done once).
    private let lock = NSLock()

    public init(cache: BlobStore, threads: Int, isa: ISA) {
        self.cache = cache
        self.threads = threads
        self.isa = isa
    }

    /// Errors that another worker could avoid (this CPU lacks the pinned path) are transient;
    /// anything about the model or data is permanent and fails the job with its message.
    public static func isPermanent(_ error: any Error) -> Bool {
        if case KernelError.unsupportedISA = error { return false }
        if let e = error as? TaskError { return e.permanent }  // classified already (a prepared input's error)
        return true
    }

    static func key(_ a: Octet_Wire_TaskAssignment) -> String { "\(a.jobID)#\(a.task)#\(a.attempt)" }

    /// Reads and preprocesses an inference task's samples ahead of its computation (while
    /// another task computes); nil for other tasks. An error is kept for `run` to report.
    public func prepare(_ a: Octet_Wire_TaskAssignment) -> PreparedInput? {
        guard a.kind == .inference, (try? JobSpec.parse(a.jobSpecJson))?.outputs != .tensors else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let input = Result { () throws -> Tensor in
            let (_, data, range) = try open(a)
            return try ClassificationRun.loadBatch(data, range, chw: try int8Session(a.modelHash).chw, threads: threads)
        }.mapError { TaskError(message: describe($0), permanent: TaskExecutor.isPermanent($0)) }
        return PreparedInput(key: Self.key(a), input: input, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    /// The task's spec, its dataset (opened once per spec) and its sample range, checked.
    func open(_ a: Octet_Wire_TaskAssignment) throws -> (JobSpec, any Dataset, Range<Int>) {
        let spec = try JobSpec.parse(a.jobSpecJson)
        lock.lock()
        let cached = datasets.value(for: a.jobSpecJson)
        lock.unlock()
        let data = try cached ?? spec.dataset.open(blobPath: cache.path)
        if cached == nil { lock.lock(); datasets.insert(data, for: a.jobSpecJson); lock.unlock() }
        let range = Int(a.start)..<Int(a.end)
        guard range.lowerBound <= range.upperBound, range.upperBound <= data.count else {
            throw JobFailure("samples \(range) are outside the dataset's \(data.count)")
        }
        return (spec, data, range)
    }

    /// Runs task `a`; an inference task uses its `prepared` input when one was made for it.
    public func run(_ a: Octet_Wire_TaskAssignment, workerID: String, prepared: PreparedInput? = nil) throws -> Octet_Wire_TaskResult {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let (spec, data, range) = try open(a)
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
        case .calibrationAnalysis:
            let meter = try effectMeter(a, spec: spec, data: data)
            r.payload = Compression.pack(WeightEffectSample.encode(try range.map { try meter.measure(data, sample: $0) }), elementSize: 8)
        case .calibrationReport:
            let meter = try reportMeter(a, spec: spec, data: data)
            r.payload = Compression.pack(try ReportSampleSums.encode(try range.map { try meter.measure(data, sample: $0) }))
        case .verification:
            let run = try ClassificationRun(graph: try fp32Graph(a.modelHash), options: PlanOptions(isa: try ISA.named(a.isa), threads: threads))
            let session = try int8Session(a.int8ModelHash)
            r.predictions = try predict(data: data, range: range, batch: 16, loader: run, timing: &r) { input in
                let fp32 = try run.plan.run([run.inputName: input])[run.outputName]?.floats ?? []
                return (try session.run(input).floats ?? [], fp32)
            }
        case .inference where spec.outputs == .tensors:
            let run = try modelRun(a.modelHash)
            for group in try run.outputs(data, range) {
                var g = Octet_Wire_OutputGroup()
                g.start = UInt32(group.images.lowerBound)
                g.count = UInt32(group.images.count)
                g.files = group.images.map { data.name($0) }
                for name in run.outputNames {
                    guard let t = group.outputs[name], let values = t.floats else { throw JobFailure("the model gave no float output '\(name)'") }
                    var o = Octet_Wire_OutputTensor()
                    o.name = name
                    o.shape = t.shape.dims.map { UInt32(clamping: $0) }
                    o.data = Compression.pack(values.withUnsafeBytes { [UInt8]($0) }, elementSize: 4)
                    g.tensors.append(o)
                }
                r.computeSeconds += group.seconds
                r.outputGroups.append(g)
            }
            r.decodeSeconds = max(0, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 - r.computeSeconds)
        case .inference:
            let session = try int8Session(a.modelHash)
            var preloaded: Tensor?
            if let p = prepared, p.key == Self.key(a) {
                preloaded = try p.input.get()
                r.decodeSeconds = p.seconds
            }
            r.predictions = try predict(data: data, range: range, batch: range.count, chw: session.chw, preloaded: preloaded, timing: &r) { input in
                (try session.run(input).floats ?? [], nil)
            }
        default:
            throw JobFailure("unknown task kind \(a.kind)")
        }
        r.images = UInt32(range.count)
        r.seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return r
    }

    /// The weight-quantization analysis of a calibration job's observed graph (its weights quantized
    /// by the default rule, as the coordinator's plan does), on the job's pinned FP32 path.
    func effectMeter(_ a: Octet_Wire_TaskAssignment, spec: JobSpec, data: any Dataset) throws -> WeightEffectMeter {
        try cached(\.effectMeters, a.modelHash + "#" + a.isa + "#" + ContentHash.sha256(Array(a.jobSpecJson.utf8))) {
            guard let calibration = spec.calibration else { throw JobFailure("an analysis task of a job without calibration options") }
            let options = PlanOptions(isa: try ISA.named(a.isa), threads: threads)
            let config = try calibration.quantConfig(plan: options)
            return try WeightEffectMeter(try observedGraph(a.modelHash, spec: spec, data: data, options: options),
                                         options: config.quantize, plan: config.plan)
        }
    }

    /// The value `cache` holds for `key`, or `make()`'s, kept there. The lock is not held while
    /// `make` runs (a compilation): two threads asking at once may both make it, and one is kept.
    func cached<T>(_ cache: ReferenceWritableKeyPath<TaskExecutor, RecentlyUsedCache<T>>, _ key: String, _ make: () throws -> T) rethrows -> T {
        lock.lock()
        let hit = self[keyPath: cache].value(for: key)
        lock.unlock()
        if let hit { return hit }
        let value = try make()
        lock.lock(); self[keyPath: cache].insert(value, for: key); lock.unlock()
        return value
    }

    /// The report's meter of a calibration job's INT8 model (against the graph its shards
    /// observed), on the job's pinned FP32 path; compiled once per model, path and spec.
    func reportMeter(_ a: Octet_Wire_TaskAssignment, spec: JobSpec, data: any Dataset) throws -> ReportMeter {
        try cached(\.meters, a.int8ModelHash + "#" + a.isa + "#" + ContentHash.sha256(Array(a.jobSpecJson.utf8))) {
            let options = PlanOptions(isa: try ISA.named(a.isa), threads: threads)
            let fp32 = try observedGraph(a.modelHash, spec: spec, data: data, options: options)
            return try ReportMeter(fp32: fp32, qdq: try ModelLoader.loadQDQ(path: cache.path(a.int8ModelHash)), options: options)
        }
    }

    /// The graph a calibration job histograms (`calibrationGraph`: cross-layer equalized and with
    /// high biases absorbed when the job asks, which depends on the job's first samples), cached
    /// per model and job spec.
    func observedGraph(_ hash: String, spec: JobSpec, data: any Dataset, options: PlanOptions) throws -> Graph {
        guard let calibration = spec.calibration, calibration.equalize || calibration.absorbHighBias else { return try fp32Graph(hash) }
        return try cached(\.graphs, hash + "#equalized#" + ContentHash.sha256(Array(spec.json().utf8))) {
            try calibrationGraph(try fp32Graph(hash), data: data, config: try calibration.quantConfig(plan: options)).graph
        }
    }

    func fp32Graph(_ hash: String) throws -> Graph {
        lock.lock(); defer { lock.unlock() }
        if let g = graphs.value(for: hash) { return g }
        let g = try ModelLoader.load(path: cache.path(hash))
        graphs.insert(g, for: hash)
        return g
    }

    /// Any QDQ model with all its outputs, shapes specialized per input size (detectors, OCR).
    func modelRun(_ hash: String) throws -> ModelRun {
        lock.lock(); defer { lock.unlock() }
        if let r = runs.value(for: hash) { return r }
        let r = try ModelRun(graph: try ModelLoader.loadQDQ(path: cache.path(hash)), options: PlanOptions(isa: isa, threads: threads))
        runs.insert(r, for: hash)
        return r
    }

    func int8Session(_ hash: String) throws -> InferenceSession {
        lock.lock(); defer { lock.unlock() }
        if let s = sessions.value(for: hash) { return s }
        let s = try deployQDQ(try ModelLoader.loadQDQ(path: cache.path(hash)), threads: threads, isa: isa)
        sessions.insert(s, for: hash)
        return s
    }

    /// Top-5 classes and softmax scores of `logits` for each sample of `range`, in batches; the
    /// time spent loading samples and running the model is added to `timing`.
    func predict(data: any Dataset, range: Range<Int>, batch: Int, loader: ClassificationRun? = nil, chw: [Int]? = nil,
                 preloaded: Tensor? = nil, timing: inout Octet_Wire_TaskResult,
                 _ infer: (Tensor) throws -> (logits: [Float], fp32: [Float]?)) throws -> [Octet_Wire_Prediction] {
        var out: [Octet_Wire_Prediction] = []
        var start = range.lowerBound
        while start < range.upperBound {
            let r = start..<min(start + max(batch, 1), range.upperBound)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let input: Tensor
            if let preloaded, r == range { input = preloaded }
            else if let loader { input = try loader.loadBatch(data, r, threads: threads) }
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
