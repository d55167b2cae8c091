import Foundation
import OctetTestSupport
import XCTest

/// ReduceMean over height and width (`x.mean([2, 3])`, ShuffleNet's head) of a quantized tensor is
/// the integer global average: the same codes as GlobalAveragePool with the same parameters, with
/// either keepdims, on every path, and no FP32 island. A global average the file leaves in float
/// (NNCF's squeeze-excitation) is the mean from the exact integer sum, without an island.
final class Int8SpatialMeanTests: XCTestCase {
    func testReduceMeanOverHeightAndWidthIsTheIntegerGlobalAverage() throws {
        var r = TestRandom(seed: 5)
        let x = r.tensor([3, 7, 5, 6], -2, 3)
        func model(_ pooling: (inout GraphBuilder, String) -> String, dims: [Int?]) throws -> (Graph, String) {
            var b = GraphBuilder(name: "mean")
            func qdq(_ v: String, _ s: Float, _ z: UInt8) throws -> String {
                let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
                return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
            }
            let y = try qdq(pooling(&b, try qdq(b.input("x", dims: [nil, 7, 5, 6]), 0.02, 100)), 0.007, 80)
            b.output(y, dims: dims)
            return (b.graph, y)
        }
        let (gap, gapOut) = try model({ b, v in b.add(.globalAveragePool, [v]) }, dims: [nil, 7, 1, 1])
        for keep in [true, false] {
            for axes in [[2, 3], [-1, -2]] {
                let (mean, meanOut) = try model({ b, v in
                    b.add(.reduce(.mean, keepDims: keep, noopWithEmptyAxes: false),
                          [v, b.constant("axes", try! Tensor(shape: [2], data: .int64(axes.map(Int64.init))))])
                }, dims: keep ? [nil, 7, 1, 1] : [nil, 7])
                for isa in [nil] + ISA.supported.map(Optional.some) {
                    let label = "axes \(axes) keepdims \(keep) on \(isa?.rawValue ?? "swift")"
                    let expected = try XCTUnwrap(try Int8Plan(graph: gap, threads: 1, isa: isa).run(["x": x])[gapOut]?.floats)
                    let plan = try Int8Plan(graph: mean, threads: 2, isa: isa)
                    XCTAssertEqual(try plan.run(["x": x])[meanOut]?.floats, expected, label)
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.contains("island") }, [], "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.hasPrefix("avgpool 5x6") }.count, 1, "\(label): \(steps)")
                }
            }
        }
    }

    /// x → QDQ → GlobalAveragePool, its output left in float (as NNCF leaves it) → y: the
    /// means from the exact integer sums, equal on every path and within float rounding of the
    /// file's meaning (the mean of the dequantized values); no FP32 island, no dequantize step.
    func testAGlobalAverageLeftInFloatIsTheMeanOfTheCodes() throws {
        var r = TestRandom(seed: 8)
        let (s, z): (Float, UInt8) = (0.021, 97)
        var b = GraphBuilder(name: "squeeze")
        let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
        let xd = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [b.input("x", dims: [nil, 19, 23, 17]), sn, zn]), sn, zn])
        let mean = b.add(.globalAveragePool, [xd])
        b.output(mean, dims: [nil, 19, 1, 1])
        let codes = (0..<(2 * 19 * 23 * 17)).map { _ in r.int(0...255) }
        let x = try Tensor(shape: [2, 19, 23, 17], floats: codes.map { Float($0 - Int(z)) * s })
        // The file's meaning in Double: each channel's mean of (q - z)·s.
        let plane = 23 * 17
        let want = (0..<(2 * 19)).map { nc in (0..<plane).reduce(0.0) { $0 + Double(codes[nc * plane + $1] - Int(z)) * Double(s) } / Double(plane) }
        var reference: [Float]? = nil
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let label = isa?.rawValue ?? "swift"
            let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
            let got = try XCTUnwrap(try plan.run(["x": x])[mean]?.floats, label)
            if let reference { XCTAssertEqual(got, reference, label) } else { reference = got }
            for (g, w) in zip(got, want) { XCTAssertEqual(Double(g), w, accuracy: 1e-6 * max(1, abs(w)), label) }
            let steps = plan.makeProfile().labels
            XCTAssertEqual(steps.filter { $0.contains("island") || $0 == "dequantize" }, [], "\(label): \(steps)")
            XCTAssertEqual(steps.filter { $0.hasPrefix("global mean of codes -> fp32") }.count, 1, "\(label): \(steps)")
        }
    }

    /// A map of more than 2^23 pixels, every code 255: the sum of one channel passes 2^31, and the
    /// mean is still 255 · s (the sums are taken in blocks and added up in 64 bits).
    func testTheFloatMeanOfAHugeMapDoesNotWrap() throws {
        let s: Float = 0.01, side = 3000
        var b = GraphBuilder(name: "huge")
        let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([0])))
        let xd = b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [b.input("x", dims: [nil, 1, side, side]), sn, zn]), sn, zn])
        let mean = b.add(.globalAveragePool, [xd])
        b.output(mean, dims: [nil, 1, 1, 1])
        let x = try Tensor(shape: [1, 1, side, side], floats: [Float](repeating: 255 * s, count: side * side))
        for isa in [nil, ISA.best] {
            let got = try XCTUnwrap(try Int8Plan(graph: b.graph, threads: 1, isa: isa).run(["x": x])[mean]?.floats)
            XCTAssertEqual(got, [255 * s], "\(isa?.rawValue ?? "swift")")
        }
    }
}
