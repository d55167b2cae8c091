import Dispatch
import Foundation
import OctetCalibration
import OctetCluster
import OctetCore
import OctetIR
import OctetKernels
import OctetPipeline
import OctetRuntime

/// Runs the tasks of calibration and inference jobs on a worker: calibration histograms, the
/// weight analysis, the calibration report's sums, verification or inference. Models are read
/// from the worker's blob cache and compiled once per content hash; the last few compiled
/// models and opened datasets are kept (`modelsKept`), older ones dropped. `prepare` (the next
/// task's images) and `run` (the current task) may run at once on two threads.
public final class TaskExecutor: TaskRunner, @unchecked Sendable {
    public let kinds = [CalibrationJobOptions.kind, InferenceJobOptions.kind]
    let cache: BlobStore
    let threads: Int
    /// INT8 kernel path for inference (nil: best).
    let isa: ISA
    /// Compiled models kept per kind (FP32 graphs, INT8 sessions).
    static let modelsKept = 4
    private var graphs = RecentlyUsedCache<Graph>(capacity: modelsKept)
    private var sessions = RecentlyUsedCache<InferenceSession>(capacity: modelsKept)
    private var datasets = RecentlyUsedCache<OpenedData>(capacity: modelsKept)
    private var runs = RecentlyUsedCache<ModelRun>(capacity: modelsKept)
    private var meters = RecentlyUsedCache<ReportMeter>(capacity: modelsKept)
    private var effectMeters = RecentlyUsedCache<WeightEffectMeter>(capacity: modelsKept)
    private var searchMeters = RecentlyUsedCache<AccuracySearchMeter>(capacity: modelsKept)
    /// Guards the caches (and a model's compilation, done once).
    private let lock = NSLock()

    public init(cache: BlobStore, threads: Int, isa: ISA) {
        self.cache = cache
        self.threads = threads
        self.isa = isa
    }

    /// Errors that another worker could avoid (this CPU lacks the pinned path) are transient;
    /// anything about the model or data is permanent and fails the job with its message.
    public func isPermanent(_ error: any Error) -> Bool {
        if case KernelError.unsupportedISA = error { return false }
        if let e = error as? TaskError { return e.permanent }  // classified already (a prepared input's error)
        return true
    }

    /// Reads and preprocesses a top-k inference task's samples ahead of its computation (while
    /// another task computes); nil for other tasks. An error is kept for `run` to report.
    public func prepare(_ a: Octet_Wire_TaskAssignment) -> PreparedInput? {
        guard a.kind == InferenceJobHandler.taskKind(.topk) else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let input = Result { () throws -> any Sendable in
            let (data, range) = try open(a, try InferenceJobOptions(a).dataset)
            return try ClassificationRun.loadReadable(data, range, chw: try int8Session(a.spec.modelHash).chw, threads: threads)
        }.mapError { TaskError(message: JobTasks.describe($0), permanent: isPermanent($0)) }
        return PreparedInput(for: a, input: input, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    /// A job's dataset, and whether its samples are shipped files (read from the cache).
    struct OpenedData {
        var data: any Dataset
        var shipped: Bool
    }

    /// The task's view of its job's dataset (opened once per job spec): with shipped files, only
    /// the samples whose images the task lists (`ListedSamples`).
    func samples(_ a: Octet_Wire_TaskAssignment, _ dataset: DatasetSpec) throws -> any Dataset {
        let opened = try cached(\.datasets, Self.specKey(a.spec)) {
            OpenedData(data: try dataset.open(blobPath: cache.path), shipped: dataset.manifest != nil)
        }
        guard opened.shipped else { return opened.data }
        return ListedSamples(base: opened.data, listed: Set(a.blobs.map(cache.path)))
    }

    /// The task's view of its job's dataset (`samples`) and its sample range, checked.
    func open(_ a: Octet_Wire_TaskAssignment, _ dataset: DatasetSpec) throws -> (any Dataset, Range<Int>) {
        let data = try samples(a, dataset)
        let range = Int(a.start)..<Int(a.end)
        guard range.lowerBound <= range.upperBound, range.upperBound <= data.count else {
            throw JobFailure("samples \(range) are outside the dataset's \(data.count)")
        }
        return (data, range)
    }

    /// A key for everything a task's job spec determines (its model and options).
    static func specKey(_ a: Octet_Wire_TaskAssignment) -> String { specKey(a.spec) }

    static func specKey(_ spec: Octet_Wire_JobSpec) -> String {
        spec.kind + "#" + spec.modelHash + "#" + ContentHash.sha256([UInt8](spec.options))
    }

    /// Runs task `a`; an inference task uses its `prepared` input when one was made for it.
    public func run(_ a: Octet_Wire_TaskAssignment, prepared: PreparedInput? = nil) throws -> Octet_Wire_TaskResult {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var r = Octet_Wire_TaskResult()
        let images: Int
        switch a.spec.kind {
        case CalibrationJobOptions.kind: images = try calibrationTask(a, &r)
        case InferenceJobOptions.kind: images = try inferenceTask(a, prepared: prepared, &r, since: t0)
        default: throw JobFailure("this worker runs no '\(a.spec.kind)' jobs")
        }
        r.images = UInt32(images)
        r.seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return r
    }

    /// Runs a calibration job's task into `r`; returns its sample count.
    func calibrationTask(_ a: Octet_Wire_TaskAssignment, _ r: inout Octet_Wire_TaskResult) throws -> Int {
        let options = try CalibrationJobOptions(a)
        let context = try CalibrationJobContext(a.context)
        let isa = try ISA.named(context.isa)
        if a.kind == CalibrationTask.weights.rawValue { return try weightsTask(a, options, context, isa: isa, &r) }
        if a.kind == CalibrationTask.search.rawValue { return try searchTask(a, options, context, isa: isa, &r) }
        let (data, range) = try open(a, options.dataset)
        switch CalibrationTask(rawValue: a.kind) {
        case .calibration:
            let plan = PlanOptions(isa: isa, threads: threads, fuse: false)
            let h = try collectHistograms(try observedGraph(a, options, data: data, plan: plan), data: data, range: range,
                                          watched: Set(context.watched), options: plan, batch: 16)
            r.payload = Compression.pack(HistogramSet.encode(h))
        case .analysis:
            let meter = try effectMeter(a, options, isa: isa, data: data)
            r.payload = Compression.pack(WeightEffectSample.encode(try range.map { try meter.measure(data, sample: $0) }), elementSize: 8)
        case .report:
            let meter = try reportMeter(a, options, context, isa: isa, data: data)
            r.payload = Compression.pack(try ReportSampleSums.encode(try range.map { try meter.measure(data, sample: $0) }))
        case .verification:
            let run = try ClassificationRun(graph: try fp32Graph(a.spec.modelHash), options: PlanOptions(isa: isa, threads: threads))
            let session = try int8Session(try Self.int8Hash(context))
            var output = Octet_Jobs_InferenceOutput()
            let verified = try predict(data: data, range: range, batch: 16, chw: run.chw, timing: &r) { input in
                let fp32 = try run.plan.run([run.inputName: input])[run.outputName]?.floats ?? []
                return (try session.run(input).floats ?? [], fp32)
            }
            // The job's calibration read these samples already: one that cannot be read now fails the job.
            if let first = verified.unreadable.first { throw first.error }
            output.predictions = verified.predictions
            r.payload = InferenceOutputs.pack(output)
        case .weights, .search, nil:
            throw JobFailure("a calibration job has no '\(a.kind)' tasks")
        }
        return range.count
    }

    /// The chosen weights of the convolutions of group `a.start` (`CalibrationJobContext.weightGroups`):
    /// their ranges on the outputs, then AdaRound's rounding at those ranges, as the job asks, on
    /// its observed graph and pinned path, into `r`; returns the samples it read.
    func weightsTask(_ a: Octet_Wire_TaskAssignment, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, isa: ISA,
                     _ r: inout Octet_Wire_TaskResult) throws -> Int {
        guard let groups = context.weightGroups, Int(a.start) < groups.count else {
            throw JobFailure("weights task \(a.start) has no group in its job's context")
        }
        let layers = Set(groups[Int(a.start)]), config = options.calibration
        let data = try samples(a, options.dataset)
        let plan = PlanOptions(isa: isa, threads: threads)
        let graph = try observedGraph(a, options, data: data, plan: plan)
        let rangeRows = min(context.rangeSamples ?? 0, data.count), roundingRows = min(context.roundingSamples ?? 0, data.count)
        let scales = config.weightRanges == .outputs
            ? try outputMSEWeightScales(graph, data: data, samples: rangeRows, options: config.quantize, plan: plan, layers: layers) : nil
        let rounding = config.weightRounding == .adaround
            ? try adaRoundedWeights(graph, data: data, samples: roundingRows, options: config.quantize, plan: plan, weightScales: scales ?? [:],
                                    settings: config.adaRound, layers: layers) : nil
        r.payload = Compression.pack(ChosenWeightsPayload.encode(scales: scales, rounding: rounding), elementSize: 1)
        return max(rangeRows, roundingRows)
    }

    /// A batch of the accuracy search's measurements: the job's calibration rebuilt as the
    /// coordinator built it (its plan on the pinned path, completed with the workers' weight
    /// choices or analysis, and the merged histograms: `CalibrationSearchInputs`), then the metric
    /// with each set of layers of `searchRound[a.start]` returned to FP32, into `r`; returns the
    /// validation rows it measured on.
    func searchTask(_ a: Octet_Wire_TaskAssignment, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, isa: ISA,
                    _ r: inout Octet_Wire_TaskResult) throws -> Int {
        guard let round = context.searchRound, Int(a.start) < round.count, let hash = context.searchInputs else {
            throw JobFailure("search task \(a.start) has no batch in its job's context")
        }
        let data = try samples(a, options.dataset)
        // Rebuilt once per calibration and path, for every search task this worker takes.
        let meter = try cached(\.searchMeters, hash + "#" + isa.rawValue + "#" + Self.specKey(a)) {
            let inputs = try CalibrationSearchInputs.decode(try cache.read(hash))
            let config = try options.calibration.on(PlanOptions(isa: isa, threads: threads, fuse: true))
            let planned = try planCalibration(try fp32Graph(a.spec.modelHash), calibrationData: data, config: config, deferAnalysis: true)
            let plan = try planned.completed(weights: try inputs.payloads(inputs.weights), analysis: try inputs.payloads(inputs.analysis),
                                             shapes: context.weightShapes ?? [:], data: data)
            return try AccuracySearchMeter(plan, histograms: try inputs.mergedHistograms(), data: data)
        }
        let evidence = meter.evidence
        r.payload = Compression.pack(SearchPayload.encode(evidence, try meter.measure(round[Int(a.start)])), elementSize: 1)
        return evidence.rows
    }

    /// The INT8 model a calibration job's follow-up task measures.
    static func int8Hash(_ context: CalibrationJobContext) throws -> String {
        guard let hash = context.int8Hash else { throw JobFailure("the calibration job has no INT8 model yet") }
        return hash
    }

    /// Runs an inference job's task into `r`; returns its sample count.
    func inferenceTask(_ a: Octet_Wire_TaskAssignment, prepared: PreparedInput?, _ r: inout Octet_Wire_TaskResult, since t0: UInt64) throws -> Int {
        let options = try InferenceJobOptions(a)
        let (data, range) = try open(a, options.dataset)
        var output = Octet_Jobs_InferenceOutput()
        switch a.kind {
        case InferenceJobHandler.taskKind(.tensors):
            let run = try modelRun(a.spec.modelHash)
            let (groups, unreadable) = try run.readableOutputs(data, range)
            for group in groups {
                var g = Octet_Jobs_OutputGroup()
                g.start = UInt32(group.images.lowerBound)
                g.count = UInt32(group.images.count)
                g.files = group.images.map { data.name($0) }
                for name in run.outputNames {
                    guard let t = group.outputs[name], let values = t.floats else { throw JobFailure("the model gave no float output '\(name)'") }
                    g.tensors.append(InferenceOutputs.tensor(name: name, shape: t.shape.dims, values: values))
                }
                r.computeSeconds += group.seconds
                output.outputGroups.append(g)
            }
            output.unreadable = unreadable.map { InferenceOutputs.unreadable($0) }
            r.decodeSeconds = max(0, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 - r.computeSeconds)
        case InferenceJobHandler.taskKind(.topk):
            let session = try int8Session(a.spec.modelHash)
            var preloaded: ReadableBatch?
            if let p = prepared, p.isFor(a) {
                guard let batch = try p.input.get() as? ReadableBatch else { throw JobFailure("the prepared input of task \(a.task) is not a batch of images") }
                preloaded = batch
                r.decodeSeconds = p.seconds
            }
            let predicted = try predict(data: data, range: range, batch: range.count, chw: session.chw, preloaded: preloaded, timing: &r) { input in
                (try session.run(input).floats ?? [], nil)
            }
            output.predictions = predicted.predictions
            output.unreadable = predicted.unreadable.map { InferenceOutputs.unreadable($0) }
        default:
            throw JobFailure("an inference job has no '\(a.kind)' tasks")
        }
        r.payload = InferenceOutputs.pack(output)
        return range.count
    }

    /// The weight-quantization analysis of a calibration job's observed graph (its weights quantized
    /// by the default rule, as the coordinator's plan does), on the job's pinned FP32 path.
    func effectMeter(_ a: Octet_Wire_TaskAssignment, _ options: CalibrationJobOptions, isa: ISA, data: any Dataset) throws -> WeightEffectMeter {
        try cached(\.effectMeters, Self.specKey(a) + "#" + isa.rawValue) {
            let plan = PlanOptions(isa: isa, threads: threads)
            let config = try options.calibration.on(plan)
            return try WeightEffectMeter(try observedGraph(a, options, data: data, plan: plan), options: config.quantize, plan: config.plan)
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
    func reportMeter(_ a: Octet_Wire_TaskAssignment, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, isa: ISA,
                     data: any Dataset) throws -> ReportMeter {
        let int8Hash = try Self.int8Hash(context)
        return try cached(\.meters, int8Hash + "#" + isa.rawValue + "#" + Self.specKey(a)) {
            let plan = PlanOptions(isa: isa, threads: threads)
            let fp32 = try observedGraph(a, options, data: data, plan: plan)
            return try ReportMeter(fp32: fp32, qdq: try ModelLoader.loadQDQ(path: cache.path(int8Hash)), options: plan)
        }
    }

    /// The graph a calibration job histograms (`calibrationGraph`: cross-layer equalized and with
    /// high biases absorbed when the job asks, which depends on the job's first samples), cached
    /// per model and job spec.
    func observedGraph(_ a: Octet_Wire_TaskAssignment, _ options: CalibrationJobOptions, data: any Dataset, plan: PlanOptions) throws -> Graph {
        let calibration = options.calibration
        guard calibration.crossLayerEqualization || calibration.highBiasAbsorption else { return try fp32Graph(a.spec.modelHash) }
        return try cached(\.graphs, "equalized#" + Self.specKey(a)) {
            try calibrationGraph(try fp32Graph(a.spec.modelHash), data: data, config: try calibration.on(plan)).graph
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

    /// Top-5 classes and softmax scores of `logits` for each sample of `range` that can be read, in
    /// batches, and the samples that cannot; the time spent loading samples and running the model
    /// is added to `timing`.
    func predict(data: any Dataset, range: Range<Int>, batch: Int, chw: [Int], preloaded: ReadableBatch? = nil, timing: inout Octet_Wire_TaskResult,
                 _ infer: (Tensor) throws -> (logits: [Float], fp32: [Float]?)) throws -> (predictions: [Octet_Jobs_Prediction], unreadable: [UnreadableSample]) {
        var out: [Octet_Jobs_Prediction] = []
        var unreadable: [UnreadableSample] = []
        var start = range.lowerBound
        while start < range.upperBound {
            let r = start..<min(start + max(batch, 1), range.upperBound)
            start = r.upperBound
            let t0 = DispatchTime.now().uptimeNanoseconds
            let loaded = try preloaded.flatMap { r == range ? $0 : nil } ?? ClassificationRun.loadReadable(data, r, chw: chw, threads: threads)
            unreadable += loaded.unreadable
            let n = loaded.samples.count
            guard n > 0 else { continue }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let (logits, fp32) = try infer(loaded.input)
            timing.decodeSeconds += Double(t1 - t0) / 1e9
            timing.computeSeconds += Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
            let classes = logits.count / n
            guard classes > 0, logits.count == classes * n else { throw JobFailure("model output has \(logits.count) values for \(n) samples") }
            for (k, i) in loaded.samples.enumerated() {
                let row = Array(logits[(k * classes)..<((k + 1) * classes)])
                var p = Octet_Jobs_Prediction()
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
        }
        return (out, unreadable)
    }
}
