import OctetCore
import Foundation
import SwiftProtobuf

extension CoordinatorCore {
    // MARK: Clients

    /// An uploaded chunk: its name and size are checked here (a refusal is counted), the rest
    /// where it is stored (`CoordinatorIO`, off the message loop).
    mutating func blobPut(_ peer: PeerID, _ p: Octet_Wire_BlobPut, _ rid: UInt64) -> [CoordinatorAction] {
        if let problem = BlobStore.problem(p, maxSize: settings.maxBlobBytes) { return reject(peer, problem, requestID: rid) }
        return [.storeBlob(peer, rid, p)]
    }

    /// A chunk of a blob, read off the message loop (`CoordinatorIO`), at most what fits a message.
    mutating func blobRequest(_ peer: PeerID, _ r: Octet_Wire_BlobRequest, _ rid: UInt64) -> [CoordinatorAction] {
        guard ContentHash.isValid(r.hash) else { return reject(peer, .refused(.invalidRequest, "blob name is not a SHA-256 hex digest"), requestID: rid) }
        var request = r
        request.length = UInt32(min(Int(r.length == 0 ? UInt32(WireProtocol.blobChunkBytes) : r.length), WireProtocol.blobChunkBytes,
                                    settings.maxMessageBytes - 1024))
        return [.serveBlob(peer, rid, request)]
    }

    mutating func submit(_ peer: PeerID, _ s: Octet_Wire_SubmitJob, _ rid: UInt64) -> [CoordinatorAction] {
        let spec = JobSpec(wire: s.spec)
        if let problem = spec.problem { return reject(peer, .refused(.invalidRequest, problem), requestID: rid) }
        guard let handler = handlers[spec.kind] else {
            return reject(peer, .refused(.invalidRequest, "no handler for '\(spec.kind)' jobs (this coordinator runs \(handlers.kinds.joined(separator: ", ")))"),
                          requestID: rid)
        }
        if let problem = handler.problem(spec) { return reject(peer, .refused(.invalidRequest, problem), requestID: rid) }
        guard blobs.contains(spec.modelHash) else {
            return reject(peer, .refused(.notFound, "model blob \(spec.modelHash) was not uploaded"), requestID: rid)
        }
        if let missing = spec.blobs.first(where: { !blobs.contains($0) }) {
            return reject(peer, .refused(.notFound, "blob \(missing) of the job was not uploaded"), requestID: rid)
        }
        let id = makeJobID()
        var job = JobRecord(id: id, spec: spec, state: .preparing, created: now())
        job.streamsResults = handler.streamsResults
        // Accepted once stored: the reply waits for the write (a failed one fails the job, which the client sees).
        persist(.job(job))
        jobs[id] = job
        tasks[id] = []
        runningSince[id] = uptime()
        logger.info("job submitted", metadata: ["job": "\(id)", "kind": "\(spec.kind)", "model": "\(spec.modelName)"])
        var a = Octet_Wire_JobAccepted()
        a.jobID = id
        return [reply(peer, .accepted(a), rid), .prepare(job)]
    }

    mutating func jobQuery(_ peer: PeerID, _ q: Octet_Wire_JobQuery, _ rid: UInt64) -> [CoordinatorAction] {
        guard let job = jobs[q.jobID] else { return reject(peer, .refused(.notFound, "no job '\(q.jobID)'"), requestID: rid) }
        return [reply(peer, .jobReport(report(job)), rid)]
    }

    func report(_ job: JobRecord) -> Octet_Wire_JobReport {
        let list = tasks[job.id] ?? []
        var r = Octet_Wire_JobReport()
        r.jobID = job.id
        r.kind = job.spec.kind
        r.state = job.state.rawValue
        r.phase = job.state.rawValue
        r.tasksTotal = UInt32(list.count)
        r.tasksDone = UInt32(doneCount[job.id] ?? 0)
        r.error = job.error ?? ""
        r.etaSeconds = eta(job)
        r.summaryJson = job.summary ?? ""
        r.artifacts = job.artifacts.map { a in
            var w = Octet_Wire_Artifact()
            w.name = a.name
            w.hash = a.hash
            w.size = a.size
            return w
        }
        return r
    }

    /// Results of a streaming job's (inference) finished tasks, in order, from `q.fromTask`; asking from N
    /// commits every task below N (their stored results are dropped and the dispatch window moves).
    /// The results are read off the message loop (`CoordinatorIO`), after the writes before them.
    mutating func resultsQuery(_ peer: PeerID, _ q: Octet_Wire_ResultsQuery, _ rid: UInt64) -> [CoordinatorAction] {
        guard let job = jobs[q.jobID] else { return reject(peer, .refused(.notFound, "no job '\(q.jobID)'"), requestID: rid) }
        guard job.streamsResults else {
            return reject(peer, .refused(.invalidRequest, "job \(job.id) is a \(job.spec.kind) job, which does not stream results"), requestID: rid)
        }
        let list = tasks[job.id] ?? []
        let from = Int(q.fromTask), committed = committed[job.id] ?? 0
        guard from >= committed else {
            return reject(peer, .refused(.notFound, "tasks below \(committed) of job \(job.id) were already committed by a client and dropped; " +
                                                   "resume from that output's commit log"), requestID: rid)
        }
        if from > committed {
            guard from <= list.count, !list[committed..<from].contains(where: { $0.state != .done }) else {
                return reject(peer, .refused(.invalidRequest, "task \(from - 1) of job \(job.id) is not finished, so no client has written it"),
                              requestID: rid)
            }
            persist(.dropResults(job: job.id, committed..<from))
            self.committed[job.id] = from
        }
        var batch = Octet_Wire_ResultsBatch()
        batch.jobID = job.id
        batch.firstTask = UInt32(from)
        batch.tasksTotal = UInt32(list.count)
        batch.state = job.state.rawValue
        batch.error = job.error ?? ""
        var end = from
        let maxTasks = min(max(Int(q.maxTasks), 1), 1024)
        while end < list.count, end - from < maxTasks, list[end].state == .done { end += 1 }
        return [.serveResults(ResultsServing(peer: peer, requestID: rid, batch: batch, tasks: from..<end, maxBytes: settings.maxMessageBytes / 2))]
    }

    /// Remaining time at the job's rate so far (0 when unknown or finished).
    func eta(_ job: JobRecord) -> Double {
        guard !job.state.isFinished, let since = runningSince[job.id] else { return 0 }
        let count = tasks[job.id]?.count ?? 0, done = doneCount[job.id] ?? 0
        guard done > 0, done < count else { return 0 }
        return max(0, uptime() - since) / Double(done) * Double(count - done)
    }

    // MARK: Results

    mutating func result(_ peer: PeerID, _ r: Octet_Wire_TaskResult, _ rid: UInt64) -> [CoordinatorAction] {
        let key = TaskKey(job: r.jobID, index: Int(r.task))
        guard let job = jobs[r.jobID], let count = tasks[r.jobID]?.count, key.index >= 0, key.index < count,
              var task = tasks[r.jobID]?[key.index] else {
            release(peer, key)
            return reject(peer, .refused(.notFound, "result for unknown task \(r.jobID)#\(r.task)"), requestID: rid)
        }
        let assigned = assignedAt[key]
        let held = release(peer, key)
        guard task.state != .done || settings.simulatedBug == .acceptDuplicateResults, !job.state.isFinished else {
            duplicateResults += 1
            logger.info("duplicate result ignored", metadata: ["job": "\(key.job)", "task": "\(key.index)", "worker": "\(r.workerID)"])
            return []
        }
        if let problem = validate(r, task: task, job: job) {
            logger.warning("invalid result", metadata: ["job": "\(key.job)", "task": "\(key.index)", "problem": "\(problem)"])
            let refusal = reject(peer, .refused(.invalidRequest, "invalid result: \(problem)"), requestID: rid)
            // A late one from a worker that lost the task must not requeue it under its new holder.
            return heldElsewhere(task, held: held) ? refusal : refusal + retryOrFail(key, problem)
        }
        task.state = .done
        task.worker = r.workerID
        let bytes: [UInt8]
        do { bytes = try r.serializedBytes() } catch {
            return reject(peer, .malformed("result does not encode again: \(error)"), requestID: rid)
        }
        persist(.complete(task, result: bytes))
        tasks[key.job]![key.index] = task  // in place: a job's list is never copied per result
        doneCount[key.job, default: 0] += 1
        assignedAt[key] = nil
        acceptedResults += 1
        imagesDone += task.count
        metrics.taskDone(task.kind, images: task.count)
        metrics.taskTimes(task.kind, latency: assigned.map { uptime() - $0 }, workerSeconds: r.seconds,
                          decode: r.decodeSeconds, compute: r.computeSeconds)
        return advance(key.job)
    }

    /// Why a result cannot be accepted for `task`, or nil: its job's handler decides.
    func validate(_ r: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String? {
        guard let handler = handlers[job.spec.kind] else { return "no handler for '\(job.spec.kind)' jobs" }
        return handler.check(r, task: task, job: job)
    }

    mutating func failure(_ peer: PeerID, _ f: Octet_Wire_TaskFailure) -> [CoordinatorAction] {
        let key = TaskKey(job: f.jobID, index: Int(f.task))
        let held = release(peer, key)
        guard var job = jobs[f.jobID], let list = tasks[f.jobID], key.index < list.count, list[key.index].state != .done else { return [] }
        guard !heldElsewhere(list[key.index], held: held) else {
            logger.info("late failure ignored", metadata: ["job": "\(key.job)", "task": "\(key.index)", "worker": "\(f.workerID)"])
            return []
        }
        logger.warning("task failed", metadata: ["job": "\(key.job)", "task": "\(key.index)", "worker": "\(f.workerID)", "error": "\(f.message)"])
        if f.permanent {
            fail(&job, "task \(key.index) on worker \(f.workerID): \(f.message)")
            return []
        }
        return retryOrFail(key, f.message)
    }

    /// Whether `task` is assigned to a worker other than the sender (`held`: the sender held it).
    func heldElsewhere(_ task: TaskRecord, held: Bool) -> Bool {
        !held && task.state == .assigned
    }

    mutating func retryOrFail(_ key: TaskKey, _ why: String) -> [CoordinatorAction] {
        guard var job = jobs[key.job], let count = tasks[key.job]?.count, key.index >= 0, key.index < count,
              let attempts = tasks[key.job]?[key.index].attempts else { return [] }
        if attempts >= settings.maxTaskAttempts {
            fail(&job, "task \(key.index) failed \(attempts) times; last: \(why)")
            return []
        }
        tasks[key.job]![key.index].state = .pending
        tasks[key.job]![key.index].worker = nil
        firstPending[key.job] = min(firstPending[key.job] ?? 0, key.index)
        persist(.tasks([tasks[key.job]![key.index]]))
        return []
    }

    /// Fails the job in memory and asks for it to be stored; a store that cannot record it is
    /// logged with both causes (`persistFailed`: the job is failed in memory, so nothing runs on).
    mutating func fail(_ job: inout JobRecord, _ message: String) {
        job.state = .failed
        job.error = message
        job.finished = now()
        jobs[job.id] = job
        wireSpecs[job.id] = nil  // no more assignments
        persist(.job(job))
        logger.error("job failed", metadata: ["job": "\(job.id)", "error": "\(message)"])
        ended.append(job)
    }

    // MARK: Job lifecycle

    /// Moves a job on when all its current tasks are done.
    mutating func advance(_ id: String) -> [CoordinatorAction] {
        guard var job = jobs[id], let list = tasks[id] else { return [] }
        guard job.state == .running || job.state == .verifying, doneCount[id, default: 0] == list.count else { return [] }
        job.state = .finalizing
        persist(.job(job))
        jobs[id] = job
        return [.finalize(job, list)]
    }

    mutating func prepared(_ id: String, _ result: Result<PreparedJob, JobFailure>) -> [CoordinatorAction] {
        guard var job = jobs[id], job.state == .preparing else { return [] }
        switch result {
        case .failure(let f):
            fail(&job, f.message)
            return []
        case .success(let p):
            job.context = p.context
            job.requirement = p.requirement
            job.state = .running
            if !p.tasks.isEmpty { persist(.tasks(p.tasks)) }
            persist(.job(job))
            jobs[id] = job
            tasks[id] = p.tasks
            doneCount[id] = p.tasks.filter { $0.state == .done }.count
            firstPending[id] = 0
            runningSince[id] = uptime()
            logger.info("job prepared", metadata: ["job": "\(id)", "tasks": "\(p.tasks.count)"])
            return advance(id)
        }
    }

    mutating func finalized(_ id: String, _ result: Result<FinalizedJob, JobFailure>) -> [CoordinatorAction] {
        guard var job = jobs[id], job.state == .finalizing else { return [] }
        switch result {
        case .failure(let f):
            fail(&job, f.message)
            return []
        case .success(let f):
            job.artifacts = f.artifacts
            if let c = f.context { job.context = c }
            if let s = f.summary { job.summary = s }
            var list = tasks[id] ?? []
            if !f.followUpTasks.isEmpty {
                list += f.followUpTasks
                job.state = .verifying
                runningSince[id] = uptime()
            } else {
                job.state = .done
                job.finished = now()
                wireSpecs[id] = nil  // no more assignments
                logger.info("job done", metadata: ["job": "\(id)"])
            }
            if !f.followUpTasks.isEmpty { persist(.tasks(f.followUpTasks)) }
            persist(.job(job))
            jobs[id] = job
            tasks[id] = list
            if job.state == .done { ended.append(job) }
            return []
        }
    }
}
