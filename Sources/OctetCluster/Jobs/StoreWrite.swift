/// A change to the coordinator's durable state, as `CoordinatorCore` asks for it
/// (`CoordinatorAction.persist`): the driver writes it with `JobStore.apply`, in order, before it
/// carries out any later action, and reports a failed write back (`CoordinatorEvent.persistFailed`).
public enum StoreWrite: Sendable {
    /// A job's record (created or changed).
    case job(JobRecord)
    /// Tasks' records (created or changed), without touching their results.
    case tasks([TaskRecord])
    /// A task done with its result, in one row.
    case complete(TaskRecord, result: [UInt8])
    /// A job's tasks in the range committed by its client: their results are dropped.
    case dropResults(job: String, Range<Int>)

    /// The job the write belongs to (a failed write fails it).
    public var job: String {
        switch self {
        case .job(let j): j.id
        case .tasks(let list): list.first?.job ?? ""
        case .complete(let t, _): t.job
        case .dropResults(let job, _): job
        }
    }

    /// What it records, for a failure's message ("cannot store <what>").
    public var what: String {
        switch self {
        case .job: "the job's state"
        case .tasks(let list): list.count == 1 ? "task \(list[0].index)'s state" : "\(list.count) tasks"
        case .complete(let t, _): "task \(t.index)'s result"
        case .dropResults: "the client's commit"
        }
    }
}
