import Dispatch
import Foundation
import OctetCalibration
import OctetCluster
import OctetData
import OctetKernels
import OctetPipeline
import OctetRuntime

/// A calibration job's state as its handler keeps it (`JobRecord.context`), carried to every
/// task: the FP32 kernel path pinned for the job (every worker sums in one order), the tensors
/// every shard histograms, and the INT8 model once quantized.
public struct CalibrationJobContext: Codable, Hashable, Sendable {
    public var isa: String
    public var watched: [String]
    public var int8Hash: String?
    /// With weights chosen on the workers (ranges on the outputs, AdaRound): the convolutions each
    /// `weights` task chooses for (task `start` is its group's index, `weightChoiceGroups`), the
    /// rows the ranges are chosen on, and AdaRound's (0: not chosen).
    public var weightGroups: [[String]]?
    public var rangeSamples: Int?
    public var roundingSamples: Int?
    /// Per layer of `weightGroups`: its weight count and output channels, what a `weights`
    /// result's rounding flags and scales must match.
    public var weightShapes: [String: ChosenWeightsPayload.Shape]?
    /// With an accuracy bound (`--max-drop`): the sets of layers returned to FP32 each `search`
    /// task of the current batch measures (task `start` indexes them), and the blob the tasks
    /// rebuild the calibration from (`CalibrationSearchInputs`).
    public var searchRound: [[[String]]]?
    public var searchInputs: String?

    /// The context as `JobRecord.context` holds it.
    public var encoded: Data { (try? JobOptionsEncoding.encoder.encode(self)) ?? Data() }

    public init(isa: String, watched: [String], int8Hash: String? = nil) {
        self.isa = isa
        self.watched = watched
        self.int8Hash = int8Hash
    }

    public init(_ data: Data) throws(JobFailure) {
        do { self = try JSONDecoder().decode(Self.self, from: data) } catch {
            throw JobFailure("the calibration job's context cannot be read: \(error)")
        }
    }
}

/// The kinds of a calibration job's tasks.
public enum CalibrationTask: String, Sendable {
    /// The weight-quantization analysis (`WeightEffectSample`s); the chosen weights of a group of
    /// convolutions (`ChosenWeightsPayload`; the task's range is the group's index); a histogram
    /// shard; a batch of the accuracy search's measurements (`SearchPayload`; the task's range
    /// indexes `searchRound`); the report's measurement of the INT8 model
    /// (`ReportSampleSums`); the INT8 model's check on held-out samples (predictions with the
    /// FP32 top-1).
    case analysis, weights, calibration, search, report, verification
}

/// A `weights` task's result: per convolution, the scales chosen on its outputs (Float bit
/// patterns) and AdaRound's rounding directions (`RoundingFlags`, with the weight count), each
/// when the job chooses it, as sorted-keys JSON.
public enum ChosenWeightsPayload {
    struct Layer: Codable { var scales: [UInt32]?, count: Int?, up: String? }

    /// A layer's weight count and output channels.
    public struct Shape: Codable, Hashable, Sendable {
        public var weights: Int, channels: Int
        public init(weights: Int, channels: Int) { self.weights = weights; self.channels = channels }
    }

    public static func encode(scales: [String: [Float]]?, rounding: [String: [Bool]]?) -> [UInt8] {
        var layers: [String: Layer] = [:]
        for (name, s) in scales ?? [:] { layers[name, default: Layer()].scales = s.map(\.bitPattern) }
        for (name, up) in rounding ?? [:] {
            layers[name, default: Layer()].count = up.count
            layers[name, default: Layer()].up = RoundingFlags.encode(up)
        }
        return (try? [UInt8](JobOptionsEncoding.encoder.encode(layers))) ?? []
    }

    /// The scales and rounding of every layer in `bytes`, each checked against its layer's
    /// `shapes` entry (a layer without one is refused): one scale or one per output channel,
    /// positive and finite; exactly one flag per weight, its size checked before it is expanded.
    public static func decode(_ bytes: [UInt8], shapes: [String: Shape]) throws(JobFailure) -> (scales: [String: [Float]], rounding: [String: [Bool]]) {
        let layers: [String: Layer]
        do { layers = try JSONDecoder().decode([String: Layer].self, from: Data(bytes)) } catch {
            throw JobFailure("the chosen weights cannot be read: \(error)")
        }
        var scales: [String: [Float]] = [:], rounding: [String: [Bool]] = [:]
        for (name, layer) in layers.sorted(by: { $0.key < $1.key }) {
            guard let shape = shapes[name] else { throw JobFailure("weights of \(name), which is not in the task's group") }
            if let bits = layer.scales {
                let s = bits.map(Float.init(bitPattern:))
                guard s.count == 1 || s.count == shape.channels, s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw JobFailure("the scales of \(name) are not \(shape.channels) positive finite numbers")
                }
                scales[name] = s
            }
            guard let up = layer.up else { continue }
            // Base64 of one bit per weight, padded: its length is known before anything is expanded.
            guard layer.count == shape.weights, up.utf8.count == 4 * (((shape.weights + 7) / 8 + 2) / 3),
                  let flags = RoundingFlags.decode(up, count: shape.weights) else {
                throw JobFailure("the rounding of \(name) does not hold its \(shape.weights) flags")
            }
            rounding[name] = flags
        }
        return (scales, rounding)
    }
}

/// Calibration on the coordinator: plans a job (the calibration plan, the analysis task and
/// the histogram shards), checks each result, quantizes from the merged histograms and
/// publishes the INT8 model with the tasks that measure it, then writes the artifacts from
/// the workers' sums. Every step is a pure function of the job and its stored results, so a
/// restarted coordinator can redo it; plans and models are kept in memory meanwhile.
public final class CalibrationJobHandler: JobHandler, @unchecked Sendable {
    public let kind = CalibrationJobOptions.kind
    public let streamsResults = false
    let blobs: BlobStore
    let store: JobStore
    let directory: String
    let threads: Int
    /// The FP32 kernel path pinned for jobs that name none (the coordinator's best).
    let defaultISA: ISA
    private let lock = NSLock()
    private var plans: [String: CalibrationPlan] = [:]
    /// Calibrations quantized and waiting for their report tasks (recomputed after a restart).
    private var quantized: [String: QuantizedModel] = [:]
    /// Calibrations' merged histograms (recomputed after a restart).
    private var merged: [String: [String: AbsHistogram]] = [:]
    private let clock = StepClock()

    /// `directory`: where each job's artifacts are written (`JOB/artifacts`).
    public init(blobs: BlobStore, store: JobStore, directory: String, threads: Int, defaultISA: ISA) {
        self.blobs = blobs
        self.store = store
        self.directory = directory
        self.threads = threads
        self.defaultISA = defaultISA
    }

    public func problem(_ spec: JobSpec) -> String? {
        do { return try CalibrationJobOptions(spec).problem } catch { return error.message }
    }

    public func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { clock.add(job.id, "prepare", since: t0) }
        return Result { () throws -> PreparedJob in
            let options = try CalibrationJobOptions(job.spec)
            let isa = try options.isa.map { try ISA.named($0) } ?? defaultISA
            let files = try JobTasks.shippedFiles(options.dataset, in: blobs)
            let data = try options.dataset.open(blobPath: blobs.path, files: files)
            let plan = try calibrationPlan(job, options, isa: isa, data: data)
            let pinned = plan.config.plan.isa.rawValue
            let base = Self.graphBlobs(options, data: data, files: files)
            var context = CalibrationJobContext(isa: pinned, watched: plan.watched)
            let first: [TaskRecord]
            if plan.weightChoicePending {
                // The chosen weights' layers in groups, one task each (the analysis then runs here, with them).
                let groups = weightChoiceGroups(plan.graph, count: Self.weightTasks)
                context.weightGroups = groups
                context.weightShapes = Self.weightShapes(plan.graph, groups.flatMap { $0 })
                context.rangeSamples = plan.rangeSamples
                context.roundingSamples = plan.roundingSamples
                // A task's range is its group, not samples: every task reads the first rows.
                let rows = 0..<max(plan.rangeSamples, plan.roundingSamples)
                first = JobTasks.split(0..<groups.count, size: 1, job: job.id, kind: CalibrationTask.weights.rawValue, first: 0,
                                       dataset: options.dataset, files: nil, extra: base + options.dataset.blobs(for: rows, of: files))
            } else {
                // The weight-quantization analysis first, in one task (its setup costs more than its samples).
                first = JobTasks.split(plan.analysisRows, size: max(plan.analysisRows.count, 1), job: job.id,
                                       kind: CalibrationTask.analysis.rawValue, first: 0, dataset: options.dataset, files: files, extra: base)
            }
            let shards = JobTasks.split(0..<plan.samples, size: options.shardSize, job: job.id, kind: CalibrationTask.calibration.rawValue,
                                        first: first.count, dataset: options.dataset, files: files, extra: base)
            return PreparedJob(tasks: first + shards, context: context.encoded, requirement: pinned)
        }.mapError(Self.failure)
    }

    public func check(_ r: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String? {
        switch CalibrationTask(rawValue: task.kind) {
        case .calibration:
            do {
                let set = try HistogramSet.decode(try Compression.unpack(r.payload))
                // Counts merge by addition across shards: a shard may count at most 2^40 values per
                // tensor, so that no 2^20 shards can overflow the merge.
                if let (name, _) = set.first(where: { ($0.value.checkedTotal ?? .max) > Self.maxShardCount }) {
                    return "the histogram of '\(name)' counts more than \(Self.maxShardCount) values"
                }
                let got = Set(set.keys), expected = Set(try CalibrationJobContext(job.context).watched)
                guard got == expected else {
                    let missing = expected.subtracting(got).sorted().first.map { ", missing '\($0)'" } ?? ""
                    let unexpected = got.subtracting(expected).sorted().first.map { ", unexpected '\($0)'" } ?? ""
                    return "histograms of \(got.count) tensors, expected \(expected.count)\(missing)\(unexpected)"
                }
                return nil
            } catch {
                return "\(error)"
            }
        case .analysis:
            return InferenceOutputs.samplesProblem(r, task, "weight-effect sums") { try WeightEffectSample.decode($0).map(\.sample) }
        case .weights:
            do {
                let context = try CalibrationJobContext(job.context)
                let groups = context.weightGroups ?? [], shapes = context.weightShapes ?? [:]
                guard task.start >= 0, task.start < groups.count else { return "no weight group \(task.start)" }
                _ = try ChosenWeightsPayload.decode(try Compression.unpack(r.payload), shapes: shapes.filter { groups[task.start].contains($0.key) })
                return nil
            } catch {
                return "\(error)"
            }
        case .search:
            do {
                let round = try CalibrationJobContext(job.context).searchRound ?? []
                guard task.start >= 0, task.start < round.count else { return "no search batch \(task.start)" }
                _ = try SearchPayload.decode(try Compression.unpack(r.payload), sets: round[task.start])
                return nil
            } catch {
                return "\(error)"
            }
        case .report:
            return InferenceOutputs.samplesProblem(r, task, "report sums") { try ReportSampleSums.decode($0).map(\.sample) }
        case .verification:
            return InferenceOutputs.predictionsProblem(r, task, unreadableAllowed: false)
        case nil:
            return "a calibration job has no '\(task.kind)' tasks"
        }
    }

    public func finalize(_ job: JobRecord, _ tasks: [TaskRecord]) -> Result<FinalizedJob, JobFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let result = Result { () throws -> FinalizedJob in
            let options = try CalibrationJobOptions(job.spec)
            let context = try CalibrationJobContext(job.context)
            if tasks.contains(where: { $0.kind == CalibrationTask.report.rawValue || $0.kind == CalibrationTask.verification.rawValue }) {
                return clock.finish(try measured(job, options, context, tasks), job.id, "report", since: t0)
            }
            let f = try quantize(job, options, context, tasks)
            if f.followUpTasks.isEmpty { return clock.finish(f, job.id, "quantize", since: t0) }
            clock.add(job.id, "quantize", since: t0)  // the job goes on: its summary is completed after the follow-up tasks
            return f
        }.mapError(Self.failure)
        if case .failure = result { forget(job.id) }
        return result
    }

    /// The layers whose weights are chosen are split into this many tasks (fewer for a model with
    /// fewer layers): each repeats the FP32 pass over its samples, so more tasks than workers
    /// cost a little.
    static let weightTasks = 8
    /// The most values one shard's histogram of a tensor may count (`check`).
    static let maxShardCount: Int64 = 1 << 40

    /// The shipped images every task of the job reads besides its own: with cross-layer
    /// equalization or high-bias absorption, the observed graph depends on the first statistics
    /// samples (`calibrationGraph`), so each worker needs them.
    static func graphBlobs(_ options: CalibrationJobOptions, data: any Dataset, files: [DatasetSpec.ShippedFile]?) -> [String] {
        let c = options.calibration
        guard c.crossLayerEqualization || c.highBiasAbsorption else { return [] }
        return options.dataset.blobs(for: 0..<min(c.sensitivitySamples, data.count), of: files)
    }

    /// The weight count and output channels of each of `layers`.
    static func weightShapes(_ graph: Graph, _ layers: [String]) -> [String: ChosenWeightsPayload.Shape] {
        var out: [String: ChosenWeightsPayload.Shape] = [:]
        for node in graph.nodes where layers.contains(node.name) {
            guard node.inputs.count > 1, let w = graph.initializers[node.inputs[1]], w.shape.rank >= 1 else { continue }
            out[node.name] = .init(weights: w.shape.dims.reduce(1, *), channels: w.shape[0])
        }
        return out
    }

    static func failure(_ error: any Error) -> JobFailure {
        error as? JobFailure ?? JobFailure(JobTasks.describe(error))
    }

    public func ended(_ job: JobRecord) {
        forget(job.id)
    }

    /// Drops everything kept in memory for `job` (it ended or failed), its step clock too.
    func forget(_ job: String) {
        dropModels(job)
        clock.drop(job)
    }

    /// Drops `job`'s plan, quantized model and merged histograms (its artifacts are written; the
    /// step clock stays until the job ends).
    func dropModels(_ job: String) {
        lock.lock(); plans[job] = nil; quantized[job] = nil; merged[job] = nil; lock.unlock()
    }

    func calibrationPlan(_ job: JobRecord, _ options: CalibrationJobOptions, isa: ISA, data: any Dataset) throws -> CalibrationPlan {
        lock.lock()
        if let p = plans[job.id] { lock.unlock(); return p }
        lock.unlock()
        let graph = try ModelLoader.load(path: blobs.path(job.spec.modelHash))
        let plan = try planCalibration(graph, calibrationData: data,
                                       config: try options.calibration.on(PlanOptions(isa: isa, threads: threads, fuse: true)),
                                       deferAnalysis: true)
        lock.lock(); plans[job.id] = plan; lock.unlock()
        return plan
    }

    /// The stored payloads of `job`'s tasks of `kind`, in task order.
    func payloads(_ tasks: [TaskRecord], _ kind: CalibrationTask) throws -> [(task: Int, payload: Octet_Wire_Compressed)] {
        let list = tasks.filter { $0.kind == kind.rawValue }
        return zip(list, try store.results(of: list)).map { ($0.index, $1.payload) }
    }

    /// The merged histograms of `job`'s shards, kept in memory until its artifacts are written
    /// (an accuracy search finalizes once per batch of measurements).
    func histograms(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> [String: AbsHistogram] {
        lock.lock()
        let kept = merged[job.id]
        lock.unlock()
        if let kept { return kept }
        var histograms: [String: AbsHistogram] = [:]
        for (_, payload) in try payloads(tasks, .calibration) {
            for (name, h) in try HistogramSet.decode(try Compression.unpack(payload)) { histograms[name, default: AbsHistogram()].merge(h) }
        }
        lock.lock(); merged[job.id] = histograms; lock.unlock()
        return histograms
    }

    /// The calibrated model of `job` from its shards' histograms, or (an accuracy bound) the next
    /// batch of the accuracy search's measurements for the workers: a pure function of the job
    /// and its stored results, kept in memory until the job's report is written.
    func calibrated(_ job: JobRecord, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, _ tasks: [TaskRecord],
                    data: any Dataset) throws -> (CalibrationPlan, CalibrationFinish) {
        var plan = try calibrationPlan(job, options, isa: try ISA.named(context.isa), data: data)
        if plan.weightChoicePending || !plan.analysisRows.isEmpty {
            plan = try plan.completed(weights: try payloads(tasks, .weights), analysis: try payloads(tasks, .analysis),
                                      shapes: context.weightShapes ?? [:], data: data)
            lock.lock(); plans[job.id] = plan; lock.unlock()
        }
        lock.lock()
        let kept = quantized[job.id]
        lock.unlock()
        if let kept { return (plan, .quantized(kept)) }
        // The search replays on everything the workers measured so far (every batch's results).
        var evidence: AccuracyEvidence?
        for (task, payload) in try payloads(tasks, .search) {
            do {
                // Its sets were checked on arrival (against the batch it belonged to).
                let (side, measured) = try SearchPayload.decode(try Compression.unpack(payload), sets: nil)
                if evidence == nil { evidence = side }
                for m in measured { evidence?.add(m) }
            } catch {
                throw JobFailure("the accuracy search's measurements of task \(task) cannot be read: \(error)")
            }
        }
        let finish = try finishCalibration(plan, histograms: try histograms(job, tasks), seconds: Date().timeIntervalSince1970 - job.created,
                                           data: data, search: .measured(evidence))
        if case .quantized(let q) = finish { lock.lock(); quantized[job.id] = q; lock.unlock() }
        return (plan, finish)
    }

    /// The calibrated model of `job` (after its ranking, if it had one).
    func quantizedModel(_ job: JobRecord, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, _ tasks: [TaskRecord],
                        data: any Dataset) throws -> (CalibrationPlan, QuantizedModel) {
        let (plan, finish) = try calibrated(job, options, context, tasks, data: data)
        guard case .quantized(let q) = finish else { throw JobFailure("the accuracy search of job \(job.id) is not finished") }
        return (plan, q)
    }

    /// The `search` tasks of a batch of the accuracy search's measurements (`sets`, split), and
    /// the context that names them and the blob of what they rebuild the calibration from
    /// (published with the first batch).
    func searchTasks(_ job: JobRecord, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, _ tasks: [TaskRecord],
                     plan: CalibrationPlan, sets: [[String]], data: any Dataset,
                     files: [DatasetSpec.ShippedFile]?) throws -> FinalizedJob {
        let hash: String
        if let published = context.searchInputs { hash = published } else {
            let inputs = try CalibrationSearchInputs(histograms: HistogramSet.encode(try histograms(job, tasks)),
                                                     weights: try payloads(tasks, .weights).map(\.payload),
                                                     analysis: try payloads(tasks, .analysis).map(\.payload))
            hash = try blobs.put(try inputs.encoded())
        }
        let round = AccuracySearchTasks.split(sets)
        var next = context
        next.searchRound = round
        next.searchInputs = hash
        // A search task rebuilds the plan from the workers' weight choices and analysis (reading
        // only the statistics rows: the graph adjustments and the analysis's bias corrections)
        // and measures on the validation rows.
        let first = 0..<min(data.count, options.calibration.sensitivitySamples)
        let rows = options.dataset.blobs(for: first, of: files) + options.dataset.blobs(for: plan.validationRows, of: files)
        let start = (tasks.map(\.index).max() ?? -1) + 1
        let list = JobTasks.split(0..<round.count, size: 1, job: job.id, kind: CalibrationTask.search.rawValue, first: start,
                                  dataset: options.dataset, files: nil, extra: [hash] + rows)
        return FinalizedJob(artifacts: [], context: next.encoded, followUpTasks: list, summary: nil)
    }

    /// Quantizes a calibration job: publishes its INT8 model and returns the tasks that measure
    /// it on the workers (the report on the first samples, the verification on held-out ones).
    /// Without report samples the artifacts are written here.
    func quantize(_ job: JobRecord, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        let files = try JobTasks.shippedFiles(options.dataset, in: blobs)
        let data = try options.dataset.open(blobPath: blobs.path, files: files)
        let (plan, finish) = try calibrated(job, options, context, tasks, data: data)
        let q: QuantizedModel
        switch finish {
        case .quantized(let model): q = model
        case .measure(let sets):
            return try searchTasks(job, options, context, tasks, plan: plan, sets: sets, data: data, files: files)
        }
        let int8Hash = try blobs.putFile(try CalibrationArtifacts.writeModel(q, modelName: job.spec.modelName, to: artifactsFolder(job)))
        let count = data.count
        var next = tasks.map(\.index).max().map { $0 + 1 } ?? 0
        // The report's samples: a few per task, so every worker takes a share.
        let reportRows = 0..<min(max(options.calibration.reportSamples, 0), count)
        let report = JobTasks.split(reportRows, size: max(1, min(options.shardSize, (reportRows.count + 3) / 4)), job: job.id,
                                    kind: CalibrationTask.report.rawValue, first: next, dataset: options.dataset, files: files,
                                    extra: [int8Hash] + Self.graphBlobs(options, data: data, files: files))
        next += report.count
        // Held out: the rows after those the calibration and its accuracy search (`--max-drop`) used.
        let used = max(plan.samples, plan.validationRows.upperBound)
        let verify = used < count
            ? used..<min(count, used + options.verifySamples)
            : max(0, count - options.verifySamples)..<count
        let verification = options.verifySamples == 0 ? [] :
            JobTasks.split(verify, size: options.shardSize, job: job.id, kind: CalibrationTask.verification.rawValue, first: next,
                           dataset: options.dataset, files: files, extra: [int8Hash] + Self.graphBlobs(options, data: data, files: files))
        struct Summary: Encodable {
            var samples: Int, tensors: Int, autoExcluded: [String], overBudget: [String], heldOut: Bool
            enum CodingKeys: String, CodingKey {
                case samples, tensors, autoExcluded = "auto_excluded", overBudget = "sensitive_over_budget", heldOut = "verification_held_out"
            }
        }
        let summary = Summary(samples: q.samples, tensors: q.table.entries.count, autoExcluded: q.autoExcluded,
                              overBudget: q.sensitiveOverBudget, heldOut: used < count)
        let artifacts = report.isEmpty ? try writeArtifacts(job, options, plan: plan, q, measurements: ReportMeasurements([])) : []
        var quantizedContext = context
        quantizedContext.int8Hash = int8Hash
        return FinalizedJob(artifacts: artifacts, context: quantizedContext.encoded, followUpTasks: report + verification,
                            summary: JobTasks.json(summary))
    }

    /// After the report and verification tasks: the report written from the workers' sums, the
    /// verification's agreement added to the summary.
    func measured(_ job: JobRecord, _ options: CalibrationJobOptions, _ context: CalibrationJobContext, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        var artifacts = job.artifacts
        let reports = tasks.filter { $0.kind == CalibrationTask.report.rawValue }
        if !reports.isEmpty {
            let data = try options.dataset.open(blobPath: blobs.path)
            let (plan, q) = try quantizedModel(job, options, context, tasks, data: data)
            var sums: [ReportSampleSums] = []
            for (task, r) in zip(reports, try store.results(of: reports)) {
                do { sums += try ReportSampleSums.decode(try Compression.unpack(r.payload)) } catch {
                    throw JobFailure("the report sums of task \(task.index) cannot be read: \(error)")
                }
            }
            artifacts = try writeArtifacts(job, options, plan: plan, q, measurements: ReportMeasurements(sums))
        }
        var summary = (try? JSONSerialization.jsonObject(with: Data((job.summary ?? "{}").utf8))) as? [String: Any] ?? [:]
        let checks = tasks.filter { $0.kind == CalibrationTask.verification.rawValue }
        if !checks.isEmpty {
            let predictions = try store.results(of: checks).flatMap { try InferenceOutputs.decode($0).predictions }
            let agree = predictions.filter { Int($0.fp32Top1) == Int($0.classes.first ?? UInt32.max) }.count
            summary["verification_samples"] = predictions.count
            summary["agreement"] = predictions.isEmpty ? 0 : Double(agree) / Double(predictions.count)
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        return FinalizedJob(artifacts: artifacts, summary: String(decoding: data, as: UTF8.self))
    }

    func artifactsFolder(_ job: JobRecord) -> String {
        (directory as NSString).appendingPathComponent("\(job.id)/artifacts")
    }

    /// Writes and publishes every artifact of a calibration (`CalibrationArtifacts.writeAll`);
    /// the job's plan and model are dropped from memory after.
    func writeArtifacts(_ job: JobRecord, _ options: CalibrationJobOptions, plan: CalibrationPlan, _ q: QuantizedModel,
                        measurements: ReportMeasurements) throws -> [JobRecord.Artifact] {
        let out = artifactsFolder(job)
        _ = try CalibrationArtifacts.writeAll(q, config: plan.config, measurements: measurements,
                                              modelName: job.spec.modelName, modelSHA256: job.spec.modelHash,
                                              recipe: options.dataset.path?.lowercased().hasSuffix(".npy") == true ? nil : options.dataset.recipe,
                                              to: out)
        let artifacts = try publish(out)
        dropModels(job.id)
        return artifacts
    }

    /// Puts every file of `folder` in the blob store, in name order.
    func publish(_ folder: String) throws -> [JobRecord.Artifact] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { name in
            let path = (folder as NSString).appendingPathComponent(name)
            let hash = try blobs.putFile(path)
            return JobRecord.Artifact(name: name, hash: hash, size: blobs.size(hash) ?? 0)
        }
    }
}
