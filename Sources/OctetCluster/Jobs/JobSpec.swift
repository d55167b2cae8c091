import OctetCore
import Foundation
import OctetData
import OctetPipeline

/// What a user submits: a calibration or an inference over a dataset. Stored by the coordinator
/// as JSON and sent to workers with every task, so a task is self-describing.
public struct JobSpec: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable { case calibrate, infer }
    /// What an inference job returns per sample: a classifier's top-5 classes and scores, or
    /// every output tensor (detectors, OCR, embeddings).
    public enum Outputs: String, Codable, Sendable { case topk, tensors }

    public var kind: Kind
    /// Content hash of the model blob (FP32 for calibration, INT8 QDQ for inference).
    public var modelHash: String
    /// The model's file name without extension (artifact names).
    public var modelName: String
    public var dataset: DatasetSpec
    public var calibration: CalibrationOptions?
    /// Samples per calibration shard.
    public var shardSize: Int = 32
    /// Images per inference task (batch).
    public var batch: Int = 16
    /// Inference: what each sample returns (nil: `topk`).
    public var outputs: Outputs?
    /// Held-out samples the INT8 model is checked on after calibration.
    public var verifySamples: Int = 32
    /// FP32 kernel path every worker uses for calibration (sums in one order everywhere);
    /// nil lets the coordinator choose its best.
    public var isa: String?

    public init(kind: Kind, modelHash: String, modelName: String, dataset: DatasetSpec) {
        self.kind = kind
        self.modelHash = modelHash
        self.modelName = modelName
        self.dataset = dataset
    }

    /// Images per inference task for a model whose per-image input is `chw` (nil: its size
    /// varies): about the input pixels of 32 images of 224×224 (where EfficientNet-Lite0 runs at
    /// full speed on a worker), at least 1 and at most 64, so a task takes about as long whatever
    /// the input size and a detector's outputs stay well inside a message; 4 when sizes vary.
    public static func defaultBatch(inputCHW chw: [Int]?) -> Int {
        guard let chw, chw.count == 3, chw[1] > 0, chw[2] > 0 else { return 4 }
        return min(64, max(1, 32 * 224 * 224 / (chw[1] * chw[2])))
    }

    /// Why this spec cannot run, or nil.
    public var problem: String? {
        if !ContentHash.isValid(modelHash) { return "model hash '\(modelHash)' is not a SHA-256 hex digest" }
        if shardSize < 1 || shardSize > 100_000 { return "shard size must be in 1...100000" }
        if batch < 1 || batch > 4096 { return "batch must be in 1...4096" }
        if verifySamples < 0 { return "verify samples must not be negative" }
        if kind == .calibrate, calibration == nil { return "a calibration job needs calibration options" }
        if let p = calibration?.problem { return p }
        return dataset.problem
    }

    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? String(decoding: e.encode(self), as: UTF8.self)) ?? "{}"
    }

    public static func parse(_ json: String) throws(WireError) -> JobSpec {
        do { return try JSONDecoder().decode(JobSpec.self, from: Data(json.utf8)) } catch { throw .malformed("job spec: \(error)") }
    }
}

/// Where a job's samples come from: a path every machine can read, or files shipped through the
/// coordinator as content-addressed blobs (`--ship-data`).
public struct DatasetSpec: Codable, Hashable, Sendable {
    public struct ShippedFile: Codable, Hashable, Sendable {
        public var name: String
        public var hash: String
        public var label: Int?
        public init(name: String, hash: String, label: Int?) { self.name = name; self.hash = hash; self.label = label }
    }

    /// A folder of images or a .npy file, readable at this path by the coordinator and workers.
    public var path: String?
    public var labels: String?
    /// Shipped images, in dataset order.
    public var files: [ShippedFile]?
    public var recipe: PreprocessRecipe
    public var offset: Int = 0
    public var limit: Int?

    public init(path: String?, labels: String?, files: [ShippedFile]?, recipe: PreprocessRecipe, offset: Int = 0, limit: Int? = nil) {
        self.path = path
        self.labels = labels
        self.files = files
        self.recipe = recipe
        self.offset = offset
        self.limit = limit
    }

    public var problem: String? {
        if (path == nil) == (files == nil) { return "a dataset is either a shared path or shipped files" }
        if offset < 0 { return "offset must not be negative" }
        if let limit, limit < 1 { return "limit must be at least 1" }
        if let files {
            if files.isEmpty { return "no files shipped" }
            if let bad = files.first(where: { !ContentHash.isValid($0.hash) }) { return "shipped file \(bad.name) has no valid hash" }
        }
        return nil
    }

    /// Opens the dataset. Shipped files are read from `blobPath(hash)` (the caller fetched them).
    public func open(blobPath: (String) -> String) throws -> any Dataset {
        let all: any Dataset
        if let files {
            all = try ImageListDataset(items: files.map { DatasetItem(name: $0.name, path: blobPath($0.hash), label: $0.label) }, recipe: recipe)
        } else {
            all = try openDataset(path: path ?? "", labels: labels, recipe: recipe, limit: nil)
        }
        guard offset < all.count else { throw PipelineError.badOption("offset \(offset) skips all \(all.count) samples") }
        let end = limit.map { min(all.count, offset + $0) } ?? all.count
        return offset == 0 && end == all.count ? all : DatasetSlice(all, range: offset..<end)
    }

    /// The shipped files samples `range` (after offset) need.
    public func files(for range: Range<Int>) -> [ShippedFile] {
        guard let files else { return [] }
        let lo = min(files.count, offset + range.lowerBound), hi = min(files.count, offset + range.upperBound)
        return Array(files[lo..<hi])
    }
}
