import Foundation
import OctetTestSupport
import XCTest

/// Concat of quantized tensors runs on u8 codes: each input requantized to the output's
/// parameters (copied where they are equal), over the channel, height or width axis of NCHW
/// tensors, on every path, equal to requantize(code − z_in, s_in/s_out) + z_out element by element.
final class Int8ConcatTests: XCTestCase {
    func testConcatOfQuantizedTensorsRunsOnCodes() throws {
        let params: [(s: Float, z: UInt8)] = [(0.05, 128), (0.02, 0), (0.03, 7)]  // the last is the output's
        for axis in [1, 2, 3, -1] {
            for sameAsOutput in [false, true] {
                var dims = [[2, 3, 4, 5], [2, 3, 4, 5]]
                let a = axis < 0 ? axis + 4 : axis
                dims[1][a] = 6
                var b = GraphBuilder(name: "concat")
                func qdq(_ v: String, _ p: (s: Float, z: UInt8), _ tag: String) throws -> String {
                    let sn = b.constant("s" + tag, Tensor.filled([], p.s)), zn = b.constant("z" + tag, try Tensor(shape: [], data: .uint8([p.z])))
                    return b.add(.dequantizeLinear(axis: 1), [b.add(.quantizeLinear(axis: 1), [v, sn, zn]), sn, zn])
                }
                let inParams = sameAsOutput ? [params[2], params[1]] : [params[0], params[1]]
                let xs = try (0..<2).map { i in try qdq(b.input("x\(i)", dims: [nil] + dims[i].dropFirst().map { Optional($0) }), inParams[i], "\(i)") }
                var outDims = dims[0]
                outDims[a] = dims[0][a] + dims[1][a]
                let y = try qdq(b.add(.concat(axis: axis), xs), params[2], "y")
                b.output(y, dims: [nil] + outDims.dropFirst().map { Optional($0) })
                var r = TestRandom(seed: 4)
                let codes = dims.map { d in (0..<d.reduce(1, *)).map { _ in Int32(r.int(0...255)) } }
                let feeds = try Dictionary(uniqueKeysWithValues: (0..<2).map { i in
                    ("x\(i)", try Tensor(shape: Shape(dims[i]), floats: codes[i].map { Float($0 - Int32(inParams[i].z)) * inParams[i].s }))
                })
                // The reference in NCHW order: the output element's source code, requantized.
                var expected: [Float] = []
                for n in 0..<outDims[0] { for c in 0..<outDims[1] { for h in 0..<outDims[2] { for w in 0..<outDims[3] {
                    var idx = [n, c, h, w], i = 0
                    if idx[a] >= dims[0][a] { idx[a] -= dims[0][a]; i = 1 }
                    let d = dims[i]
                    let code = codes[i][((idx[0] * d[1] + idx[1]) * d[2] + idx[2]) * d[3] + idx[3]]
                    let m = Int8Arithmetic.multiplier(inParams[i].s, 1, over: params[2].s)
                    let q = inParams[i] == params[2] ? UInt8(code)
                        : Int8Arithmetic.requantize(code - Int32(inParams[i].z), m, zeroPoint: Int32(params[2].z), lo: 0, hi: 255)
                    expected.append(Float(Int32(q) - Int32(params[2].z)) * params[2].s)
                } } } }
                for isa in [nil] + ISA.supported.map(Optional.some) {
                    let plan = try Int8Plan(graph: b.graph, threads: 2, isa: isa)
                    let label = "axis \(axis)\(sameAsOutput ? " (one input at the output's parameters)" : "") on \(isa?.rawValue ?? "swift")"
                    XCTAssertEqual(try plan.run(feeds)[y]?.floats, expected, label)
                    let steps = plan.makeProfile().labels
                    XCTAssertEqual(steps.filter { $0.hasPrefix("concat 2 (\(sameAsOutput ? 1 : 2) requantized)") }.count, 1, "\(label): \(steps)")
                    XCTAssertEqual(steps.filter { $0.contains("island") }, [], "\(label): \(steps)")
                }
            }
        }
    }
}
