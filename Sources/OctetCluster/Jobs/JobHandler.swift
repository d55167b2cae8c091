import Foundation

/// One kind of job as the coordinator runs it: the cluster carries jobs and tasks, and the
/// handler registered for a job's `JobSpec.kind` gives them meaning (what the tasks are, whether
/// a result is acceptable, what finishing the job produces). The cluster imports nothing of
/// the ML stack; the `octet` binary registers the calibration and inference handlers.
///
/// `problem`, `streamsResults` and `check` run on the coordinator's message loop and must be
/// cheap; `prepare` and `finalize` run on a background queue and may be slow. `prepare` and
/// `finalize` must be pure functions of the job and its stored results, so a restarted
/// coordinator can redo them.
public protocol JobHandler: Sendable {
    /// The job kind it runs (`JobSpec.kind`).
    var kind: String { get }
    /// Whether a client streams this kind's task results in task order (`ResultsQuery`): the
    /// coordinator then keeps dispatch within its output window and drops committed results.
    var streamsResults: Bool { get }
    /// Why `spec`'s options cannot run, or nil; on submit.
    func problem(_ spec: JobSpec) -> String?
    /// Plans a job's tasks.
    func prepare(_ job: JobRecord) -> Result<PreparedJob, JobFailure>
    /// Why `result` cannot complete `task` of `job`, or nil. A result refused here is retried
    /// on another worker, so a faulty worker cannot corrupt a job.
    func check(_ result: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String?
    /// Finishes a job whose tasks are all done: its artifacts and summary, or the follow-up
    /// tasks to run first (then it is finalized again with those too).
    func finalize(_ job: JobRecord, _ tasks: [TaskRecord]) -> Result<FinalizedJob, JobFailure>
    /// The job is done or failed (a task failed for good, a write failed): drop what is kept for
    /// it. Runs after any of its `prepare` or `finalize` still running.
    func ended(_ job: JobRecord)
}

/// The job handlers a coordinator knows, by kind.
public struct JobHandlers: Sendable {
    let byKind: [String: any JobHandler]

    public init(_ handlers: [any JobHandler]) {
        byKind = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public subscript(kind: String) -> (any JobHandler)? { byKind[kind] }

    /// The kinds, sorted (error messages).
    public var kinds: [String] { byKind.keys.sorted() }
}

/// What preparing a job decided.
public struct PreparedJob: Sendable {
    public var tasks: [TaskRecord]
    /// The job's context for its workers (`JobRecord.context`).
    public var context: Data
    /// A kernel path a worker must list to take the job's tasks (`JobRecord.requirement`).
    public var requirement: String?

    public init(tasks: [TaskRecord], context: Data = Data(), requirement: String? = nil) {
        self.tasks = tasks
        self.context = context
        self.requirement = requirement
    }
}

/// What finalizing a job produced: the summary and the artifacts, or the tasks to run first.
public struct FinalizedJob: Sendable {
    public var artifacts: [JobRecord.Artifact]
    /// The job's new context for its follow-up tasks (nil: unchanged).
    public var context: Data?
    /// Tasks to run before the job is done (the job is `verifying` meanwhile, then finalized again).
    public var followUpTasks: [TaskRecord]
    public var summary: String?

    public init(artifacts: [JobRecord.Artifact], context: Data? = nil, followUpTasks: [TaskRecord] = [], summary: String?) {
        self.artifacts = artifacts
        self.context = context
        self.followUpTasks = followUpTasks
        self.summary = summary
    }
}

/// A job that cannot complete, and why.
public struct JobFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
