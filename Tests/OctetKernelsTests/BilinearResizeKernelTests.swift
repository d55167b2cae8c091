import OctetTestSupport
import XCTest

/// The bilinear Resize of u8 codes on every path this CPU has equals its definition, the
/// integer blend with weights in 1/2048 (columns, then rows, rounded half up), byte for byte, and that definition is within
/// one code of rounding the exact float blend: random geometry (up and down, repeated and edge
/// rows), channel counts around the 16-wide vector (1…40), codes at 0 and 255.
final class BilinearResizeKernelTests: XCTestCase {
    /// Random source indices and weights for `output` positions over `input` ones.
    static func axis(_ r: inout TestRandom, input: Int, output: Int) -> (lower: [Int], upper: [Int], weight: [Float]) {
        var lower: [Int] = [], upper: [Int] = [], weight: [Float] = []
        for _ in 0..<output {
            let j = r.int(0...(input - 1))
            lower.append(j)
            upper.append(min(j + 1, input - 1))
            // Exact ends (0, 1) and a weight that rounds to 1 as well as random ones.
            weight.append([0, 1, 0.99999, 0.5, Float(r.int(0...100_000)) / 100_000][r.int(0...4)])
        }
        return (lower, upper, weight)
    }

    func testEveryPathEqualsTheIntegerBlendWithinOneCodeOfTheFloatBlend() {
        var r = TestRandom(seed: 77)
        for trial in 0..<120 {
            let inH = r.int(1...7), inW = r.int(1...7)
            let channels = trial < 40 ? trial + 1 : r.int(1...70)
            let outH = r.int(1...9), outW = r.int(1...9)
            let rows = Self.axis(&r, input: inH, output: outH), columns = Self.axis(&r, input: inW, output: outW)
            let extreme = trial % 3 == 0
            let input = (0..<(inH * inW * channels)).map { _ in UInt8(extreme ? [0, 255][r.int(0...1)] : r.int(0...255)) }
            let kernel = BilinearResizeKernel(inWidth: inW, channels: channels, rows: rows, columns: columns)
            // The definition, and the float blend it approximates.
            var expected: [UInt8] = [], exact: [Float] = []
            for oy in 0..<outH {
                for ox in 0..<outW {
                    let fy = Int32((rows.weight[oy] * 2048).rounded()), fx = Int32((columns.weight[ox] * 2048).rounded())
                    for c in 0..<channels {
                        func q(_ y: Int, _ x: Int) -> Int32 { Int32(input[(y * inW + x) * channels + c]) }
                        let top = (2048 - fx) * q(rows.lower[oy], columns.lower[ox]) + fx * q(rows.lower[oy], columns.upper[ox])
                        let bottom = (2048 - fx) * q(rows.upper[oy], columns.lower[ox]) + fx * q(rows.upper[oy], columns.upper[ox])
                        expected.append(UInt8(((2048 - fy) * top + fy * bottom + (1 << 21)) >> 22))
                        let wy = rows.weight[oy], wx = columns.weight[ox]
                        let upper = (1 - wx) * Float(q(rows.lower[oy], columns.lower[ox])) + wx * Float(q(rows.lower[oy], columns.upper[ox]))
                        let lower = (1 - wx) * Float(q(rows.upper[oy], columns.lower[ox])) + wx * Float(q(rows.upper[oy], columns.upper[ox]))
                        exact.append((1 - wy) * upper + wy * lower)
                    }
                }
            }
            let label = "trial \(trial): \(inH)x\(inW) -> \(outH)x\(outW) x\(channels)"
            for (e, f) in zip(expected, exact) { XCTAssertLessThanOrEqual(abs(Float(e) - f.rounded()), 1, label) }
            for isa in ISA.supported {
                var out = [UInt8](repeating: 0xCD, count: expected.count + 1)
                input.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { kernel.run(input: x.baseAddress!, output: $0.baseAddress!, isa: isa) } }
                XCTAssertEqual(Array(out.prefix(expected.count)), expected, "\(label) on \(isa)")
                XCTAssertEqual(out[expected.count], 0xCD, "\(label) on \(isa): wrote past the end")
            }
        }
    }
}
