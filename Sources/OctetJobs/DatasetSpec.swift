import Foundation
import OctetCluster
import OctetCore
import OctetData
import OctetPipeline

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

    /// The blobs of the shipped files samples `range` (after offset) read.
    public func blobs(for range: Range<Int>) -> [String] {
        guard let files else { return [] }
        let lo = min(files.count, offset + range.lowerBound), hi = min(files.count, offset + range.upperBound)
        return files[lo..<hi].map(\.hash)
    }
}
