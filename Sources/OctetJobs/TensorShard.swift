import Foundation
import OctetCluster
import OctetData

/// The output of an inference task that keeps every model output: one `.npz` shard per task
/// (`shard-NNNNNN.npz`, task index) holding each output with the samples on its first axis, and one
/// index line per sample saying where its rows are. A task whose samples have different input
/// sizes (a detector's letterboxed images), or an unreadable sample between others, gives several
/// groups (runs of consecutive samples); their arrays are then named `OUTPUT@FIRST` (the group's
/// first sample) instead of `OUTPUT`.
public enum TensorShard {
    /// One sample's index line.
    public struct Line: OutputLine, Codable, Sendable, Hashable {
        public var index: Int
        public var file: String
        public var shard: String
        /// Output name → (array name in the shard, row).
        public var rows: [String: Row]

        public struct Row: Codable, Sendable, Hashable {
            public var array: String
            public var row: Int
        }
    }

    /// Writes the shard of task `task`'s output `groups` into `directory` (durably: written
    /// beside, flushed, renamed) and returns its samples' index lines as JSON, with their indices.
    static func write(_ groups: [Octet_Jobs_OutputGroup], task: Int, to directory: String) throws -> [(index: Int, json: String)] {
        let name = String(format: "shard-%06d.npz", task)
        let path = (directory as NSString).appendingPathComponent(name), temp = path + ".tmp"
        let writer = try NPZWriter(path: temp)
        var lines: [(index: Int, json: String)] = []
        for g in groups {
            var rows: [String: Line.Row] = [:]
            for t in g.tensors {
                let key = groups.count == 1 ? t.name : "\(t.name)@\(g.start)"
                let values = try InferenceOutputs.values(t)
                let dims = t.shape.map(Int.init)
                try writer.append(key, rowDims: Array(dims.dropFirst()), rows: dims.first ?? 0, values: values)
                rows[t.name] = Line.Row(array: key, row: 0)
            }
            for k in 0..<Int(g.count) {
                let file = k < g.files.count ? g.files[k] : ""
                let line = Line(index: Int(g.start) + k, file: file, shard: name, rows: rows.mapValues { Line.Row(array: $0.array, row: k) })
                lines.append((line.index, line.json()))
            }
        }
        try writer.finish()
        try CommittedOutput.publish(temp, as: path)
        return lines
    }
}
