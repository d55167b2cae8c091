import Foundation
import OctetTestSupport
import XCTest

/// Each general operator against ONNX Runtime on randomized single-op models
/// (`scripts/op_cases.py`: broadcasting shapes, negative axes, size-1 and empty dimensions, the
/// attribute forms of opsets 11–18), imported and run through the public entry points
/// (`ModelLoader.load`, `ExecutionPlan`) on every kernel path the CPU has.
final class GeneralOpTests: XCTestCase {
    struct Case { var name: String; var model: String; var inputs: [(String, String)]; var outputs: [(String, String)] }

    func cases() throws -> [Case] {
        let dir = try TestPaths.temporaryDirectory(self)
        guard let json = try PythonScript.run("op_cases.py", [dir.path]) else {
            throw XCTSkip("python3 with onnxruntime, onnx and numpy is not installed: per-op comparison with ONNX Runtime skipped")
        }
        let raw = try XCTUnwrap(json["cases"] as? [[String: Any]], "op_cases.py failed (is the onnx package installed?)")
        return raw.map { c in
            func pairs(_ k: String) -> [(String, String)] { ((c[k] as? [[String]]) ?? []).map { ($0[0], $0[1]) } }
            return Case(name: c["name"] as? String ?? "?", model: c["model"] as? String ?? "", inputs: pairs("inputs"), outputs: pairs("outputs"))
        }
    }

    func testGeneralOperatorsMatchONNXRuntimeOnEveryPath() throws {
        let all = try cases()
        XCTAssertGreaterThan(all.count, 150)
        var failures: [String] = []
        for isa in ISA.supported where isa != .avx512vnni && isa != .avxvnni {  // FP32 kernels: avx512vnni is the avx512 path, avxvnni the avx2 one
            for c in all {
                do {
                    let graph = try ModelLoader.load(path: c.model)
                    var inputs: [String: Tensor] = [:], shapes: [String: Shape] = [:]
                    for (name, file) in c.inputs {
                        let (s, v) = try NPYFile.read(path: file)
                        inputs[name] = try Tensor(shape: Shape(s), floats: v)
                        shapes[name] = Shape(s)
                    }
                    for threads in [1, 2] {
                        let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads), inputShapes: shapes)
                        let got = try plan.run(inputs)
                        for (name, file) in c.outputs {
                            let (s, expected) = try NPYFile.read(path: file)
                            guard let g = got[name], let values = g.floats else { failures.append("\(c.name): no output \(name)"); continue }
                            guard g.shape.dims == s else { failures.append("\(c.name) [\(isa)]: shape \(g.shape) != \(s)"); continue }
                            let scale = max(expected.map { abs($0) }.max() ?? 0, 1)
                            let err = zip(values, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
                            if !(err <= 1e-5 * Double(scale)) { failures.append("\(c.name) [\(isa), \(threads) threads]: max |Δ| \(err) (scale \(scale))") }
                        }
                    }
                } catch {
                    failures.append("\(c.name) [\(isa)]: \(error)")
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) failures:\n" + failures.prefix(40).joined(separator: "\n"))
    }

    /// The plan runs images one by one: an op that would mix the images of a batch is refused
    /// before any work, naming the node and the cause.
    func testOpsThatMixImagesAreRefused() throws {
        func plan(_ op: Op, _ constant: Tensor?, name: String) throws -> String {
            var b = GraphBuilder(name: "mix")
            let x = b.input("x", dims: [nil, 3, 4, 4])
            let inputs = [x] + (constant.map { [b.constant("c", $0)] } ?? [])
            let y = b.add(op, inputs, name: name)
            b.output(y, dims: [nil])
            do { _ = try ExecutionPlan(graph: ModelLoader.optimize(b.graph)); return "" } catch { return "\(error)" }
        }
        let expand = try plan(.expand, try Tensor(shape: [4], data: .int64([2, 3, 4, 4])), name: "grow")
        XCTAssertTrue(expand.contains("node 'grow'") && expand.contains("across the batch axis"), expand)
        let squeeze = try plan(.squeeze, nil, name: "sq")
        XCTAssertTrue(squeeze.contains("node 'sq'") && squeeze.contains("drop the batch axis"), squeeze)
        let reduce = try plan(.reduce(.mean, keepDims: true, noopWithEmptyAxes: false), try Tensor(shape: [1], data: .int64([0])), name: "avg")
        XCTAssertTrue(reduce.contains("node 'avg'") && reduce.contains("batch axis"), reduce)
        let transpose = try plan(.transpose(perm: [1, 0, 2, 3]), nil, name: "swap")
        XCTAssertTrue(transpose.contains("node 'swap'") && transpose.contains("batch axis"), transpose)
        let gather = try plan(.gather(axis: 0), try Tensor(shape: [1], data: .int64([0])), name: "pick")
        XCTAssertTrue(gather.contains("node 'pick'") && gather.contains("batch axis"), gather)
    }

    /// Malformed graphs are errors naming the node, never traps: an axis on a scalar, Resize
    /// sizes for an empty axis.
    func testMalformedGeneralOpsAreErrors() throws {
        var b = GraphBuilder(name: "scalar")
        let x = b.input("x", dims: [nil, 3])
        let axes = b.constant("axes", try Tensor(shape: [2], data: .int64([0, 1])))
        let s = b.add(.reduce(.sum, keepDims: false, noopWithEmptyAxes: false), [x, axes], name: "all")
        let idx = b.constant("i", try Tensor(shape: [], data: .int64([0])))
        let g = b.add(.gather(axis: 0), [s, idx], name: "pick")
        b.output(g, dims: [])
        XCTAssertThrowsError(try ExecutionPlan(graph: b.graph)) { XCTAssertTrue("\($0)".contains("node 'pick'"), "\($0)") }

        var c = GraphBuilder(name: "resize")
        let y = c.input("y", dims: [nil, 3, 4, 4])
        let start = c.constant("s", try Tensor(shape: [1], data: .int64([2])))
        let end = c.constant("e", try Tensor(shape: [1], data: .int64([2])))
        let ax = c.constant("a", try Tensor(shape: [1], data: .int64([2])))
        let empty = c.add(.slice, [y, start, end, ax], name: "empty")
        let sizes = c.constant("sizes", try Tensor(shape: [4], data: .int64([1, 3, 8, 8])))
        let r = c.add(.resize(ResizeAttributes(mode: .linear, coordinateTransform: .halfPixel, nearestMode: .floor)), [empty, "", "", sizes], name: "grow")
        c.output(r, dims: [nil, 3, 8, 8])
        XCTAssertThrowsError(try ExecutionPlan(graph: c.graph)) { XCTAssertTrue("\($0)".contains("node 'grow'"), "\($0)") }
    }
}
