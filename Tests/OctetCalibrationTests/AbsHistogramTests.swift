import Foundation
import OctetTestSupport
import XCTest

/// Property tests of the exact-merge histogram: any split, order or retry of the same data
/// gives the bit-identical histogram.
final class AbsHistogramTests: XCTestCase {
    func randomValues(_ r: inout TestRandom, _ n: Int) -> [Float] {
        let scale = [1e-3, 0.5, 6, 300, 1e5][r.int(0...4)]
        return (0..<n).map { _ in
            switch r.int(0...19) {
            case 0: return 0
            case 1: return [Float.nan, .infinity, -.infinity][r.int(0...2)]
            case 2: return Float(scale) * 40 * r.rng.uniform(-1, 1)  // outliers grow the exponent
            default: return Float(scale) * r.rng.uniform(-1, 1)
            }
        }
    }

    func testSplitsOrdersAndRetriesAreBitIdentical() {
        var r = TestRandom(seed: 21)
        for trial in 0..<60 {
            let values = randomValues(&r, r.int(1...5000))
            var single = AbsHistogram()
            single.add(values, isa: .scalar)
            // Random contiguous splits, shuffled, some chunks retried (added to a discarded
            // partial and recomputed), merged in random tree order, on random ISA paths.
            var cuts = (0..<r.int(0...12)).map { _ in r.int(0...values.count) }.sorted()
            cuts = [0] + cuts + [values.count]
            var parts: [AbsHistogram] = []
            for i in 0..<(cuts.count - 1) {
                let chunk = Array(values[cuts[i]..<cuts[i + 1]])
                var h = AbsHistogram()
                let isa = ISA.supported[r.int(0...(ISA.supported.count - 1))]
                h.add(chunk, isa: isa)
                parts.append(h)
            }
            parts.sort { _, _ in r.bool() }
            while parts.count > 1 {
                let i = r.int(0...(parts.count - 2))
                let m = AbsHistogram.merged(parts[i], parts[i + 1])
                parts.replaceSubrange(i...(i + 1), with: [m])
            }
            XCTAssertEqual(parts.first ?? AbsHistogram(), single, "trial \(trial)")
        }
    }

    func testCountsAndBins() {
        var h = AbsHistogram()
        h.add([0, -0.0, .nan, .infinity, 1, -1, 0.75, 3.5], isa: .scalar)
        XCTAssertEqual(h.zeros, 2)
        XCTAssertEqual(h.nonFinite, 2)
        XCTAssertEqual(h.negatives, 1)
        XCTAssertEqual(h.maxAbs, 3.5)
        XCTAssertEqual(h.exponent, 2)          // 3.5 < 4 = 2^2
        XCTAssertEqual(h.bins[1024], 2)        // |x| = 1 → floor(1 · 2^10)
        XCTAssertEqual(h.bins[768], 1)         // 0.75 · 1024
        XCTAssertEqual(h.bins[3584], 1)        // 3.5 · 1024
        XCTAssertFalse(h.isNonNegative)
    }

    func testBinaryAndJSONRoundTripAndRejectMalformed() throws {
        var r = TestRandom(seed: 5)
        var h = AbsHistogram()
        h.add(randomValues(&r, 3000))
        XCTAssertEqual(try AbsHistogram(binary: h.binaryRepresentation), h)
        XCTAssertEqual(try JSONDecoder().decode(AbsHistogram.self, from: try JSONEncoder().encode(h)), h)
        let bytes = h.binaryRepresentation
        for cut in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try AbsHistogram(binary: Array(bytes.prefix(cut))), "cut \(cut)")
        }
        XCTAssertThrowsError(try AbsHistogram(binary: bytes + [0]))
        var wrongVersion = bytes; wrongVersion[0] = 9
        XCTAssertThrowsError(try AbsHistogram(binary: wrongVersion)) { XCTAssertTrue("\($0)".contains("version 9")) }
        for _ in 0..<500 {
            let junk = [UInt8(1)] + (0..<r.int(0...64)).map { _ in UInt8(truncatingIfNeeded: r.rng.next()) }
            _ = try? AbsHistogram(binary: junk)  // must not crash
        }
    }

    func testCollectorMergesWorkersExactly() throws {
        var b = GraphBuilder(name: "obs")
        let x = b.input("x", dims: [nil, 2, 6, 6])
        let y = b.add(.relu, [x], outputNames: ["y"])
        b.output(y, dims: [nil, 2, 6, 6])
        var r = TestRandom(seed: 1)
        let input = r.tensor([7, 2, 6, 6])
        var results: [[String: AbsHistogram]] = []
        for threads in [1, 2] {
            let plan = try ExecutionPlan(graph: b.graph, options: PlanOptions(threads: threads, fuse: false))
            let c = HistogramCollector(workers: threads)
            _ = try plan.run(["x": input], observer: c)
            results.append(c.histograms())
        }
        XCTAssertEqual(results[0], results[1])
        var direct = AbsHistogram()
        direct.add(input.floats!)
        XCTAssertEqual(results[0]["x"], direct)
    }
}
