import OctetCore
import Foundation
import OctetCalibration
import OctetPipeline
import SwiftProtobuf

extension CoordinatorCore {
    // MARK: Clients

    func blobPut(_ peer: PeerID, _ p: Octet_Wire_BlobPut, _ rid: UInt64) -> [CoordinatorAction] {
        do {
            return [reply(peer, .blobAck(try blobs.receive(p, maxSize: settings.maxBlobBytes)), rid)]
        } catch {
            return reject(peer, error, requestID: rid)
        }
    }

    func blobRequest(_ peer: PeerID, _ r: Octet_Wire_BlobRequest, _ rid: UInt64) -> [CoordinatorAction] {
        guard ContentHash.isValid(r.hash) else { return reject(peer, .refused(.invalidRequest, "blob name is not a SHA-256 hex digest"), requestID: rid) }
        let length = min(Int(r.length == 0 ? UInt32(WireProtocol.blobChunkBytes) : r.length), WireProtocol.blobChunkBytes,
                         settings.maxMessageBytes - 1024)
        do {
            let (data, total) = try blobs.read(r.hash, offset: r.offset, length: length)
            var c = Octet_Wire_BlobChunk()
            c.hash = r.hash
            c.offset = r.offset
            c.totalSize = total
            c.data = Data(data)
            return [reply(peer, .blobChunk(c), rid)]
        } catch {
            return reject(peer, error, requestID: rid)
        }
    }

    func submit(_ peer: PeerID, _ s: Octet_Wire_SubmitJob, _ rid: UInt64) -> [CoordinatorAction] {
        let spec: JobSpec
        do { spec = try JobSpec.parse(s.jobSpecJson) } catch { return reject(peer, .refused(.invalidRequest, "\(error)"), requestID: rid) }
        if let problem = spec.problem { return reject(peer, .refused(.invalidRequest, problem), requestID: rid) }
        guard blobs.contains(spec.modelHash) else {
            return reject(peer, .refused(.notFound, "model blob \(spec.modelHash) was not uploaded"), requestID: rid)
        }
        if let missing = spec.dataset.files?.first(where: { !blobs.contains($0.hash) }) {
            return reject(peer, .refused(.notFound, "shipped file \(missing.name) was not uploaded"), requestID: rid)
        }
        let id = makeJobID()
        var job = JobRecord(id: id, spec: spec, state: .preparing, created: now())
        job.isa = spec.kind == .calibrate ? (spec.isa ?? settings.defaultISA) : spec.isa
        do { try store.save(job) } catch { return reject(peer, .transport("cannot store the job: \(error)"), requestID: rid) }
        jobs[id] = job
        tasks[id] = []
        runningSince[id] = now()
        logger.info("job submitted", metadata: ["job": "\(id)", "kind": "\(spec.kind.rawValue)", "model": "\(spec.modelName)"])
        var a = Octet_Wire_JobAccepted()
        a.jobID = id
        return [reply(peer, .accepted(a), rid), .prepare(job)]
    }

    func jobQuery(_ peer: PeerID, _ q: Octet_Wire_JobQuery, _ rid: UInt64) -> [CoordinatorAction] {
        guard let job = jobs[q.jobID] else { return reject(peer, .refused(.notFound, "no job '\(q.jobID)'"), requestID: rid) }
        return [reply(peer, .jobReport(report(job)), rid)]
    }

    func report(_ job: JobRecord) -> Octet_Wire_JobReport {
        let list = tasks[job.id] ?? []
        var r = Octet_Wire_JobReport()
        r.jobID = job.id
        r.kind = job.spec.kind.rawValue
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

    /// Results of an inference job's finished tasks, in order, from `q.fromTask`; asking from N
    /// commits every task below N (their stored results are dropped and the dispatch window moves).
    func resultsQuery(_ peer: PeerID, _ q: Octet_Wire_ResultsQuery, _ rid: UInt64) -> [CoordinatorAction] {
        guard var job = jobs[q.jobID] else { return reject(peer, .refused(.notFound, "no job '\(q.jobID)'"), requestID: rid) }
        guard job.spec.kind == .infer else {
            return reject(peer, .refused(.invalidRequest, "job \(job.id) is a \(job.spec.kind.rawValue) job: only inference streams results"), requestID: rid)
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
            do { try store.dropResults(job: job.id, committed..<from) } catch {
                fail(&job, "cannot store the client's commit: \(error)")
                return reject(peer, .transport("cannot store the commit: \(error)"), requestID: rid)
            }
            self.committed[job.id] = from
        }
        var batch = Octet_Wire_ResultsBatch()
        batch.jobID = job.id
        batch.firstTask = UInt32(from)
        batch.tasksTotal = UInt32(list.count)
        batch.state = job.state.rawValue
        batch.error = job.error ?? ""
        var bytes = 0, index = from
        let maxTasks = min(max(Int(q.maxTasks), 1), 1024)
        while index < list.count, index - from < maxTasks, list[index].state == .done {
            let stored: [UInt8]?
            do { stored = try store.result(job: job.id, index: index) } catch {
                return reject(peer, .transport("cannot read task \(index)'s result: \(error)"), requestID: rid)
            }
            guard let stored, let r = try? Octet_Wire_TaskResult(serializedBytes: stored) else {
                return reject(peer, .transport("task \(index) of job \(job.id) has no readable stored result"), requestID: rid)
            }
            // The reply stays well inside the message limit.
            if index > from, bytes + stored.count > settings.maxMessageBytes / 2 { break }
            bytes += stored.count
            batch.results.append(r)
            index += 1
        }
        return [reply(peer, .resultsBatch(batch), rid)]
    }

    /// Remaining time at the job's rate so far (0 when unknown or finished).
    func eta(_ job: JobRecord) -> Double {
        guard !job.state.isFinished, let since = runningSince[job.id] else { return 0 }
        let count = tasks[job.id]?.count ?? 0, done = doneCount[job.id] ?? 0
        guard done > 0, done < count else { return 0 }
        return (now() - since) / Double(done) * Double(count - done)
    }

    // MARK: Results

    func result(_ peer: PeerID, _ r: Octet_Wire_TaskResult, _ rid: UInt64) -> [CoordinatorAction] {
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
        let bytes: [UInt8] = (try? r.serializedBytes()) ?? []
        do { try store.complete(task, result: bytes) } catch {
            var j = job
            fail(&j, "cannot store a result: \(error)")
            return []
        }
        tasks[key.job]![key.index] = task  // in place: a job's list is never copied per result
        doneCount[key.job, default: 0] += 1
        assignedAt[key] = nil
        acceptedResults += 1
        imagesDone += task.count
        metrics.taskDone(task.kind.rawValue, images: task.count)
        metrics.taskTimes(task.kind.rawValue, latency: assigned.map { now() - $0 }, workerSeconds: r.seconds,
                          decode: r.decodeSeconds, compute: r.computeSeconds)
        return advance(key.job)
    }

    /// Why a result cannot be accepted for `task`, or nil.
    func validate(_ r: Octet_Wire_TaskResult, task: TaskRecord, job: JobRecord) -> String? {
        switch task.kind {
        case .calibration:
            do {
                let set = try HistogramSet.decode(try Compression.unpack(r.histograms))
                let got = Set(set.keys), expected = Set(job.watched)
                guard got == expected else {
                    let missing = expected.subtracting(got).sorted().first.map { ", missing '\($0)'" } ?? ""
                    let unexpected = got.subtracting(expected).sorted().first.map { ", unexpected '\($0)'" } ?? ""
                    return "histograms of \(got.count) tensors, expected \(expected.count)\(missing)\(unexpected)"
                }
            } catch {
                return "\(error)"
            }
        case .inference where job.spec.outputs == .tensors:
            var next = task.start
            for g in r.outputGroups {
                guard Int(g.start) == next, g.count > 0, !g.tensors.isEmpty else { return "output groups do not cover samples \(task.start)..<\(task.end) in order" }
                for t in g.tensors {
                    // A worker's shape is external: its byte count must not overflow.
                    let bytes = (t.shape.map(Int.init) + [4]).reduce(Optional(1)) { acc, d in
                        acc.flatMap { a in let (p, overflow) = a.multipliedReportingOverflow(by: d); return overflow ? nil : p }
                    }
                    guard let bytes, t.shape.first.map(Int.init) == Int(g.count), t.data.elementSize == 4,
                          Int(exactly: t.data.rawSize) == bytes else {
                        return "output '\(t.name)' of shape \(t.shape) does not hold \(g.count) samples of float32"
                    }
                }
                next += Int(g.count)
            }
            guard next == task.end else { return "output groups cover samples \(task.start)..<\(next), expected ..<\(task.end)" }
        case .analysis:
            return samplesProblem(r, task, "weight-effect sums") { try WeightEffectSample.decode($0).map(\.sample) }
        case .report:
            return samplesProblem(r, task, "report sums") { try ReportSampleSums.decode($0).map(\.sample) }
        case .verification, .inference:
            guard r.predictions.count == task.count else { return "\(r.predictions.count) predictions for \(task.count) samples" }
            for (i, p) in r.predictions.enumerated() where Int(p.index) != task.start + i || p.classes.isEmpty || p.classes.count != p.scores.count {
                return "prediction \(i) is malformed"
            }
        }
        return nil
    }

    /// Why a payload of per-sample sums (decoded to its sample indices by `samples`) does not hold
    /// exactly `task`'s samples in order, or nil.
    func samplesProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord, _ what: String, _ samples: ([UInt8]) throws -> [Int]) -> String? {
        do {
            let got = try samples(try Compression.unpack(r.payload))
            return got == Array(task.start..<task.end) ? nil : "\(what) of samples \(got), expected \(task.start)..<\(task.end)"
        } catch {
            return "\(error)"
        }
    }

    func failure(_ peer: PeerID, _ f: Octet_Wire_TaskFailure) -> [CoordinatorAction] {
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

    func retryOrFail(_ key: TaskKey, _ why: String) -> [CoordinatorAction] {
        guard var job = jobs[key.job], let count = tasks[key.job]?.count, key.index >= 0, key.index < count,
              let attempts = tasks[key.job]?[key.index].attempts else { return [] }
        if attempts >= settings.maxTaskAttempts {
            fail(&job, "task \(key.index) failed \(attempts) times; last: \(why)")
            return []
        }
        tasks[key.job]![key.index].state = .pending
        tasks[key.job]![key.index].worker = nil
        firstPending[key.job] = min(firstPending[key.job] ?? 0, key.index)
        do { try store.save([tasks[key.job]![key.index]]) } catch { fail(&job, "cannot store task \(key.index)'s state: \(error)") }
        return []
    }

    /// Fails the job in memory and in the store; a store that cannot record it is logged with
    /// both causes (the job is failed in memory, so nothing runs on).
    func fail(_ job: inout JobRecord, _ message: String) {
        job.state = .failed
        job.error = message
        job.finished = now()
        jobs[job.id] = job
        specJSON[job.id] = nil  // no more assignments
        do { try store.save(job) } catch {
            logger.critical("cannot store a job's failure", metadata: ["job": "\(job.id)", "error": "\(message)", "store": "\(error)"])
        }
        logger.error("job failed", metadata: ["job": "\(job.id)", "error": "\(message)"])
    }

    // MARK: Job lifecycle

    /// Moves a job on when all its current tasks are done.
    func advance(_ id: String) -> [CoordinatorAction] {
        guard var job = jobs[id], let list = tasks[id] else { return [] }
        guard job.state == .running || job.state == .verifying, doneCount[id, default: 0] == list.count else { return [] }
        job.state = .finalizing
        do { try store.save(job) } catch {
            fail(&job, "cannot store the job's state: \(error)")
            return []
        }
        jobs[id] = job
        return [.finalize(job, list)]
    }

    func prepared(_ id: String, _ result: Result<PreparedJob, JobFailure>) -> [CoordinatorAction] {
        guard var job = jobs[id], job.state == .preparing else { return [] }
        switch result {
        case .failure(let f):
            fail(&job, f.message)
            return []
        case .success(let p):
            job.watched = p.watched
            if let isa = p.isa { job.isa = isa }
            job.state = .running
            do {
                try store.save(p.tasks)
                try store.save(job)
            } catch {
                fail(&job, "cannot store tasks: \(error)")
                return []
            }
            jobs[id] = job
            tasks[id] = p.tasks
            doneCount[id] = p.tasks.filter { $0.state == .done }.count
            firstPending[id] = 0
            runningSince[id] = now()
            logger.info("job prepared", metadata: ["job": "\(id)", "tasks": "\(p.tasks.count)"])
            return advance(id)
        }
    }

    func finalized(_ id: String, _ result: Result<FinalizedJob, JobFailure>) -> [CoordinatorAction] {
        guard var job = jobs[id], job.state == .finalizing else { return [] }
        switch result {
        case .failure(let f):
            fail(&job, f.message)
            return []
        case .success(let f):
            job.artifacts = f.artifacts
            if let h = f.int8Hash { job.int8Hash = h }
            if let s = f.summary { job.summary = s }
            var list = tasks[id] ?? []
            if !f.followUpTasks.isEmpty {
                list += f.followUpTasks
                job.state = .verifying
                runningSince[id] = now()
            } else {
                job.state = .done
                job.finished = now()
                specJSON[id] = nil  // no more assignments
                logger.info("job done", metadata: ["job": "\(id)"])
            }
            do {
                try store.save(f.followUpTasks)
                try store.save(job)
            } catch {
                fail(&job, "cannot store the job: \(error)")
                return []
            }
            jobs[id] = job
            tasks[id] = list
            return []
        }
    }
}
