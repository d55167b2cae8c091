import Foundation

/// The images (JPEG, PNG) of a folder in file-name order, with labels from a CSV when given.
/// The order depends only on the names, never on the order the file system lists them.
public struct ImageFolderDataset: Dataset {
    public let directory: String
    public let items: [DatasetItem]
    public let recipe: PreprocessRecipe

    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Lists `directory`. With `labels`, every image must have an entry (else a clear error);
    /// `limit` keeps the first N images in name order.
    public init(directory: String, labels: String? = nil, recipe: PreprocessRecipe, limit: Int? = nil) throws(DataError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else { throw .missingFile(directory) }
        guard isDir.boolValue else { throw .notADirectory(directory) }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch { throw .notADirectory(directory) }
        var images = names.filter { Self.extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if let limit { images = Array(images.prefix(max(limit, 0))) }
        guard !images.isEmpty else { throw .emptyDataset(directory) }
        let labelMap = try labels.map { (p: String) throws(DataError) in try LabelsFile(path: p) }
        var items: [DatasetItem] = []
        for name in images {
            var label: Int? = nil
            if let labelMap {
                guard let l = labelMap.labels[name] else { throw .unlabeledImage(file: name, labels: labelMap.path) }
                label = l
            }
            items.append(DatasetItem(name: name, path: (directory as NSString).appendingPathComponent(name), label: label))
        }
        self.directory = directory
        self.items = items
        self.recipe = recipe
    }

    public var count: Int { items.count }
    public var sampleShape: [Int]? { nil }
    public func name(_ index: Int) -> String { items[index].name }
    public func file(_ index: Int) -> String? { items[index].path }
    public func label(_ index: Int) -> Int? { items[index].label }

    /// Decodes and preprocesses item `index` to a CHW tensor.
    public func load(_ index: Int) throws(DataError) -> [Float] {
        recipe.apply(try recipe.decode(contentsOf: items[index].path))
    }

    public func loadShaped(_ index: Int) throws(DataError) -> ShapedSample {
        let image = recipe.resizedCrop(try recipe.decode(contentsOf: items[index].path))
        return ShapedSample(dims: [3, image.height, image.width], values: recipe.normalize(image))
    }
}

/// Deterministic splitting of `total` ordered items into `count` contiguous shards.
public enum Sharding {
    public static func range(_ index: Int, of count: Int, total: Int) throws(DataError) -> Range<Int> {
        guard count > 0, index >= 0, index < count else { throw .badShard(index: index, count: count) }
        return (total * index / count)..<(total * (index + 1) / count)
    }
}
