import OctetTestSupport
import XCTest

/// Pillow's resampling passes on the C kernels against their definition, on every path this CPU
/// has: random row lengths and tap counts (vector blocks of 8 outputs and their scalar tails,
/// outputs at the row's end), padded strides, signed weights large enough to clamp at 0 and 255
/// and to wrap the 32-bit sum, and nothing written outside each output row.
final class ResampleKernelTests: XCTestCase {
    /// clip8((2^21 + Σ wᵢ·pᵢ) >> 22) in wrapping 32-bit arithmetic.
    static func clip8(_ terms: [(UInt8, Int32)]) -> UInt8 {
        let sum = terms.reduce(Int32(1 << 21)) { $0 &+ Int32($1.0) &* $1.1 }
        let s = sum >> 22
        return s <= 0 ? 0 : (s >= 255 ? 255 : UInt8(s))
    }

    static func weight(_ r: inout TestRandom, wide: Bool) -> Int32 {
        wide ? Int32(r.int(-(1 << 26)...(1 << 26))) : Int32(r.int(0...(1 << 22)))
    }

    func testTheHorizontalPassMatchesItsDefinitionOnEveryPath() {
        var r = TestRandom(seed: 61)
        for isa in ISA.supported {
            for trial in 0..<300 {
                let rows = r.int(1...4), rowPixels = r.int(1...70), taps = r.int(0...min(rowPixels, 9))
                let outPixels = trial < 40 ? trial : r.int(0...48)
                let srcStride = rowPixels * 3 + r.int(0...5), outStride = outPixels * 3 + r.int(0...5)
                let saturated = trial % 4 == 0
                let src = (0..<((rows - 1) * srcStride + rowPixels * 3)).map { _ in saturated ? UInt8(r.bool() ? 255 : 0) : UInt8(r.int(0...255)) }
                // Non-decreasing starts, the last ones at the row's end.
                var start = (0..<outPixels).map { _ in Int32(r.int(0...(rowPixels - taps))) }.sorted()
                if outPixels > 0, r.bool() { start[outPixels - 1] = Int32(rowPixels - taps) }
                let wide = trial % 3 != 0
                let weights = (0..<(taps * outPixels)).map { _ in Self.weight(&r, wide: wide) }
                var out = [UInt8](repeating: 0xCD, count: rows * outStride)
                src.withUnsafeBufferPointer { s in start.withUnsafeBufferPointer { st in weights.withUnsafeBufferPointer { w in
                    ResampleKernel.rows(s.baseAddress!, rows: rows, rowPixels: rowPixels, srcStride: srcStride, start: st.baseAddress!,
                                        weights: w.baseAddress!, taps: taps, outPixels: outPixels, into: &out, outStride: outStride, isa: isa)
                } } }
                for y in 0..<rows {
                    for x in 0..<outPixels {
                        for c in 0..<3 {
                            let terms = (0..<taps).map { i in (src[y * srcStride + (Int(start[x]) + i) * 3 + c], weights[i * outPixels + x]) }
                            XCTAssertEqual(out[y * outStride + x * 3 + c], Self.clip8(terms), "\(isa) trial \(trial) row \(y) x \(x) c \(c)")
                        }
                    }
                    XCTAssertEqual(Array(out[(y * outStride + outPixels * 3)..<((y + 1) * outStride)]),
                                   Array(repeating: 0xCD, count: outStride - outPixels * 3), "\(isa) trial \(trial): wrote past row \(y)")
                }
            }
        }
    }

    func testTheVerticalPassMatchesItsDefinitionOnEveryPath() {
        var r = TestRandom(seed: 62)
        for isa in ISA.supported {
            for trial in 0..<300 {
                let n = trial < 70 ? trial : r.int(0...300), taps = r.int(0...7), stride = n + r.int(0...9)
                let saturated = trial % 4 == 0
                let src = (0..<(max(taps - 1, 0) * stride + n)).map { _ in saturated ? UInt8(r.bool() ? 255 : 0) : UInt8(r.int(0...255)) }
                let weights = (0..<max(taps, 1)).map { _ in Self.weight(&r, wide: trial % 3 != 0) }
                var out = [UInt8](repeating: 0xCD, count: n + 1)
                src.withUnsafeBufferPointer { s in weights.withUnsafeBufferPointer { w in
                    // An empty source (no taps, or no bytes) still needs a valid pointer.
                    let base = s.baseAddress ?? UnsafePointer(w.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: 1) { $0 })
                    ResampleKernel.column(base, stride: stride, weights: w.baseAddress!, taps: taps, count: n, into: &out, isa: isa)
                } }
                let expected = (0..<n).map { x in Self.clip8((0..<taps).map { i in (src[i * stride + x], weights[i]) }) }
                XCTAssertEqual(Array(out.prefix(n)), expected, "\(isa) trial \(trial) n \(n) taps \(taps)")
                XCTAssertEqual(out[n], 0xCD, "\(isa) trial \(trial): wrote past the end")
            }
        }
    }
}
