import Foundation
import OctetTestSupport
import XCTest

/// Heads whose last op computes a model output in float (a detector's Sigmoid map, a Softmax over
/// logits, a HardSigmoid, a Flatten of a pool): the quantize pass leaves their inputs in float
/// (no QuantizeLinear), the INT8 plan runs the integer layers before them writing floats, every
/// path gives the Swift reference's outputs bit for bit, and the outputs stay close to FP32.
final class FloatOutputHeadsTests: XCTestCase {
    func model() -> Graph {
        var b = GraphBuilder(name: "heads")
        let x = b.input("x", dims: [nil, 3, 12, 10])
        var r = TestRandom(seed: 31)
        func conv(_ v: String, _ cin: Int, _ cout: Int, kernel: Int = 3, _ name: String) -> String {
            let pad = kernel / 2
            return b.add(.conv(Window2D(kernel: [kernel, kernel], pads: [pad, pad, pad, pad]), group: 1),
                         [v, b.constant(name + "_w", r.tensor(Shape([cout, cin, kernel, kernel]), -0.5, 0.5)),
                          b.constant(name + "_b", r.tensor(Shape([cout]), -0.2, 0.2))], name: name)
        }
        let trunk = b.add(.relu, [conv(x, 3, 16, "trunk")])
        b.output(b.add(.unary(.sigmoid), [conv(trunk, 16, 1, kernel: 1, "map")], name: "prob"), dims: [nil, 1, 12, 10])
        let sum = b.add(.add, [conv(trunk, 16, 4, kernel: 1, "left"), conv(trunk, 16, 4, kernel: 1, "right")], name: "sum")
        b.output(b.add(.softmax(axis: 1, coerce2D: false), [sum], name: "scores"), dims: [nil, 4, 12, 10])
        b.output(b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [conv(trunk, 16, 2, kernel: 1, "gate_logits")], name: "gate"),
                 dims: [nil, 2, 12, 10])
        let pooled = b.add(.maxPool(Window2D(kernel: [2, 2], strides: [2, 2]), ceilMode: false), [trunk], name: "pool")
        b.output(b.add(.flatten(axis: 1), [pooled], name: "flat"), dims: [nil, 480])
        return b.graph
    }

    func testHeadsComputingOutputsInFloatReadFloatsOnEveryPath() throws {
        var r = TestRandom(seed: 32)
        let q = try quantizedEveryLayer(model(), samples: r.tensor([12, 3, 12, 10], -2, 2))
        // No QuantizeLinear on what only the float heads read: the map's and the gate's logits, the
        // Add's sum before the Softmax, the pool's output before the Flatten.
        let quantized = Set(q.qdq.nodes.filter { if case .quantizeLinear = $0.op { true } else { false } }.map { $0.inputs[0] })
        for value in ["map_out", "gate_logits_out", "sum_out", "pool_out"] {
            XCTAssertTrue(q.fp32.nodes.contains { $0.outputs.contains(value) }, "\(value) is a value of the model")
            XCTAssertFalse(quantized.contains(value), "\(value) is quantized: \(quantized.sorted())")
        }
        // The trunk's output, which integer convolutions read, is.
        XCTAssertTrue(quantized.contains(try XCTUnwrap(q.fp32.nodes.first { $0.name == "map" }).inputs[0]), "\(quantized.sorted())")
        let input = r.tensor([3, 3, 12, 10], -2, 2)
        let names = q.qdq.outputs.map(\.name)
        let reference = try Int8Plan(graph: q.qdq, isa: nil).run(["x": input])
        let fp32 = try ModelRun(graph: q.fp32, options: PlanOptions(threads: 1)).run(["x": input])
        for name in names {
            let int8 = try XCTUnwrap(reference[name]?.floats, name), float = try XCTUnwrap(fp32[name]?.floats, name)
            let noise = zip(int8, float).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let signal = float.reduce(0.0) { $0 + Double($1 * $1) }
            XCTAssertGreaterThan(10 * log10(signal / max(noise, 1e-30)), 25, "\(name): INT8 far from FP32")
        }
        for isa in ISA.supported {
            let outputs = try Int8Plan(graph: q.qdq, threads: 2, isa: isa).run(["x": input])
            for name in names { XCTAssertEqual(outputs[name]?.floats, reference[name]?.floats, "\(isa) \(name)") }
        }
    }
}
