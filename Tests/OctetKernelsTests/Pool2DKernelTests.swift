import OctetTestSupport
import XCTest

/// Pooling kernels: every path against the scalar twin, and the twin against the reference interpreter.
final class Pool2DKernelTests: XCTestCase {
    func testPoolingPathsMatchScalarAndDefinition() throws {
        var r = TestRandom(seed: 3)
        for i in 0..<120 {
            let c = r.int(1...37), kh = r.int(1...4), kw = r.int(1...4), s = r.int(1...3)
            let h = r.int(kh...15), w = r.int(kw...15)
            let pads = [r.int(0...(kh - 1)), r.int(0...(kw - 1)), r.int(0...(kh - 1)), r.int(0...(kw - 1))]
            let window = Window2D(kernel: [kh, kw], strides: [s, s], pads: pads)
            let out = window.outputSize(input: [h, w])
            let include = r.bool()
            let x = r.tensor([1, c, h, w])
            for kind in [Pool2DKernel.Kind.max, .average(countIncludePad: include)] {
                let op: Op = kind == .max ? .maxPool(window, ceilMode: false)
                    : .averagePool(window, ceilMode: false, countIncludePad: include)
                let graph = Graph(inputs: [ValueInfo(name: "x", dims: [1, c, h, w])], outputs: [ValueInfo(name: "y", dims: [1, c, out[0], out[1]])],
                                  nodes: [Node(name: "pool", op: op, inputs: ["x"], outputs: ["y"])])
                let expected = try ReferenceInterpreter.run(graph, inputs: ["x": x])["y"]!.floats!
                let nhwc = toNHWC(x.floats!, c: c, hw: h * w)
                for isa in ISA.supported {
                    let k = Pool2DKernel(kind: kind, isa: isa, inHeight: h, inWidth: w, channels: c, outHeight: out[0], outWidth: out[1],
                                         kernel: (kh, kw), stride: (s, s), padTop: pads[0], padLeft: pads[1])
                    var y = [Float](repeating: .nan, count: c * out[0] * out[1])
                    nhwc.withUnsafeBufferPointer { src in y.withUnsafeMutableBufferPointer { k.run(input: src.baseAddress!, output: $0.baseAddress!) } }
                    let got = fromNHWC(y, c: c, hw: out[0] * out[1])
                    for j in got.indices {
                        XCTAssertEqual(got[j], expected[j], accuracy: 1e-5 * max(1, abs(expected[j])), "case \(i) \(kind) \(isa) element \(j)")
                    }
                }
            }
        }
    }

    func testGlobalAverage() {
        var r = TestRandom(seed: 4)
        for _ in 0..<30 {
            let c = r.int(1...70), hw = r.int(1...60)
            let x = r.floats(c * hw)
            var expected = [Float](repeating: 0, count: c)
            for ch in 0..<c { expected[ch] = Float((0..<hw).map { Double(x[$0 * c + ch]) }.reduce(0, +) / Double(hw)) }
            for isa in ISA.supported {
                let k = Pool2DKernel.globalAverage(isa: isa, inHeight: 1, inWidth: hw, channels: c)
                var y = [Float](repeating: .nan, count: c)
                x.withUnsafeBufferPointer { src in y.withUnsafeMutableBufferPointer { k.run(input: src.baseAddress!, output: $0.baseAddress!) } }
                for ch in 0..<c { XCTAssertEqual(y[ch], expected[ch], accuracy: 1e-5, "\(isa) channel \(ch)") }
            }
        }
    }
}

func toNHWC(_ x: [Float], c: Int, hw: Int) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for ch in 0..<c { for p in 0..<hw { out[p * c + ch] = x[ch * hw + p] } }
    return out
}

func fromNHWC(_ x: [Float], c: Int, hw: Int) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for ch in 0..<c { for p in 0..<hw { out[ch * hw + p] = x[p * c + ch] } }
    return out
}
