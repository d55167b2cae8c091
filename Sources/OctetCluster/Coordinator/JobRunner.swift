import Foundation
import OctetCalibration
import OctetData
import OctetKernels
import OctetPipeline
import OctetRuntime

/// The coordinator's own heavy work, run off the message loop: preparing a job (loading the
/// model and data, the calibration plan, the task list) and finalizing it (merging histograms,
/// thresholds, quantization, artifacts; or assembling predictions). Every step is a pure
/// function of the job and its stored results, so a restarted coordinator can redo it.
public final class JobRunner: @unchecked Sendable {
    let blobs: BlobStore
    let store: JobStore
    let directory: String
    let threads: Int
    private let lock = NSLock()
    private var plans: [String: CalibrationPlan] = [:]

    public init(blobs: BlobStore, store: JobStore, directory: String, threads: Int) {
        self.blobs = blobs
        self.store = store
        self.directory = directory
        self.threads = threads
    }

    public func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure> {
        Result { () throws -> PreparedJob in
            let data = try job.spec.dataset.open(blobPath: blobs.path)
            switch job.spec.kind {
            case .calibrate:
                let plan = try calibrationPlan(job, data: data)
                let tasks = Self.split(0..<plan.samples, size: job.spec.shardSize, job: job.id, kind: .calibration, first: 0)
                return PreparedJob(tasks: tasks, watched: plan.watched, isa: plan.config.plan.isa.rawValue)
            case .infer:
                let graph = try ModelLoader.loadQDQ(path: blobs.path(job.spec.modelHash))
                // Top-k needs one fixed-size image input; keeping every output takes any model with a batch axis.
                if job.spec.outputs == .tensors { _ = try ModelRun(graph: graph, options: try planOptions(job)) } else { _ = try ModelLoader.imageInput(of: graph) }
                let tasks = Self.split(0..<data.count, size: job.spec.batch, job: job.id, kind: .inference, first: 0)
                return PreparedJob(tasks: tasks, watched: [], isa: job.isa)
            }
        }.mapError { JobFailure(describe($0)) }
    }

    public func finalize(_ job: JobRecord, _ tasks: [TaskRecord]) -> Result<FinalizedJob, JobFailure> {
        Result { () throws -> FinalizedJob in
            switch job.spec.kind {
            case .calibrate:
                if tasks.contains(where: { $0.kind == .verification }) { return try verificationSummary(job, tasks) }
                return try quantize(job, tasks)
            case .infer:
                return try predictions(job, tasks)
            }
        }.mapError { JobFailure(describe($0)) }
    }

    /// Consecutive ranges of at most `size` samples.
    static func split(_ range: Range<Int>, size: Int, job: String, kind: TaskRecord.Kind, first: Int) -> [TaskRecord] {
        stride(from: range.lowerBound, to: range.upperBound, by: max(size, 1)).enumerated().map { i, start in
            TaskRecord(job: job, index: first + i, kind: kind, start: start, end: min(start + size, range.upperBound))
        }
    }

    func planOptions(_ job: JobRecord) throws -> PlanOptions {
        PlanOptions(isa: try job.isa.map { try ISA.named($0) } ?? .best, threads: threads, fuse: true)
    }

    func calibrationPlan(_ job: JobRecord, data: any Dataset) throws -> CalibrationPlan {
        lock.lock()
        if let p = plans[job.id] { lock.unlock(); return p }
        lock.unlock()
        guard let options = job.spec.calibration else { throw JobFailure("no calibration options") }
        let graph = try ModelLoader.load(path: blobs.path(job.spec.modelHash))
        let plan = try planCalibration(graph, calibrationData: data, config: try options.quantConfig(plan: try planOptions(job)))
        lock.lock(); plans[job.id] = plan; lock.unlock()
        return plan
    }

    func quantize(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        let data = try job.spec.dataset.open(blobPath: blobs.path)
        let plan = try calibrationPlan(job, data: data)
        var histograms: [String: AbsHistogram] = [:]
        for r in try store.results(of: tasks.filter { $0.kind == .calibration }) {
            for (name, h) in try HistogramSet.decode(try Compression.unpack(r.histograms)) { histograms[name, default: AbsHistogram()].merge(h) }
        }
        let q = try finishCalibration(plan, histograms: histograms, seconds: Date().timeIntervalSince1970 - job.created, data: data)
        let out = (directory as NSString).appendingPathComponent("\(job.id)/artifacts")
        let paths = try CalibrationArtifacts.writeAll(q, config: plan.config, data: data, reportSamples: job.spec.calibration?.reportSamples ?? 8,
                                                      modelName: job.spec.modelName, modelSHA256: job.spec.modelHash,
                                                      recipe: job.spec.dataset.path?.lowercased().hasSuffix(".npy") == true ? nil : job.spec.dataset.recipe,
                                                      to: out)
        let artifacts = try publish(out)
        let int8Hash = try blobs.putFile(paths.model)
        lock.lock(); plans[job.id] = nil; lock.unlock()  // the plan is not needed after quantization
        let count = data.count
        // Held out: the rows after those the calibration and its accuracy search (`--max-drop`) used.
        let used = max(plan.samples, plan.validationRows.upperBound)
        let verify = used < count
            ? used..<min(count, used + job.spec.verifySamples)
            : max(0, count - job.spec.verifySamples)..<count
        let first = tasks.map(\.index).max().map { $0 + 1 } ?? 0
        let verification = job.spec.verifySamples == 0 ? [] :
            Self.split(verify, size: job.spec.shardSize, job: job.id, kind: .verification, first: first)
        struct Summary: Encodable {
            var samples: Int, tensors: Int, autoExcluded: [String], heldOut: Bool
            enum CodingKeys: String, CodingKey { case samples, tensors, autoExcluded = "auto_excluded", heldOut = "verification_held_out" }
        }
        let summary = Summary(samples: q.samples, tensors: q.table.entries.count, autoExcluded: q.autoExcluded, heldOut: used < count)
        return FinalizedJob(artifacts: artifacts, int8Hash: int8Hash, verificationTasks: verification, summary: Self.json(summary))
    }

    func verificationSummary(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        let results = try store.results(of: tasks.filter { $0.kind == .verification })
        let predictions = results.flatMap(\.predictions)
        let agree = predictions.filter { Int($0.fp32Top1) == Int($0.classes.first ?? UInt32.max) }.count
        var summary = (try? JSONSerialization.jsonObject(with: Data((job.summary ?? "{}").utf8))) as? [String: Any] ?? [:]
        summary["verification_samples"] = predictions.count
        summary["agreement"] = predictions.isEmpty ? 0 : Double(agree) / Double(predictions.count)
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        return FinalizedJob(artifacts: job.artifacts, int8Hash: job.int8Hash, verificationTasks: [], summary: String(decoding: data, as: UTF8.self))
    }

    /// An inference job's summary. Its predictions are not assembled here: the client streams
    /// them in order as tasks finish (`ResultsQuery`) and writes its output itself.
    func predictions(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        let images = tasks.reduce(0) { $0 + $1.count }
        let wall = Date().timeIntervalSince1970 - job.created
        struct Summary: Encodable {
            var images: Int, wallSeconds: Double, imagesPerSecond: Double
            enum CodingKeys: String, CodingKey { case images, wallSeconds = "wall_seconds", imagesPerSecond = "images_per_second" }
        }
        let summary = Summary(images: images, wallSeconds: wall, imagesPerSecond: Double(images) / max(wall, 1e-9))
        return FinalizedJob(artifacts: [], int8Hash: nil, verificationTasks: [], summary: Self.json(summary))
    }

    /// Puts every file of `folder` in the blob store, in name order.
    func publish(_ folder: String) throws -> [JobRecord.Artifact] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { name in
            let path = (folder as NSString).appendingPathComponent(name)
            let hash = try blobs.putFile(path)
            return JobRecord.Artifact(name: name, hash: hash, size: blobs.size(hash) ?? 0)
        }
    }

    static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? String(decoding: e.encode(v), as: UTF8.self)) ?? "{}"
    }
}

/// A readable message for any error (our typed errors describe themselves).
func describe(_ error: any Error) -> String {
    String(describing: error)
}
