/// One sample of a dataset: where it comes from and its class label if known.
public struct DatasetItem: Hashable, Sendable {
    /// File name relative to the dataset folder; the sort key for sharding.
    public var name: String
    public var path: String
    public var label: Int?

    public init(name: String, path: String, label: Int?) {
        self.name = name
        self.path = path
        self.label = label
    }
}
