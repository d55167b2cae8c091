import OctetTestSupport
import XCTest

/// The two-run interleave (a channel shuffle of two groups on u8 codes) against its definition
/// on every path this CPU has: lengths 0…100 (vector tails of 32 and 16) and random longer ones,
/// unaligned runs, nothing written past the end.
final class InterleaveKernelTests: XCTestCase {
    func testInterleaveMatchesItsDefinitionOnEveryPath() {
        var r = TestRandom(seed: 58)
        for isa in ISA.supported {
            for trial in 0..<160 {
                let n = trial <= 100 ? trial : r.int(101...2000)
                let skew = r.int(0...3)
                let source = (0..<(2 * n + skew)).map { _ in UInt8(r.int(0...255)) }
                var out = [UInt8](repeating: 0xCD, count: 2 * n + 1)
                source.withUnsafeBufferPointer { s in
                    let a = s.baseAddress! + skew
                    InterleaveKernel.run(a, a + n, output: &out, count: n, isa: isa)
                }
                let expected = (0..<n).flatMap { [source[skew + $0], source[skew + n + $0]] }
                XCTAssertEqual(Array(out.prefix(2 * n)), expected, "\(isa) n=\(n)")
                XCTAssertEqual(out[2 * n], 0xCD, "\(isa) wrote past the end")
            }
        }
    }
}
