import Foundation
import OctetCluster

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

    /// Why `r` does not hold one well-formed prediction per sample of `task`, in order, or nil.
    static func predictionsProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord) -> String? {
        let predictions: [Octet_Jobs_Prediction]
        do { predictions = try decode(r).predictions } catch { return "\(error)" }
        guard predictions.count == task.count else { return "\(predictions.count) predictions for \(task.count) samples" }
        for (i, p) in predictions.enumerated() where Int(p.index) != task.start + i || p.classes.isEmpty || p.classes.count != p.scores.count {
            return "prediction \(i) is malformed"
        }
        return nil
    }

    /// Why `r`'s output groups do not cover `task`'s samples in order with float32 tensors of
    /// consistent sizes, or nil.
    static func groupsProblem(_ r: Octet_Wire_TaskResult, _ task: TaskRecord) -> String? {
        let groups: [Octet_Jobs_OutputGroup]
        do { groups = try decode(r).outputGroups } catch { return "\(error)" }
        var next = task.start
        for g in groups {
            guard Int(g.start) == next, g.count > 0, !g.tensors.isEmpty else { return "output groups do not cover samples \(task.start)..<\(task.end) in order" }
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
            next += Int(g.count)
        }
        return next == task.end ? nil : "output groups cover samples \(task.start)..<\(next), expected ..<\(task.end)"
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

    /// The output lines of an inference task's result, for `ClusterClient.streamResults`: one
    /// prediction line per sample (top-k), or, when every output is kept, the task's `.npz`
    /// shard written into `directory` and one index line per sample.
    public static func lines(of r: Octet_Wire_TaskResult, shardDirectory directory: String) throws -> [String] {
        let output = try decode(r)
        if !output.outputGroups.isEmpty { return try TensorShard.write(output.outputGroups, task: Int(r.task), to: directory) }
        return try output.predictions.map { p in
            guard let line = PredictionLine(p) else { throw JobFailure("task \(r.task) has a prediction without classes") }
            return line.json()
        }
    }
}
