import Foundation
import OctetTestSupport
import XCTest

/// A table activation (HardSwish, SiLU as x·Sigmoid(x)) whose input only a convolution writes and
/// only the table reads is fused into that convolution (`Int8Compiler.fuseTableIntoConvolution`):
/// the codes equal the unfused plan's on every path and in the Swift reference, dense, depthwise
/// and residual-Add convolutions and PRelu's table per channel included; the profile shows `+ table` and no table step where it
/// fused, and a convolution output that another node also reads keeps its own table step.
final class Int8TableFusionTests: XCTestCase {
    func model() -> Graph {
        var b = GraphBuilder(name: "fusion")
        let x = b.input("x", dims: [nil, 3, 13, 11])
        var r = TestRandom(seed: 21)
        func conv(_ v: String, _ cin: Int, _ cout: Int, group: Int = 1, kernel: Int = 3, stride: Int = 1, _ name: String) -> String {
            let pad = kernel / 2
            return b.add(.conv(Window2D(kernel: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad]), group: group),
                         [v, b.constant(name + "_w", r.tensor(Shape([cout, cin / group, kernel, kernel]), -0.5, 0.5)),
                          b.constant(name + "_b", r.tensor(Shape([cout]), -0.2, 0.2))], name: name)
        }
        func silu(_ v: String) -> String { b.add(.mul, [v, b.add(.unary(.sigmoid), [v])]) }
        let a = b.add(.unary(.hardSwish), [conv(x, 3, 24, stride: 2, "stem")])              // dense 3×3, stride 2
        let d = silu(conv(a, 24, 24, group: 24, "dw"))                                        // depthwise
        let e = conv(d, 24, 40, kernel: 1, "expand")                                           // read twice: no fusion
        let f = b.add(.add, [b.add(.unary(.hardSwish), [e]), e])
        let g = silu(b.add(.add, [conv(f, 40, 24, kernel: 1, "project"), d]))                 // residual Add, then a table
        let slopes = b.constant("slopes", try! Tensor(shape: [24, 1, 1], floats: (0..<24).map { Float($0 % 5) * 0.2 - 0.3 }))
        let h = b.add(.binary(.prelu), [conv(g, 24, 24, kernel: 1, "head"), slopes])           // one table per channel
        let pooled = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [h])])
        b.output(b.add(.gemm(GemmAttributes(transB: true)), [pooled, b.constant("fc_w", r.tensor([7, 24])), b.constant("fc_b", r.tensor([7]))],
                       name: "fc"), dims: [nil, 7])
        return b.graph
    }

    func testATableFusesIntoTheConvolutionItFollowsWithTheSameCodes() throws {
        var r = TestRandom(seed: 22)
        let q = try quantizedEveryLayer(model(), samples: r.tensor([10, 3, 13, 11], -2, 2))
        let input = r.tensor([4, 3, 13, 11], -2, 2)
        let output = q.qdq.outputs[0].name
        let reference = try XCTUnwrap(try Int8Plan(graph: q.qdq, isa: nil, fuseIntoConvolutions: false).run(["x": input])[output]?.floats)
        for isa in [nil] + ISA.supported.map(Optional.some) {
            let label = isa?.rawValue ?? "swift"
            let plan = try Int8Plan(graph: q.qdq, threads: 2, isa: isa)
            XCTAssertEqual(try plan.run(["x": input])[output]?.floats, reference, label)
            let steps = plan.makeProfile().labels
            let fused = steps.filter { $0.contains("+ table") }
            // The Swift reference fuses no residual Add, so the last table follows an add step there.
            let addFuses = isa != nil
            XCTAssertEqual(fused.count, addFuses ? 4 : 3, "\(label): stem, dw, head (and the projection with its Add) fuse their tables: \(steps)")
            XCTAssertEqual(fused.contains { $0.contains("+ add + table") }, addFuses, "\(label): \(steps)")
            XCTAssertEqual(fused.filter { $0.contains("+ table (computed)") }.count, 1, "\(label): the head's PRelu is computed: \(steps)")
            XCTAssertEqual(steps.filter { $0.hasPrefix("table: ") }.count, addFuses ? 1 : 2,
                           "\(label): the expand convolution's output is read twice, so its table stays a step: \(steps)")
            let unfused = try Int8Plan(graph: q.qdq, threads: 2, isa: isa, fuseIntoConvolutions: false)
            XCTAssertEqual(unfused.makeProfile().labels.filter { $0.hasPrefix("table: ") || $0.hasPrefix("channel tables: ") }.count, 5, label)
            XCTAssertEqual(try unfused.run(["x": input])[output]?.floats, reference, label)
        }
    }
}
