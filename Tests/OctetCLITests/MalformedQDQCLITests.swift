import Foundation
import OctetTestSupport
import XCTest

/// Malformed quantization parameters in a QDQ file are refused by every CLI entry that runs the
/// model (`bench`, `run`, `eval`), before any work, with exit status 1 and a message naming the
/// node and the cause: never a trap (a per-channel scale array one element short used to kill
/// the process with SIGILL) and never silent numbers.
final class MalformedQDQCLITests: XCTestCase {
    func testEveryCLIEntryRefusesMalformedQuantizationParameters() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        // x [N,3,10,9] → Conv 3→6 (per-channel weights) → Relu → Conv 6→4 → "y".
        var b = GraphBuilder(name: "two-convs")
        let x = b.input("x", dims: [nil, 3, 10, 9])
        var r = TestRandom(seed: 11)
        let w1 = b.constant("w1", r.tensor([6, 3, 3, 3])), b1 = b.constant("b1", r.tensor([6]))
        let h = b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1), [x, w1, b1])], name: "h")
        let w2 = b.constant("w2", r.tensor([4, 6, 1, 1]))
        let y = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [h, w2], name: "y")
        b.output(y, dims: [nil, 4, 10, 9])
        let fp32 = dir.appendingPathComponent("fp32.onnx").path
        try ONNXExporter.write(b.graph, to: URL(fileURLWithPath: fp32))
        let npy = dir.appendingPathComponent("x.npy").path
        try NPYFile.write(path: npy, shape: [4, 3, 10, 9], values: r.tensor([4, 3, 10, 9]).floats!)
        let cal = try runProduct("octet", ["calibrate", fp32, "--data", npy, "--out", dir.appendingPathComponent("cal").path,
                                           "--report-samples", "1", "--sensitivity-margin", "off", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let good = try ONNXImporter.load(contentsOf: URL(fileURLWithPath: try XCTUnwrap((cal.json?["paths"] as? [String: String])?["model"])))

        // The weight DequantizeLinear of the first convolution and the QuantizeLinear of its input.
        let weightDQ = try XCTUnwrap(good.nodes.first { if case .dequantizeLinear = $0.op { $0.inputs[0] == "w1_quantized" } else { false } })
        let inputQ = try XCTUnwrap(good.nodes.first { if case .quantizeLinear = $0.op { $0.inputs[0] == x } else { false } })
        let wScale = weightDQ.inputs[1], wZero = weightDQ.inputs[2], xScale = inputQ.inputs[1]
        func edited(_ name: String, _ change: (inout Graph) throws -> Void) throws -> (String, String) {
            var g = good
            try change(&g)
            let path = dir.appendingPathComponent("\(name).onnx").path
            try ONNXExporter.write(g, to: URL(fileURLWithPath: path))
            return (name, path)
        }
        func setNode(_ g: inout Graph, _ node: Node, _ op: Op) { if let i = g.nodes.firstIndex(of: node) { g.nodes[i].op = op } }
        let scales = try XCTUnwrap(good.initializers[wScale]?.floats)
        let zeros = try XCTUnwrap(good.initializers[wZero])
        let codes = try XCTUnwrap(good.initializers["w1_quantized"])
        let cases: [(String, String)] = [
            try edited("weight-scale-short") { $0.initializers[wScale] = try Tensor(shape: [5], floats: Array(scales.prefix(5))) },
            try edited("weight-scale-short-no-zero-point") {
                $0.initializers[wScale] = try Tensor(shape: [5], floats: Array(scales.prefix(5)))
                if let i = $0.nodes.firstIndex(of: weightDQ) { $0.nodes[i].inputs.removeLast() }
            },
            try edited("weight-zero-point-short") { $0.initializers[wZero] = try Tensor(shape: [5], data: .int8(Array(repeating: 0, count: 5))) },
            try edited("zero-scale") { $0.initializers[xScale] = Tensor.filled([], 0) },
            try edited("nan-scale") { $0.initializers[xScale] = Tensor.filled([], .nan) },
            try edited("infinite-scale") { $0.initializers[xScale] = Tensor.filled([], .infinity) },
            try edited("negative-weight-scale") { var s = scales; s[2] = -s[2]; $0.initializers[wScale] = try Tensor(shape: [6], floats: s) },
            try edited("vector-activation-scale") { $0.initializers[xScale] = try Tensor(shape: [3], floats: [0.1, 0.1, 0.1])
                $0.initializers[inputQ.inputs[2]] = try Tensor(shape: [3], data: .uint8([128, 128, 128])) },
            try edited("axis-7") { setNode(&$0, weightDQ, .dequantizeLinear(axis: 7)) },
            try edited("uint8-weights") {
                $0.initializers["w1_quantized"] = try Tensor(shape: codes.shape, data: .uint8(codes.data.doubles.map { UInt8(Int($0) + 128) }))
                $0.initializers[wZero] = try Tensor(shape: zeros.shape, data: .uint8(Array(repeating: 128, count: 6)))
            },
            try edited("weight-zero-point-out-of-int8") {
                $0.initializers[wZero] = try Tensor(shape: zeros.shape, data: .int8(Array(repeating: 100, count: 6)))
            },
        ]
        let causes = ["weight-scale-short": "6 zero point(s) for 5 scale(s)", "weight-zero-point-short": "5 zero point(s) for 6 scale(s)",
                      "weight-scale-short-no-zero-point": "5 scales for axis 0 of size 6",
                      "zero-scale": "scale 0.0", "nan-scale": "scale nan", "infinite-scale": "scale inf",
                      "negative-weight-scale": "at index 2", "vector-activation-scale": "3 scales on an activation",
                      "axis-7": "axis 7 is out of range", "uint8-weights": "uint8 weights",
                      "weight-zero-point-out-of-int8": "leaves int8"]
        for (name, path) in cases {
            let entries: [(String, [String])] = [
                ("bench", ["bench", path, "--batch", "2", "--iterations", "1"]),
                ("run", ["run", path, "--data", npy]),
                ("eval", ["eval", fp32, path, "--data", npy]),
            ]
            for (entry, arguments) in entries {
                let result = try runProduct("octet", arguments)
                let label = "\(name): octet \(entry)"
                XCTAssertEqual(result.status, 1, "\(label): \(result.stderr)")
                XCTAssertTrue(result.stderr.contains("invalid quantization parameters"), "\(label): \(result.stderr)")
                XCTAssertTrue(result.stderr.contains(causes[name] ?? "?"), "\(label): \(result.stderr)")
                XCTAssertTrue(result.stdout.isEmpty || !result.stdout.contains("images/s"), "\(label) did work: \(result.stdout)")
            }
        }
        // The unedited file runs.
        let ok = try runProduct("octet", ["run", try XCTUnwrap((cal.json?["paths"] as? [String: String])?["model"]), "--data", npy])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }
}
