import OctetTestSupport
import XCTest

/// `StridedView`'s copy, no-copy reshape and axis-group reshape against plain index arithmetic on
/// random views: transposed, sliced (negative steps) and broadcast sources, read as random
/// shapes that nest with them (splits, merges, size-1 axes) or do not.
final class StridedViewTests: XCTestCase {
    /// The source index of each element of `view`, in its row-major order (the definition).
    static func indices(_ view: StridedView) -> [Int] {
        var out: [Int] = []
        var index = [Int](repeating: 0, count: view.dims.count)
        for _ in 0..<view.count {
            out.append(view.offset + zip(index, view.strides).map { $0 * $1 }.reduce(0, +))
            var k = index.count - 1
            while k >= 0 { index[k] += 1; if index[k] < view.dims[k] { break }; index[k] = 0; k -= 1 }
        }
        return out
    }

    /// Random factorizations of the same count: the shapes a reshape may ask for.
    static func shape(_ count: Int, _ r: inout TestRandom) -> [Int] {
        var left = count, dims: [Int] = []
        while left > 1 {
            let divisors = (2...left).filter { left % $0 == 0 }
            let d = divisors[r.int(0...(divisors.count - 1))]
            dims.append(d)
            left /= d
            if r.int(0...3) == 0 { dims.append(1) }
        }
        return dims.isEmpty ? [1] : dims
    }

    func testCopyAndReshapesFollowTheIndexDefinition() throws {
        var r = TestRandom(seed: 77)
        var nested = 0, single = 0
        for _ in 0..<400 {
            let dims = (0..<r.int(1...4)).map { _ in r.int(1...5) }
            var view = StridedView(dims: dims, strides: Shape(dims).strides)
            let source = (0..<Shape(dims).elementCount).map { Int32($0) }
            if r.bool(), let t = view.transposed(Array((0..<dims.count).shuffled(using: &r.rng))) { view = t }
            if r.bool() {
                let a = r.int(0...(dims.count - 1)), n = view.dims[a]
                let step = r.bool() ? 1 : (r.bool() ? 2 : -1)
                if let s = view.sliced(starts: [step > 0 ? r.int(0...(n - 1)) : n - 1], ends: [step > 0 ? n : Int.min], axes: [a], steps: [step]) { view = s }
            }
            guard view.count > 0 else { continue }
            let expected = Self.indices(view).map { source[$0] }
            XCTAssertEqual(view.apply(source), expected, "\(view)")

            let target = Self.shape(view.count, &r)
            if let groups = view.reshapedAxes(target) {
                nested += 1
                XCTAssertEqual(groups.map { $0.map(\.size).reduce(1, *) }, target, "\(view) as \(target)")
                // Walking every axis group in turn is the row-major order of the view.
                let flat = groups.flatMap { $0 }
                let walked = StridedView(dims: flat.map(\.size), strides: flat.map(\.stride), offset: view.offset)
                XCTAssertEqual(walked.apply(source), expected, "\(view) as \(target)")
            }
            if let reshaped = view.reshaped(target) {
                single += 1
                XCTAssertEqual(reshaped.dims, target)
                XCTAssertEqual(reshaped.apply(source), expected, "\(view) reshaped to \(target)")
            } else if view.isContiguous {
                XCTFail("a contiguous view is always a view of any shape of its count: \(view) as \(target)")
            }
        }
        XCTAssertGreaterThan(nested, 100)
        XCTAssertGreaterThan(single, 50)
        XCTAssertNil(StridedView(dims: [6, 4], strides: [1, 6]).reshapedAxes([4, 6]), "shapes that do not nest")
        XCTAssertNil(StridedView(dims: [6, 4], strides: [4, 1]).reshapedAxes([5, 5]), "counts that differ")
    }
}
