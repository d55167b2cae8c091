import Dispatch
import Foundation
import OctetCluster
import OctetKernels
import OctetPipeline
import OctetRuntime

/// Distributed batch inference on the coordinator: plans a job's batches, checks each result
/// and summarizes the job. Its results stream to the client in task order (the client writes
/// the output, `InferenceOutputs.lines`), so nothing is assembled here.
public final class InferenceJobHandler: JobHandler, @unchecked Sendable {
    public let kind = InferenceJobOptions.kind
    public let streamsResults = true
    /// The kind of every task of an inference job: top-k predictions, or every output kept
    /// (the options say which; the task kind says it too, so a result is checked without
    /// reading the options).
    public static func taskKind(_ outputs: InferenceJobOptions.Outputs) -> String { outputs == .tensors ? "outputs" : "inference" }
    let blobs: BlobStore
    let threads: Int
    private let clock = StepClock()

    public init(blobs: BlobStore, threads: Int) {
        self.blobs = blobs
        self.threads = threads
    }

    public func problem(_ spec: JobSpec) -> String? {
        do { return try InferenceJobOptions(spec).problem } catch { return error.message }
    }

    public func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { clock.add(job.id, "prepare", since: t0) }
        return Result { () throws -> PreparedJob in
            let options = try InferenceJobOptions(job.spec)
            let files = try JobTasks.shippedFiles(options.dataset, in: blobs)
            let data = try options.dataset.open(blobPath: blobs.path, files: files)
            let graph = try ModelLoader.loadQDQ(path: blobs.path(job.spec.modelHash))
            // Top-k needs one fixed-size image input; keeping every output takes any model with a batch axis.
            if options.outputs == .tensors {
                _ = try ModelRun(graph: graph, options: PlanOptions(isa: .best, threads: threads, fuse: true))
            } else {
                _ = try ModelLoader.imageInput(of: graph)
            }
            return PreparedJob(tasks: JobTasks.split(0..<data.count, size: options.batch, job: job.id, kind: Self.taskKind(options.outputs), first: 0,
                                                     dataset: options.dataset, files: files))
        }.mapError { error in
            clock.drop(job.id)
            return error as? JobFailure ?? JobFailure(JobTasks.describe(error))
        }
    }

    public func check(_ r: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String? {
        switch task.kind {
        case Self.taskKind(.topk): return InferenceOutputs.predictionsProblem(r, task, unreadableAllowed: true)
        case Self.taskKind(.tensors): return InferenceOutputs.groupsProblem(r, task)
        default: return "an inference job has no '\(task.kind)' tasks"
        }
    }

    public func ended(_ job: JobRecord) {
        clock.drop(job.id)
    }

    /// The job's summary: images, wall time and throughput.
    public func finalize(_ job: JobRecord, _ tasks: [TaskRecord]) -> Result<FinalizedJob, JobFailure> {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let images = tasks.reduce(0) { $0 + $1.count }
        let wall = Date().timeIntervalSince1970 - job.created
        struct Summary: Encodable {
            var images: Int, wallSeconds: Double, imagesPerSecond: Double
            enum CodingKeys: String, CodingKey { case images, wallSeconds = "wall_seconds", imagesPerSecond = "images_per_second" }
        }
        let summary = Summary(images: images, wallSeconds: wall, imagesPerSecond: Double(images) / max(wall, 1e-9))
        return .success(clock.finish(FinalizedJob(artifacts: [], summary: JobTasks.json(summary)), job.id, "finalize", since: t0))
    }
}
