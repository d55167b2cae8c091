/// Samples stored as one `.npy` tensor `[N, ...]` (already preprocessed). Labels, if given,
/// come from a CSV whose `file` column is the sample index.
public struct NPYDataset: Dataset {
    public let path: String
    public let sampleShape: [Int]?
    public let count: Int
    private let values: [Float]
    private let labels: [Int: Int]

    public init(path: String, labels labelsPath: String? = nil, limit: Int? = nil) throws(DataError) {
        let (shape, values) = try NPYFile.read(path: path)
        guard shape.count >= 2, shape[0] > 0 else {
            throw .badNPY(path: path, reason: "expected a batch of samples [N, ...], got shape \(shape)")
        }
        self.path = path
        sampleShape = Array(shape.dropFirst())
        count = min(shape[0], limit ?? shape[0])
        self.values = values
        var map: [Int: Int] = [:]
        if let labelsPath {
            let file = try LabelsFile(path: labelsPath)
            for (key, label) in file.labels {
                guard let i = Int(key) else { throw .badLabels(path: labelsPath, line: 0, reason: "'\(key)' is not a sample index of \(path)") }
                map[i] = label
            }
            for i in 0..<count where map[i] == nil { throw .unlabeledImage(file: "sample \(i)", labels: labelsPath) }
        }
        labels = map
    }

    public func name(_ index: Int) -> String { "\(path)[\(index)]" }
    public func label(_ index: Int) -> Int? { labels[index] }

    public func load(_ index: Int) throws(DataError) -> [Float] {
        let per = sampleShape?.reduce(1, *) ?? 0
        return Array(values[(index * per)..<((index + 1) * per)])
    }
}
