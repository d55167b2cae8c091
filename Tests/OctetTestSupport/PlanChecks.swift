import OctetPipeline
import XCTest

/// Runs `graph` through the executor on every supported ISA, with fusion on and off, on 1 and
/// 2 threads, and compares each output with the reference interpreter.
public func assertExecutorMatchesReference(_ graph: Graph, batch: Int = 3, seed: UInt64 = 9, tolerance: Double = 1e-4,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
    var r = TestRandom(seed: seed)
    var inputs: [String: Tensor] = [:]
    for i in graph.inputs where graph.initializers[i.name] == nil { inputs[i.name] = r.tensor(i.concreteShape(batch: batch)) }
    let expected = try ReferenceInterpreter.run(graph, inputs: inputs)
    for isa in ISA.supported {
        for fuse in [true, false] {
            for threads in [1, 2] {
                let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: isa, threads: threads, fuse: fuse))
                let got = try plan.run(inputs)
                for (name, e) in expected {
                    guard let g = got[name] else { return XCTFail("no output \(name)", file: file, line: line) }
                    XCTAssertEqual(g.shape, e.shape, "output \(name) shape", file: file, line: line)
                    let err = maxRelativeError(g.floats!, e.floats!)
                    XCTAssertLessThanOrEqual(err, tolerance, "\(graph.name) output \(name): isa \(isa) fuse \(fuse) threads \(threads)",
                                             file: file, line: line)
                }
            }
        }
    }
}
