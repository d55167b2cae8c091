import Foundation
import OctetTestSupport
import XCTest

/// Pad of a quantized activation runs on its codes (`Int8Step.padU8`, `DataMovement.pad` on the
/// NHWC buffer): reflect, edge, and constant with a value that is exactly a code (0 always is),
/// over height, width and channels, asymmetric and cropping (negative) pads. On every path the
/// outputs equal the FP32 Pad of the dequantized input exactly. A constant that no code
/// represents keeps the Pad in float (an FP32 island), still equal to the FP32 result.
final class Int8PadTests: XCTestCase {
    let dims = [2, 3, 5, 6]
    let s: Float = 0.05, z: UInt8 = 100

    func graph(mode: PadMode, pads: [Int], value: Float?) throws -> (Graph, String) {
        var b = GraphBuilder(name: "pad")
        func qdq(_ v: String) throws -> String {
            let sn = b.constant("s", Tensor.filled([], s)), zn = b.constant("z", try Tensor(shape: [], data: .uint8([z])))
            return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
        }
        var inputs = [try qdq(b.input("x", dims: [nil, dims[1], dims[2], dims[3]])),
                      b.constant("pads", try Tensor(shape: [8], data: .int64(pads.map(Int64.init))))]
        if let value { inputs.append(b.constant("value", Tensor.filled([], value))) }
        let y = try qdq(b.add(.pad(mode), inputs))
        b.output(y, dims: [nil, nil, nil, nil])
        return (b.graph, y)
    }

    func testPadsRunOnCodesAndEqualTheFloatPad() throws {
        var r = TestRandom(seed: 51)
        let x = try Tensor(shape: Shape(dims), floats: (0..<dims.reduce(1, *)).map { _ in Float(r.int(0...255) - Int(z)) * s })
        // Begins then ends of N, C, H, W.
        let cases: [(PadMode, [Int], Float?, onCodes: Bool)] = [
            (.reflect, [0, 0, 1, 2, 0, 0, 2, 1], nil, true),
            (.edge, [0, 1, 0, 3, 0, 2, 2, 0], nil, true),
            (.constant, [0, 0, 1, 1, 0, 0, 1, 1], nil, true),          // 0 by default
            (.constant, [0, 2, 0, 1, 0, 0, 3, 0], Float(150 - 100) * 0.05, true),   // exactly code 150
            (.constant, [0, 0, -1, 2, 0, 0, 1, -2], 0, true),           // cropping pads
            (.constant, [0, 0, 1, 1, 0, 0, 1, 1], 0.0123, false),     // no code is 0.0123
        ]
        for (mode, pads, value, onCodes) in cases {
            let (g, y) = try graph(mode: mode, pads: pads, value: value)
            // The FP32 Pad of the dequantized input (the QDQ after it changes nothing: the same parameters).
            var f = GraphBuilder(name: "fp32")
            var fin = [f.input("x", dims: [nil, dims[1], dims[2], dims[3]]), f.constant("pads", try Tensor(shape: [8], data: .int64(pads.map(Int64.init))))]
            if let value { fin.append(f.constant("value", Tensor.filled([], value))) }
            let fy = f.add(.pad(mode), fin)
            f.output(fy, dims: [nil, nil, nil, nil])
            let reference = try XCTUnwrap(try ExecutionPlan(graph: f.graph, options: PlanOptions(isa: .scalar, threads: 1)).run(["x": x])[fy])
            let expected = try XCTUnwrap(reference.floats).map { v -> Float in (min(max((v / s).rounded(.toNearestOrEven) + Float(z), 0), 255) - Float(z)) * s }
            for isa in [nil] + ISA.supported.map(Optional.some) {
                let label = "\(mode) \(pads) \(value.map { "\($0)" } ?? "-") on \(isa?.rawValue ?? "swift")"
                let plan = try Int8Plan(graph: g, threads: 2, isa: isa)
                let got = try XCTUnwrap(try plan.run(["x": x])[y], label)
                XCTAssertEqual(got.shape, reference.shape, label)
                XCTAssertEqual(got.floats, expected, label)
                let steps = plan.makeProfile().labels
                XCTAssertEqual(steps.contains("pad \(mode.rawValue) u8"), onCodes, "\(label): \(steps)")
                XCTAssertEqual(steps.contains { $0.contains("fp32 island: Pad") }, !onCodes, "\(label): \(steps)")
            }
        }
    }
}
