import Foundation
import OctetCluster
import OctetCore
import OctetData
import OctetPipeline

/// Where a job's samples come from: a path every machine can read, or files shipped through the
/// coordinator as content-addressed blobs (`--ship-data`), listed in a manifest blob so that the
/// job's options (sent with every task) stay small whatever the number of files; each task
/// lists only its own files' blobs.
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
    /// Shipped images: the content hash of their manifest blob (`ShippedManifest`), which lists
    /// them in dataset order.
    public var manifest: String?
    public var recipe: PreprocessRecipe
    public var offset: Int = 0
    public var limit: Int?

    public init(path: String?, labels: String?, manifest: String?, recipe: PreprocessRecipe, offset: Int = 0, limit: Int? = nil) {
        self.path = path
        self.labels = labels
        self.manifest = manifest
        self.recipe = recipe
        self.offset = offset
        self.limit = limit
    }

    public var problem: String? {
        if (path == nil) == (manifest == nil) { return "a dataset is either a shared path or shipped files" }
        if let manifest, !ContentHash.isValid(manifest) { return "the shipped files' manifest '\(manifest)' is not a SHA-256 hex digest" }
        if offset < 0 || offset > 1 << 40 { return "offset must be in 0...2^40" }
        if let limit, limit < 1 || limit > 1 << 40 { return "limit must be in 1...2^40" }
        return nil
    }

    /// The shipped files, from the manifest at `blobPath(manifest)`; nil for a shared path.
    public func shippedFiles(blobPath: (String) -> String) throws -> [ShippedFile]? {
        guard let manifest else { return nil }
        guard let bytes = FileManager.default.contents(atPath: blobPath(manifest)) else {
            throw JobFailure("the shipped files' manifest \(manifest) is not in the blob store")
        }
        return try ShippedManifest.decode([UInt8](bytes))
    }

    /// Opens the dataset. Shipped files are read from `blobPath(hash)` (the caller fetched them);
    /// `files`, when given, are the manifest's (read once by the caller).
    public func open(blobPath: (String) -> String, files: [ShippedFile]? = nil) throws -> any Dataset {
        let all: any Dataset
        if let files = try files ?? shippedFiles(blobPath: blobPath) {
            all = try ImageListDataset(items: files.map { DatasetItem(name: $0.name, path: blobPath($0.hash), label: $0.label) }, recipe: recipe)
        } else {
            all = try openDataset(path: path ?? "", labels: labels, recipe: recipe, limit: nil)
        }
        guard offset < all.count else { throw PipelineError.badOption("offset \(offset) skips all \(all.count) samples") }
        let end = limit.map { min(all.count, offset + $0) } ?? all.count
        return offset == 0 && end == all.count ? all : DatasetSlice(all, range: offset..<end)
    }

    /// `items` shipped through `client` (`--ship-data`): the images uploaded, in batches of
    /// uploads in flight together, then their list as one manifest blob (a job's options go with
    /// every task, so they stay small).
    public static func shipping(_ items: some Collection<DatasetItem>, recipe: PreprocessRecipe, through client: ClusterClient) throws -> DatasetSpec {
        var files: [ShippedFile] = []
        let selected = Array(items)
        for batch in stride(from: 0, to: selected.count, by: 256) {
            let slice = selected[batch..<min(batch + 256, selected.count)]
            let contents = try slice.map { item -> (name: String, bytes: [UInt8]) in
                guard let d = FileManager.default.contents(atPath: item.path) else { throw WireError.transport("cannot read \(item.path)") }
                return (item.name, [UInt8](d))
            }
            let hashes = try client.uploadMany(contents)
            files += zip(slice, hashes).map { ShippedFile(name: $0.name, hash: $1, label: $0.label) }
        }
        return DatasetSpec(path: nil, labels: nil, manifest: try client.upload(ShippedManifest.encode(files)), recipe: recipe)
    }

    /// The blobs samples `range` (after offset) read of the shipped `files`: the manifest and
    /// their files; none for a shared path.
    public func blobs(for range: Range<Int>, of files: [ShippedFile]?) -> [String] {
        guard let files, let manifest else { return [] }
        let lo = min(files.count, offset + range.lowerBound), hi = min(files.count, offset + range.upperBound)
        return [manifest] + files[lo..<hi].map(\.hash)
    }
}

/// The list of a job's shipped files (`DatasetSpec.manifest`): JSON of `[ShippedFile]`, in
/// dataset order, every hash checked when read.
public enum ShippedManifest {
    public static func encode(_ files: [DatasetSpec.ShippedFile]) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? [UInt8](e.encode(files))) ?? []
    }

    public static func decode(_ bytes: [UInt8]) throws(JobFailure) -> [DatasetSpec.ShippedFile] {
        let files: [DatasetSpec.ShippedFile]
        do { files = try JSONDecoder().decode([DatasetSpec.ShippedFile].self, from: Data(bytes)) } catch {
            throw JobFailure("the shipped files' manifest cannot be read: \(error)")
        }
        if files.isEmpty { throw JobFailure("the shipped files' manifest lists no file") }
        if let bad = files.first(where: { !ContentHash.isValid($0.hash) }) { throw JobFailure("shipped file \(bad.name) has no valid hash") }
        return files
    }
}
