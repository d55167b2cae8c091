/// A contiguous range of another dataset's samples (e.g. the held-out images after the ones
/// used for calibration).
public struct DatasetSlice: Dataset {
    public let base: any Dataset
    public let range: Range<Int>

    public init(_ base: any Dataset, range: Range<Int>) {
        self.base = base
        self.range = range.clamped(to: 0..<base.count)
    }

    public var count: Int { range.count }
    public var sampleShape: [Int]? { base.sampleShape }
    public func name(_ index: Int) -> String { base.name(range.lowerBound + index) }
    public func file(_ index: Int) -> String? { base.file(range.lowerBound + index) }
    public func label(_ index: Int) -> Int? { base.label(range.lowerBound + index) }
    public func load(_ index: Int) throws(DataError) -> [Float] { try base.load(range.lowerBound + index) }
    public func loadShaped(_ index: Int) throws(DataError) -> ShapedSample { try base.loadShaped(range.lowerBound + index) }
    public func loadInputs(_ index: Int) throws(DataError) -> [String: ShapedSample] { try base.loadInputs(range.lowerBound + index) }
}
