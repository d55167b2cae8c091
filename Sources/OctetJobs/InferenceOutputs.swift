import Foundation
import OctetCluster
import OctetPipeline

/// The payload of inference and verification tasks (`Octet_Jobs_InferenceOutput`, packed into
/// `TaskResult.payload`): how a worker packs it, how the coordinator checks it and how a client
/// turns it into output lines.
public enum InferenceOutputs {
    /// `output` as a task result's payload.
    static func pack(_ output: Octet_Jobs_InferenceOutput) -> Octet_Wire_Compressed {
        Compression.pack((try? output.serializedBytes()) ?? [], elementSize: 1)
    }

    /// The output a task result carries.
    public static func decode(_ r: Octet_Wire_TaskResult) throws -> Octet_Jobs_InferenceOutput {
        do { return try Octet_Jobs_InferenceOutput(serializedBytes: try Compression.unpack(r.payload)) } catch {
            throw JobFailure("task \(r.task)'s output cannot be read: \(error)")
        }
    }

    /// An output tensor's float32 values packed on their own (byte-shuffled by 4).
    static func tensor(name: String, shape: [Int], values: [Float]) -> Octet_Jobs_OutputTensor {
        let c = Compression.pack(values.withUnsafeBytes { [UInt8]($0) }, elementSize: 4)
        var o = Octet_Jobs_OutputTensor()
        o.name = name
        o.shape = shape.map { UInt32(clamping: $0) }
        o.rawSize = c.rawSize
        o.elementSize = c.elementSize
        o.lz4 = c.lz4
        return o
    }

    /// An output tensor's float32 values.
    static func values(_ t: Octet_Jobs_OutputTensor) throws -> [Float] {
        var c = Octet_Wire_Compressed()
        c.rawSize = t.rawSize
        c.elementSize = t.elementSize
        c.lz4 = t.lz4
        let raw = try Compression.unpack(c)
        return raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The wire form of a sample that could not be read.
    static func unreadable(_ u: UnreadableSample) -> Octet_Jobs_UnreadableSample {
        var w = Octet_Jobs_UnreadableSample()
        w.index = UInt32(clamping: u.index)
        w.name = u.name
        w.error = u.error.description
        return w
    }

    /// Why the samples `covered` (each part in increasing order) and `unreadable` do not cover
    /// `task`'s samples each exactly once, or nil. Every unreadable sample must say why.
    static func coverageProblem(_ covered: [Int], _ unreadable: [Octet_Jobs_UnreadableSample], _ task: TaskRecord) -> String? {
        let skipped = unreadable.map { Int($0.index) }
        guard zip(covered, covered.dropFirst()).allSatisfy({ $0 < $1 }), zip(skipped, skipped.dropFirst()).allSatisfy({ $0 < $1 }) else {
            return "the samples of task \(task.index) are not in order"
        }
        if let u = unreadable.first(where: { $0.error.isEmpty }) { return "unreadable sample \(u.index) does not say why" }
        guard (covered + skipped).sorted() == Array(task.start..<task.end) else {
            return "\(covered.count) outputs and \(skipped.count) unreadable samples do not cover samples \(task.start)..<\(task.end) once each"
        }
        return nil
    }

    /// Why `r` does not hold one well-formed prediction per readable sample of `task`, in order,
    /// with the others listed as unreadable (only where `unreadableAllowed`: an inference task's), or nil.
    static func predictionsProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord, unreadableAllowed: Bool) -> String? {
        let output: Octet_Jobs_InferenceOutput
        do { output = try decode(r) } catch { return "\(error)" }
        if !unreadableAllowed, let u = output.unreadable.first { return "sample \(u.index) is listed as unreadable where every sample must have a prediction" }
        guard output.predictions.count + output.unreadable.count == task.count else {
            return "\(output.predictions.count) predictions and \(output.unreadable.count) unreadable samples for \(task.count) samples"
        }
        for (i, p) in output.predictions.enumerated() where p.classes.isEmpty || p.classes.count != p.scores.count {
            return "prediction \(i) is malformed"
        }
        return coverageProblem(output.predictions.map { Int($0.index) }, output.unreadable, task)
    }

    /// Why `r`'s output groups (float32 tensors of consistent sizes, in order) and unreadable
    /// samples do not cover `task`'s samples, or nil.
    static func groupsProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord) -> String? {
        let output: Octet_Jobs_InferenceOutput
        do { output = try decode(r) } catch { return "\(error)" }
        var covered: [Int] = []
        for g in output.outputGroups {
            guard g.count > 0, !g.tensors.isEmpty, Int(g.start) >= task.start, Int(g.start) + Int(g.count) <= task.end else {
                return "output groups do not lie within samples \(task.start)..<\(task.end)"
            }
            for t in g.tensors {
                // A worker's shape is external: its byte count must not overflow.
                let bytes = (t.shape.map(Int.init) + [4]).reduce(Optional(1)) { acc, d in
                    acc.flatMap { a in let (p, overflow) = a.multipliedReportingOverflow(by: d); return overflow ? nil : p }
                }
                guard let bytes, t.shape.first.map(Int.init) == Int(g.count), t.elementSize == 4, Int(exactly: t.rawSize) == bytes else {
                    return "output '\(t.name)' of shape \(t.shape) does not hold \(g.count) samples of float32"
                }
                // The client writes it later: it must decode now, or the output could never finish.
                do { _ = try values(t) } catch { return "output '\(t.name)': \(error)" }
            }
            covered += Int(g.start)..<(Int(g.start) + Int(g.count))
        }
        guard covered.count + output.unreadable.count == task.count else {
            return "output groups cover \(covered.count) and \(output.unreadable.count) are unreadable of \(task.count) samples"
        }
        return coverageProblem(covered, output.unreadable, task)
    }

    /// Why a payload of per-sample sums (decoded to its sample indices by `samples`) does not hold
    /// exactly `task`'s samples in order, or nil.
    static func samplesProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord, _ what: String, _ samples: ([UInt8]) throws -> [Int]) -> String? {
        do {
            let got = try samples(try Compression.unpack(r.payload))
            return got == Array(task.start..<task.end) ? nil : "\(what) of samples \(got), expected \(task.start)..<\(task.end)"
        } catch {
            return "\(error)"
        }
    }

    /// The output lines of an inference task's result, for `ClusterClient.streamResults`, in
    /// sample order: one prediction line per readable sample (top-k), or, when every output is kept,
    /// the task's `.npz` shard written into `directory` and one index line per readable sample; an
    /// `UnreadableLine` for each sample that could not be read.
    public static func lines(of r: Octet_Wire_TaskResult, shardDirectory directory: String) throws -> [String] {
        let output = try decode(r)
        var lines: [(index: Int, line: String)] = output.unreadable.map { (Int($0.index), UnreadableLine($0).json()) }
        if !output.outputGroups.isEmpty {
            let written = try TensorShard.write(output.outputGroups, task: Int(r.task), to: directory)
            lines += written.map { ($0.index, $0.json) }
        } else {
            lines += try output.predictions.map { p in
                guard let line = PredictionLine(p) else { throw JobFailure("task \(r.task) has a prediction without classes") }
                return (line.index, line.json())
            }
        }
        return lines.sorted { $0.index < $1.index }.map(\.line)
    }
}
