import Foundation

/// Runs the tasks of one or more job kinds on a worker (the worker side of a `JobHandler`).
/// `prepare` (the next task's input) and `run` (the current task) may run at once on two
/// threads.
public protocol TaskRunner: Sendable {
    /// The job kinds it runs (`JobSpec.kind`).
    var kinds: [String] { get }
    /// Reads and preprocesses a queued task's input ahead of its computation (while another
    /// task computes); nil when the task has nothing to prepare. An error is kept for `run`.
    func prepare(_ a: Octet_Wire_TaskAssignment) -> PreparedInput?
    /// Runs task `a` (with its `prepared` input, when one was made for it); its result's
    /// payload and timings are filled in, the worker stamps the task's identity.
    func run(_ a: Octet_Wire_TaskAssignment, prepared: PreparedInput?) throws -> Octet_Wire_TaskResult
    /// Whether `error` is permanent (the job's input is bad: it fails) or another worker could
    /// avoid it (the task is retried elsewhere).
    func isPermanent(_ error: any Error) -> Bool
}

/// A task's input prepared ahead of its computation, opaque to the worker.
public struct PreparedInput: Sendable {
    /// The task it was prepared for (`TaskKey.assignment`).
    public let key: String
    public let input: Result<any Sendable, TaskError>
    public let seconds: Double

    public init(for a: Octet_Wire_TaskAssignment, input: Result<any Sendable, TaskError>, seconds: Double) {
        self.key = PreparedInput.key(a)
        self.input = input
        self.seconds = seconds
    }

    /// Whether it was prepared for `a` (this attempt of this task).
    public func isFor(_ a: Octet_Wire_TaskAssignment) -> Bool { key == Self.key(a) }

    static func key(_ a: Octet_Wire_TaskAssignment) -> String { "\(a.jobID)#\(a.task)#\(a.attempt)" }
}

/// The task runners a worker knows, by job kind.
public struct TaskRunners: Sendable {
    let byKind: [String: any TaskRunner]

    public init(_ runners: [any TaskRunner]) {
        var map: [String: any TaskRunner] = [:]
        for r in runners { for k in r.kinds where map[k] == nil { map[k] = r } }
        byKind = map
    }

    public subscript(kind: String) -> (any TaskRunner)? { byKind[kind] }

    /// Runs `a` on its kind's runner, stamped with the task's identity; a kind without a runner
    /// is a permanent error (this worker's build does not know it).
    public func run(_ a: Octet_Wire_TaskAssignment, workerID: String, prepared: PreparedInput?) -> Result<Octet_Wire_TaskResult, TaskError> {
        guard let runner = byKind[a.spec.kind] else {
            return .failure(TaskError(message: "this worker runs no '\(a.spec.kind)' jobs (it runs \(byKind.keys.sorted().joined(separator: ", ")))",
                                      permanent: true))
        }
        return Result { () throws -> Octet_Wire_TaskResult in
            var r = try runner.run(a, prepared: prepared)
            r.jobID = a.jobID
            r.task = a.task
            r.attempt = a.attempt
            r.workerID = workerID
            return r
        }.mapError { TaskError(message: String(describing: $0), permanent: runner.isPermanent($0)) }
    }

    /// `a`'s input prepared by its kind's runner, or nil.
    public func prepare(_ a: Octet_Wire_TaskAssignment) -> PreparedInput? {
        byKind[a.spec.kind]?.prepare(a)
    }
}
