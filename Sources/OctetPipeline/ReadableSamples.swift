import OctetCore
import OctetData
import OctetRuntime

/// A sample whose own file could not be read (`DataError.isAboutOneSample`: missing, not an
/// image, corrupt). Batch inference writes the error on that sample's output line and goes on
/// with the others; calibration and evaluation throw it.
public struct UnreadableSample: Sendable, Hashable {
    /// The sample's index in its dataset.
    public let index: Int
    public let name: String
    public let error: DataError
}

/// Images of a range as one input tensor without those that could not be read: what a batch
/// inference task runs.
public struct ReadableBatch: Sendable {
    /// `[samples.count] + chw` (no rows when no sample could be read).
    public let input: Tensor
    /// The dataset indices of the input's rows, in order.
    public let samples: [Int]
    /// The samples left out, in order.
    public let unreadable: [UnreadableSample]
}

/// Reads samples `range` of `dataset` on up to `threads` threads: each sample's value by
/// position, nil where the sample's own file could not be read (listed in `unreadable`, in order).
/// Any other error, one about the dataset as a whole, is thrown (the first by position).
func readSamples<T: Sendable>(_ dataset: any Dataset, _ range: Range<Int>, threads: Int,
                              _ read: @escaping @Sendable (Int) throws(DataError) -> T) throws(DataError) -> (values: [T?], unreadable: [UnreadableSample]) {
    let results = parallelMap(range.count, threads: max(threads, 1)) { k -> Result<T, DataError>? in
        Result { () throws(DataError) -> T in try read(range.lowerBound + k) }
    }
    var values: [T?] = []
    var unreadable: [UnreadableSample] = []
    values.reserveCapacity(range.count)
    for (k, result) in results.enumerated() {
        let index = range.lowerBound + k
        switch result {
        case .success(let v)?: values.append(v)
        case .failure(let e)? where e.isAboutOneSample:
            values.append(nil)
            unreadable.append(UnreadableSample(index: index, name: dataset.name(index), error: e))
        case .failure(let e)?: throw e
        case nil: throw DataError.corruptImage(path: dataset.name(index), reason: "it was not read")  // parallelMap runs every index
        }
    }
    return (values, unreadable)
}
