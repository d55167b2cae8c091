import Dispatch
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
    /// Calibrations quantized and waiting for their report tasks (recomputed after a restart).
    private var quantized: [String: QuantizedModel] = [:]
    /// Per job: the coordinator's own seconds per step (`withClock`).
    private var busy: [String: [String: Double]] = [:]

    public init(blobs: BlobStore, store: JobStore, directory: String, threads: Int) {
        self.blobs = blobs
        self.store = store
        self.directory = directory
        self.threads = threads
    }

    public func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { clock(job.id, "prepare", since: t0) }
        return Result { () throws -> PreparedJob in
            let data = try job.spec.dataset.open(blobPath: blobs.path)
            switch job.spec.kind {
            case .calibrate:
                let plan = try calibrationPlan(job, data: data)
                // The weight-quantization analysis first, in one task (its setup costs more than its samples).
                let analysis = Self.split(plan.analysisRows, size: max(plan.analysisRows.count, 1), job: job.id, kind: .analysis, first: 0)
                let tasks = analysis + Self.split(0..<plan.samples, size: job.spec.shardSize, job: job.id, kind: .calibration, first: analysis.count)
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
        let t0 = DispatchTime.now().uptimeNanoseconds
        return Result { () throws -> FinalizedJob in
            switch job.spec.kind {
            case .calibrate:
                if tasks.contains(where: { $0.kind == .report || $0.kind == .verification }) {
                    return withClock(try measured(job, tasks), job.id, "report", since: t0)
                }
                let f = try quantize(job, tasks)
                if f.followUpTasks.isEmpty { return withClock(f, job.id, "quantize", since: t0) }
                clock(job.id, "quantize", since: t0)  // the job goes on: its summary is completed after the follow-up tasks
                return f
            case .infer:
                return withClock(try predictions(job, tasks), job.id, "finalize", since: t0)
            }
        }.mapError { JobFailure(describe($0)) }
    }

    /// Adds the time since `t0` to the coordinator's own time for `job`'s `step`.
    func clock(_ job: String, _ step: String, since t0: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        lock.lock(); busy[job, default: [:]][step, default: 0] += seconds; lock.unlock()
    }

    /// `f` (a job's last finalization) with the coordinator's own time per step in its summary,
    /// `coordinator_seconds` and `coordinator_steps`: the serial part of the job (since this
    /// coordinator started), which bounds how well the job scales with workers.
    func withClock(_ f: FinalizedJob, _ job: String, _ step: String, since t0: UInt64) -> FinalizedJob {
        clock(job, step, since: t0)
        lock.lock()
        let steps = busy.removeValue(forKey: job) ?? [:]
        lock.unlock()
        var f = f
        var summary = (try? JSONSerialization.jsonObject(with: Data((f.summary ?? "{}").utf8))) as? [String: Any] ?? [:]
        summary["coordinator_seconds"] = steps.values.reduce(0, +)
        summary["coordinator_steps"] = steps
        if let data = try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]) { f.summary = String(decoding: data, as: UTF8.self) }
        return f
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
        let plan = try planCalibration(graph, calibrationData: data, config: try options.quantConfig(plan: try planOptions(job)),
                                       deferAnalysis: true)
        lock.lock(); plans[job.id] = plan; lock.unlock()
        return plan
    }

    /// The calibrated model of `job` from its shards' histograms: a pure function of the job and
    /// its stored results, kept in memory until the job's report is written.
    func calibrated(_ job: JobRecord, _ tasks: [TaskRecord], data: any Dataset) throws -> (CalibrationPlan, QuantizedModel) {
        var plan = try calibrationPlan(job, data: data)
        if !plan.analysisRows.isEmpty {
            var samples: [WeightEffectSample] = []
            let analysis = tasks.filter { $0.kind == .analysis }
            for (task, r) in zip(analysis, try store.results(of: analysis)) {
                do { samples += try WeightEffectSample.decode(try Compression.unpack(r.payload)) } catch {
                    throw JobFailure("the weight-effect sums of task \(task.index) cannot be read: \(error)")
                }
            }
            guard samples.map(\.sample).sorted() == Array(plan.analysisRows) else {
                throw JobFailure("the weight-effect sums cover samples \(samples.map(\.sample).sorted()), expected \(plan.analysisRows)")
            }
            plan = plan.completed(with: WeightEffects(samples))
        }
        lock.lock()
        let kept = quantized[job.id]
        lock.unlock()
        if let kept { return (plan, kept) }
        var histograms: [String: AbsHistogram] = [:]
        for r in try store.results(of: tasks.filter { $0.kind == .calibration }) {
            for (name, h) in try HistogramSet.decode(try Compression.unpack(r.histograms)) { histograms[name, default: AbsHistogram()].merge(h) }
        }
        let q = try finishCalibration(plan, histograms: histograms, seconds: Date().timeIntervalSince1970 - job.created, data: data)
        lock.lock(); quantized[job.id] = q; lock.unlock()
        return (plan, q)
    }

    /// Quantizes a calibration job: publishes its INT8 model and returns the tasks that measure
    /// it on the workers (the report on the first samples, the verification on held-out ones).
    /// Without report samples the artifacts are written here.
    func quantize(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        let data = try job.spec.dataset.open(blobPath: blobs.path)
        let (plan, q) = try calibrated(job, tasks, data: data)
        let int8Hash = try blobs.putFile(try CalibrationArtifacts.writeModel(q, modelName: job.spec.modelName, to: artifactsFolder(job)))
        let count = data.count
        var next = tasks.map(\.index).max().map { $0 + 1 } ?? 0
        // The report's samples: a few per task, so every worker takes a share.
        let reportRows = 0..<min(max(job.spec.calibration?.reportSamples ?? 8, 0), count)
        let report = Self.split(reportRows, size: max(1, min(job.spec.shardSize, (reportRows.count + 3) / 4)), job: job.id, kind: .report, first: next)
        next += report.count
        // Held out: the rows after those the calibration and its accuracy search (`--max-drop`) used.
        let used = max(plan.samples, plan.validationRows.upperBound)
        let verify = used < count
            ? used..<min(count, used + job.spec.verifySamples)
            : max(0, count - job.spec.verifySamples)..<count
        let verification = job.spec.verifySamples == 0 ? [] :
            Self.split(verify, size: job.spec.shardSize, job: job.id, kind: .verification, first: next)
        struct Summary: Encodable {
            var samples: Int, tensors: Int, autoExcluded: [String], heldOut: Bool
            enum CodingKeys: String, CodingKey { case samples, tensors, autoExcluded = "auto_excluded", heldOut = "verification_held_out" }
        }
        let summary = Summary(samples: q.samples, tensors: q.table.entries.count, autoExcluded: q.autoExcluded, heldOut: used < count)
        let artifacts = report.isEmpty ? try writeArtifacts(job, plan: plan, q, measurements: ReportMeasurements([])) : []
        return FinalizedJob(artifacts: artifacts, int8Hash: int8Hash, followUpTasks: report + verification, summary: Self.json(summary))
    }

    /// After the report and verification tasks: the report written from the workers' sums, the
    /// verification's agreement added to the summary.
    func measured(_ job: JobRecord, _ tasks: [TaskRecord]) throws -> FinalizedJob {
        var artifacts = job.artifacts
        let reports = tasks.filter { $0.kind == .report }
        if !reports.isEmpty {
            let data = try job.spec.dataset.open(blobPath: blobs.path)
            let (plan, q) = try calibrated(job, tasks, data: data)
            var sums: [ReportSampleSums] = []
            for (task, r) in zip(reports, try store.results(of: reports)) {
                do { sums += try ReportSampleSums.decode(try Compression.unpack(r.payload)) } catch {
                    throw JobFailure("the report sums of task \(task.index) cannot be read: \(error)")
                }
            }
            artifacts = try writeArtifacts(job, plan: plan, q, measurements: ReportMeasurements(sums))
        }
        var summary = (try? JSONSerialization.jsonObject(with: Data((job.summary ?? "{}").utf8))) as? [String: Any] ?? [:]
        let checks = tasks.filter { $0.kind == .verification }
        if !checks.isEmpty {
            let predictions = try store.results(of: checks).flatMap(\.predictions)
            let agree = predictions.filter { Int($0.fp32Top1) == Int($0.classes.first ?? UInt32.max) }.count
            summary["verification_samples"] = predictions.count
            summary["agreement"] = predictions.isEmpty ? 0 : Double(agree) / Double(predictions.count)
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        return FinalizedJob(artifacts: artifacts, int8Hash: job.int8Hash, followUpTasks: [], summary: String(decoding: data, as: UTF8.self))
    }

    func artifactsFolder(_ job: JobRecord) -> String {
        (directory as NSString).appendingPathComponent("\(job.id)/artifacts")
    }

    /// Writes and publishes every artifact of a calibration (`CalibrationArtifacts.writeAll`);
    /// the job's plan and model are dropped from memory after.
    func writeArtifacts(_ job: JobRecord, plan: CalibrationPlan, _ q: QuantizedModel, measurements: ReportMeasurements) throws -> [JobRecord.Artifact] {
        let out = artifactsFolder(job)
        _ = try CalibrationArtifacts.writeAll(q, config: plan.config, measurements: measurements,
                                              modelName: job.spec.modelName, modelSHA256: job.spec.modelHash,
                                              recipe: job.spec.dataset.path?.lowercased().hasSuffix(".npy") == true ? nil : job.spec.dataset.recipe,
                                              to: out)
        let artifacts = try publish(out)
        lock.lock(); plans[job.id] = nil; quantized[job.id] = nil; lock.unlock()
        return artifacts
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
        return FinalizedJob(artifacts: [], int8Hash: nil, followUpTasks: [], summary: Self.json(summary))
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
