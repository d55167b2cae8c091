import Foundation
import OctetTestSupport
import XCTest

final class ONNXImportExportTests: XCTestCase {
    func testExportThenImportIsIdentity() throws {
        let graph = ResNet.build(.resnet18, seed: 3)
        let data = try ONNXExporter.serialize(graph)
        let back = try ONNXImporter.load(data: data)
        XCTAssertEqual(back.nodes, graph.nodes)
        XCTAssertEqual(back.initializers, graph.initializers)
        XCTAssertEqual(back.inputs, graph.inputs)
        XCTAssertEqual(back.outputs, graph.outputs)
    }

    func testRealModelImports() throws {
        try TestPaths.requireShared()
        let graph = try ONNXImporter.load(contentsOf: URL(fileURLWithPath: TestPaths.efficientNet))
        XCTAssertEqual(graph.opsetVersion, 13)
        XCTAssertEqual(graph.inputs.map(\.name), ["input"])
        XCTAssertEqual(graph.outputs.map(\.name), ["logits"])
        XCTAssertEqual(graph.opCounts["Conv"], 49)
    }

    func testTypedFieldsAndExternalData() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var model = Onnx_ModelProto()
        var opset = Onnx_OperatorSetIdProto(); opset.version = 17
        model.opsetImport = [opset]
        var g = Onnx_GraphProto()
        var typed = Onnx_TensorProto(); typed.name = "a"; typed.dims = [3]; typed.dataType = 1; typed.floatData = [1, 2, 3]
        var ext = Onnx_TensorProto(); ext.name = "b"; ext.dims = [3]; ext.dataType = 1; ext.dataLocation = .external
        let payload: [Float] = [10, 20, 30]
        var bytes = Data(repeating: 0xAB, count: 8)
        payload.withUnsafeBytes { bytes.append(contentsOf: $0) }
        try bytes.write(to: dir.appendingPathComponent("weights.bin"))
        for (k, v) in [("location", "weights.bin"), ("offset", "8"), ("length", "12")] {
            var e = Onnx_StringStringEntryProto(); e.key = k; e.value = v; ext.externalData.append(e)
        }
        g.initializer = [typed, ext]
        var node = Onnx_NodeProto(); node.opType = "Add"; node.input = ["x", "a"]; node.output = ["y"]
        var node2 = Onnx_NodeProto(); node2.opType = "Mul"; node2.input = ["y", "b"]; node2.output = ["z"]
        g.node = [node, node2]
        func info(_ name: String) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto(); v.name = name; v.type.tensorType.elemType = 1
            var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = 3
            v.type.tensorType.shape.dim = [d]
            return v
        }
        g.input = [info("x")]; g.output = [info("z")]
        model.graph = g
        let url = dir.appendingPathComponent("m.onnx")
        try model.serializedData().write(to: url)
        let graph = try ONNXImporter.load(contentsOf: url)
        XCTAssertEqual(graph.initializers["a"]?.floats, [1, 2, 3])
        XCTAssertEqual(graph.initializers["b"]?.floats, payload)
        XCTAssertEqual(graph.nodes.map(\.name), ["Add_0", "Mul_1"])

        // Truncated external data is a clear error naming the tensor.
        try bytes.prefix(14).write(to: dir.appendingPathComponent("weights.bin"))
        XCTAssertThrowsError(try ONNXImporter.load(contentsOf: url)) { XCTAssertTrue("\($0)".contains("tensor 'b'"), "\($0)") }
    }

    func testTruncatedRandomAndEmptyFilesAreClearErrors() throws {
        let data = try ONNXExporter.serialize(ResNet.build(.resnet18))
        for cut in [1, 7, 100, data.count / 3, data.count / 2, data.count - 5] {
            XCTAssertThrowsError(try ONNXImporter.load(data: data.prefix(cut)), "cut at \(cut)") { error in
                XCTAssertTrue(error is ONNXError, "\(error)")
            }
        }
        var r = TestRandom(seed: 1)
        for i in 0..<50 {
            let bytes = Data((0..<r.int(1...4000)).map { _ in UInt8(truncatingIfNeeded: r.rng.next()) })
            XCTAssertThrowsError(try ONNXImporter.load(data: bytes), "random \(i)")
        }
        XCTAssertThrowsError(try ONNXImporter.load(data: Data())) { XCTAssertTrue("\($0)".contains("empty")) }
    }

    func testUnknownOpNamesOpNodeAndSupportedSet() throws {
        var model = Onnx_ModelProto()
        var opset = Onnx_OperatorSetIdProto(); opset.version = 13
        model.opsetImport = [opset]
        var n = Onnx_NodeProto(); n.name = "weird"; n.opType = "NonMaxSuppression"; n.input = ["x"]; n.output = ["y"]
        model.graph.node = [n]
        XCTAssertThrowsError(try ONNXImporter.load(data: try model.serializedData())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("NonMaxSuppression (node 'weird')"), text)
            XCTAssertTrue(text.contains("Supported: Abs, Add, And, AveragePool"), text)
        }
    }

    func testRecurrentAndAttentionBlocksAreRefusedByName() throws {
        var model = Onnx_ModelProto()
        var opset = Onnx_OperatorSetIdProto(); opset.version = 13
        model.opsetImport = [opset]
        var n = Onnx_NodeProto(); n.name = "rnn"; n.opType = "LSTM"; n.input = ["x"]; n.output = ["y"]
        var m = Onnx_NodeProto(); m.name = "sig"; m.opType = "Sigmoid"; m.input = ["y"]; m.output = ["z"]
        model.graph.node = [n, m]
        XCTAssertThrowsError(try ONNXImporter.load(data: try model.serializedData())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("out of scope: LSTM (node 'rnn')"), text)
            XCTAssertTrue(text.contains("recurrent and attention blocks"), text)
        }
    }

    func testOpsetOutsideRangeIsRefused() throws {
        var data = try ONNXExporter.serialize(ResNet.build(.resnet18))
        var model = try Onnx_ModelProto(serializedBytes: data)
        model.opsetImport[0].version = 9
        data = try model.serializedData()
        XCTAssertThrowsError(try ONNXImporter.load(data: data)) { XCTAssertTrue("\($0)".contains("opset 9"), "\($0)") }
    }
}
