import OctetPipeline
import XCTest

/// `TopK.indices` (one insertion pass) gives what sorting every position by (value descending,
/// position ascending) gives, on rows with many ties, any k, and on slices of a batch.
final class TopKTests: XCTestCase {
    func testTheBestKInOrderWithTiesByPosition() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<2000 {
            let n = Int.random(in: 0...40, using: &rng)
            // Few distinct values: ties everywhere.
            let values = (0..<n).map { _ in Float(Int.random(in: -3...3, using: &rng)) * (trial % 2 == 0 ? 1 : 0.25) }
            let k = Int.random(in: 0...(n + 2), using: &rng)
            let sorted = Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(k))
            XCTAssertEqual(TopK.indices(values, k: k), sorted, "\(values), k \(k)")
            // A row of a batch: positions count from the row's start.
            let batch = [9, 9] + values + [9]
            XCTAssertEqual(TopK.indices(batch[2..<(2 + n)], k: k), sorted)
        }
        XCTAssertEqual(TopK.indices([1, 5, 5, 2, 5], k: 2), [1, 2])
        XCTAssertEqual(TopK.indices([Float](), k: 5), [])
    }
}
