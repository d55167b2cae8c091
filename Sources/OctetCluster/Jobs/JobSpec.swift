import Foundation
import OctetCore

/// A job as a client submits it: the cluster's part (the handler that runs it, the model and
/// every other blob it reads) and the handler's own options, which the cluster stores and
/// carries to workers with every task but never reads. On the wire it is `Octet_Wire_JobSpec`.
public struct JobSpec: Codable, Hashable, Sendable {
    /// The job handler's name (`JobHandler.kind`): "calibrate", "infer".
    public var kind: String
    /// Content hash of the model blob the job runs.
    public var modelHash: String
    /// The model's file name without extension (artifact names, status).
    public var modelName: String
    /// Every other blob the job reads (shipped samples), each uploaded before the submit.
    public var blobs: [String]
    /// The handler's options, in its own encoding.
    public var options: Data

    /// Largest options accepted (they travel with every task).
    public static let maxOptionsBytes = 8 << 20

    public init(kind: String, modelHash: String, modelName: String, blobs: [String] = [], options: Data) {
        self.kind = kind
        self.modelHash = modelHash
        self.modelName = modelName
        self.blobs = blobs
        self.options = options
    }

    public init(wire w: Octet_Wire_JobSpec) {
        self.init(kind: w.kind, modelHash: w.modelHash, modelName: w.modelName, blobs: w.blobs, options: w.options)
    }

    public var wire: Octet_Wire_JobSpec {
        var w = Octet_Wire_JobSpec()
        w.kind = kind
        w.modelHash = modelHash
        w.modelName = modelName
        w.blobs = blobs
        w.options = options
        return w
    }

    /// Why the cluster cannot take this spec, or nil (the handler checks its options).
    public var problem: String? {
        if kind.isEmpty || kind.utf8.count > 64 { return "a job kind is 1 to 64 bytes" }
        if !ContentHash.isValid(modelHash) { return "model hash '\(modelHash)' is not a SHA-256 hex digest" }
        if modelName.utf8.count > 256 { return "a model name is at most 256 bytes" }
        if let bad = blobs.first(where: { !ContentHash.isValid($0) }) { return "blob name '\(bad)' is not a SHA-256 hex digest" }
        if options.count > Self.maxOptionsBytes { return "options of \(options.count) bytes exceed the \(Self.maxOptionsBytes)-byte limit" }
        return nil
    }
}
