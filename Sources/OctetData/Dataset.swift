/// A finite, ordered collection of model inputs with optional class labels: an image folder
/// or a `.npy` tensor. The order is fixed by the source, so shards and results are reproducible.
public protocol Dataset: Sendable {
    var count: Int { get }
    /// A stable name of sample `index` (file name, or `file.npy[i]`).
    func name(_ index: Int) -> String
    /// The file sample `index` is read from when it is a file of its own (an image), else nil.
    func file(_ index: Int) -> String?
    func label(_ index: Int) -> Int?
    /// The sample as a flat CHW float tensor.
    func load(_ index: Int) throws(DataError) -> [Float]
    /// The per-sample shape `load` produces, when known without loading (nil for images).
    var sampleShape: [Int]? { get }
    /// The sample with its shape (CHW for images, whose size may depend on the image).
    func loadShaped(_ index: Int) throws(DataError) -> ShapedSample
    /// The sample of each model input, by input name; the key "" stands for a model's only input
    /// (every source but a `.npz` archive, which names its arrays).
    func loadInputs(_ index: Int) throws(DataError) -> [String: ShapedSample]
}

/// One preprocessed sample: its dims (without the batch) and row-major values.
public struct ShapedSample: Sendable {
    public var dims: [Int]
    public var values: [Float]
    public init(dims: [Int], values: [Float]) { self.dims = dims; self.values = values }
}

extension Dataset {
    public func loadInputs(_ index: Int) throws(DataError) -> [String: ShapedSample] { ["": try loadShaped(index)] }

    public func file(_ index: Int) -> String? { nil }

    /// Samples of a known fixed shape.
    public func loadShaped(_ index: Int) throws(DataError) -> ShapedSample {
        let v = try load(index)
        return ShapedSample(dims: sampleShape ?? [v.count], values: v)
    }
}

extension Dataset {
    /// The samples of shard `index` of `count`: a contiguous range of the dataset order.
    public func shard(_ index: Int, of count: Int) throws(DataError) -> Range<Int> {
        try Sharding.range(index, of: count, total: self.count)
    }
}

/// Opens `path` as a dataset: a `.npy` file of `[N, ...]` float32 samples, a `.npz` archive of one
/// such array per model input, or a folder of images.
public func openDataset(path: String, labels: String?, recipe: PreprocessRecipe, limit: Int?) throws(DataError) -> any Dataset {
    if path.lowercased().hasSuffix(".npy") { return try NPYDataset(path: path, labels: labels, limit: limit) }
    if path.lowercased().hasSuffix(".npz") { return try NPZDataset(path: path, limit: limit) }
    return try ImageFolderDataset(directory: path, labels: labels, recipe: recipe, limit: limit)
}
