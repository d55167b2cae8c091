import Foundation
import OctetTestSupport
import XCTest

/// `LowerBounds`: the bounds it proves hold for every input and are tight where it gives the
/// least value of a function; the activation parameters spread their 255 steps over
/// [−B, threshold]; calibration gives a HardSwish's output those parameters.
final class LowerBoundsTests: XCTestCase {
    /// Every bounded output, run in FP32 over x in [−20, 20] in steps of 2^−10: no value is below
    /// its bound, and for the activations that dip below zero some value is within 10^−4 of it.
    func testBoundsHoldForEveryInputAndAreTightForTheActivations() throws {
        let n = 40 * 1024 + 1
        var b = GraphBuilder(name: "bounds")
        let x = b.input("x", dims: [1, 1, 1, n])
        func scalar(_ name: String, _ v: Float) -> String { b.constant(name, Tensor.filled([], v)) }
        let three = scalar("three", 3), six = scalar("six", 6)
        let hardSwish = b.add(.unary(.hardSwish), [x])
        let silu = b.add(.mul, [x, b.add(.unary(.sigmoid), [x])])
        let hardSigmoidProduct = b.add(.mul, [b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [x]), x])
        let paddle = b.add(.binary(.div), [b.add(.mul, [x, b.add(.clip(min: 0, max: 6), [b.add(.add, [x, three])])]), six])
        let narrowClip = b.add(.mul, [x, b.add(.clip(min: 0, max: 1), [b.add(.add, [three, x])])])
        let scaled = b.add(.mul, [hardSwish, scalar("two", 2)])
        let sum = b.add(.add, [hardSwish, silu])
        let joined = b.add(.concat(axis: 1), [b.add(.relu, [x]), silu])
        let gate = b.add(.mul, [b.add(.relu, [x]), b.add(.unary(.sigmoid), [x])])
        let unbounded = b.add(.add, [x, three])
        let expected: [(String, Double?, Bool)] = [  // value, bound, tight
            (hardSwish, -0.375, true), (silu, -0.2784645427610738, true), (hardSigmoidProduct, -0.3125, true),
            (paddle, -0.375, true), (narrowClip, -2, true), (scaled, -0.75, true), (sum, -0.375 - 0.2784645427610738, false),
            (joined, -0.2784645427610738, true), (gate, 0, true), (unbounded, nil, false),
        ]
        for (v, _, _) in expected where v != joined { b.output(v, dims: [1, 1, 1, n]) }
        b.output(joined, dims: [1, 2, 1, n])
        let bounds = LowerBounds.analyze(b.graph)
        let grid = try Tensor(shape: [1, 1, 1, n], floats: (0..<n).map { Float($0 - n / 2) / 1024 })
        let got = try ExecutionPlan(graph: b.graph, options: PlanOptions(isa: .best, threads: 1, fuse: false)).run(["x": grid])
        for (v, bound, tight) in expected {
            guard let bound else { XCTAssertNil(bounds[v], v); continue }
            XCTAssertEqual(try XCTUnwrap(bounds[v], v), bound, accuracy: 1e-7, v)  // α = 0.2 as a Float
            guard let least = try XCTUnwrap(got[v]?.floats, v).min() else { continue }
            XCTAssertGreaterThanOrEqual(Double(least), bound - 1e-6, "\(v): a value below the bound")
            if tight { XCTAssertLessThanOrEqual(Double(least), bound + 1e-4, "\(v): the bound is not the least value") }
        }
    }

    /// A bound −B spreads 255 steps over [−min(B, T), T] with 0 exact; without one, 128 levels per
    /// side; a bound ≥ 0, 256 levels from 0.
    func testActivationParametersCoverTheBoundedRange() {
        let p = QuantParams.activation(threshold: 9, lowerBound: -0.375)
        XCTAssertEqual(Double(p.scale), 9.375 / 255, accuracy: 1e-8)
        XCTAssertEqual(p.zeroPoint, 10)  // 0.375 / (9.375 / 255) = 10.2
        XCTAssertEqual(p.quantize(0), 10)
        for v: Float in [-0.375, -0.1, 0.3, 4.5, 9] {
            XCTAssertEqual(Float(Int32(p.quantize(v)) - p.zeroPoint) * p.scale, v, accuracy: p.scale / 2 + 1e-6, "\(v)")
        }
        // Twice the resolution of the symmetric grid.
        XCTAssertLessThan(p.scale, QuantParams.activation(threshold: 9, lowerBound: nil).scale * 0.52)
        // A threshold below B: the grid is the symmetric one.
        XCTAssertEqual(QuantParams.activation(threshold: 0.25, lowerBound: -0.375), QuantParams(scale: 0.5 / 255, zeroPoint: 128, dtype: .uint8))
        XCTAssertEqual(QuantParams.activation(threshold: 2, lowerBound: 0), QuantParams(scale: 2 / 255, zeroPoint: 0, dtype: .uint8))
        XCTAssertEqual(QuantParams.activation(threshold: 2.54, lowerBound: nil), QuantParams(scale: Float(2.54 / 127), zeroPoint: 128, dtype: .uint8))
    }

    /// Calibration quantizes a HardSwish's output over [−0.375, T] and the convolution's output
    /// it reads (alone) over [−3, T], and records both bounds; logits read by a HardSigmoid get
    /// [−3, 3] whatever their range.
    func testCalibrationGivesAHardSwishOutputItsBoundedRange() throws {
        var b = GraphBuilder(name: "hswish")
        var r = TestRandom(seed: 5)
        let x = b.input("x", dims: [nil, 3, 9, 9])
        let conv = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                         [x, b.constant("w", r.tensor([8, 3, 3, 3], -0.5, 0.5)), b.constant("b", r.tensor([8], -0.2, 0.2))], name: "conv")
        let act = b.add(.unary(.hardSwish), [conv], name: "act")
        let head = b.add(.conv(Window2D(kernel: [1, 1]), group: 1),
                         [act, b.constant("w2", r.tensor([4, 8, 1, 1], -0.5, 0.5)), b.constant("b2", r.tensor([4], -0.2, 0.2))], name: "head")
        b.output(head, dims: [nil, 4, 9, 9])
        // Logits spanning about ±10 read by a HardSigmoid (1 above 3): their threshold stops at 3.
        let logits = b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                           [x, b.constant("wg", r.tensor([4, 3, 3, 3], -2, 2)), b.constant("bg", r.tensor([4], -0.2, 0.2))], name: "logits")
        // The gate feeds a convolution: a function writing a graph output runs in float, and the
        // quantize pass leaves its input in float too.
        let gate = b.add(.unary(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5)), [logits], name: "gate")
        b.output(b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [gate, b.constant("wo", r.tensor([2, 4, 1, 1], -0.5, 0.5))], name: "after_gate"),
                 dims: [nil, 2, 9, 9])
        let q = try quantizedEveryLayer(b.graph, samples: r.tensor([6, 3, 9, 9], -3, 3))
        let e = try XCTUnwrap(q.table.entries.first { $0.tensor == act })
        XCTAssertEqual(e.lowerBound, -0.375)
        XCTAssertEqual(e.params, QuantParams.activation(threshold: e.threshold, lowerBound: -0.375))
        XCTAssertNotEqual(e.params.zeroPoint, 128)
        let c = try XCTUnwrap(q.table.entries.first { $0.tensor == conv })
        XCTAssertEqual(c.lowerBound, -3)
        XCTAssertEqual(c.params, QuantParams.activation(threshold: c.threshold, lowerBound: -3))
        XCTAssertNotEqual(c.params.zeroPoint, 128)
        let g = try XCTUnwrap(q.table.entries.first { $0.tensor == logits })
        XCTAssertGreaterThan(Double(g.observedMax), 6)
        XCTAssertEqual(g.threshold, 3, accuracy: 1e-6, g.method)
        XCTAssertTrue(g.method.contains("capped at 3"), g.method)
        XCTAssertEqual(try XCTUnwrap(g.lowerBound), -3, accuracy: 1e-6)
        XCTAssertEqual(g.params, QuantParams.activation(threshold: g.threshold, lowerBound: g.lowerBound))
    }

    /// A Clip without a lower bound passes every negative value on, so its ceiling must not cap
    /// the threshold of a tensor that goes below minus the ceiling (a threshold caps both sides).
    /// A convolution read by two such Clips (so neither fuses into it) is calibrated on its own.
    func testACeilingWithoutAFloorLeavesTheThresholdAlone() throws {
        var b = GraphBuilder(name: "clips")
        var r = TestRandom(seed: 9)
        let x = b.input("x", dims: [nil, 3, 6, 6])
        let conv = b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [x, b.constant("w", r.tensor([4, 3, 1, 1], -2, 2))], name: "conv")
        // Each Clip feeds a convolution (a value only float ops writing graph outputs read stays float).
        func after(_ v: String, _ name: String) -> String {
            b.add(.conv(Window2D(kernel: [1, 1]), group: 1), [v, b.constant(name + "_w", r.tensor([2, 4, 1, 1], -0.5, 0.5))], name: name)
        }
        b.output(after(b.add(.clip(min: -.infinity, max: 2), [conv], name: "clip2"), "after2"), dims: [nil, 2, 6, 6])
        b.output(after(b.add(.clip(min: -.infinity, max: 3), [conv], name: "clip3"), "after3"), dims: [nil, 2, 6, 6])
        XCTAssertEqual(LowerBounds.readerCeilings(b.graph)[conv], 3, "both readers are constant above 3")
        let q = try quantizedEveryLayer(b.graph, samples: r.tensor([6, 3, 6, 6], -3, 3))
        let e = try XCTUnwrap(q.table.entries.first { $0.tensor == conv }, "\(q.table.entries.map(\.tensor))")
        XCTAssertGreaterThan(Double(e.observedMax), 6)
        XCTAssertFalse(e.method.contains("capped"), e.method)
        XCTAssertGreaterThan(e.threshold, 3, e.method)
    }

    /// Each floor `readerFloors` gives leaves its readers' outputs unchanged when the input is
    /// clamped to it (FP32, x over [−20, 20]), and a value with a reader that looks below it
    /// (SiLU's Sigmoid, a residual Add, a graph output) has none.
    func testReaderFloorsLeaveEveryReaderUnchanged() throws {
        let n = 40 * 256 + 1
        func model() -> (Graph, [String: Double]) {
            var b = GraphBuilder(name: "floors")
            let x = b.input("x", dims: [1, 1, 1, n])
            func scalar(_ name: String, _ v: Float) -> String { b.constant(name, Tensor.filled([], v)) }
            // Each reader gets its own copy of x (x · 1), so each copy's floor is its readers' alone.
            func copy(_ name: String) -> String { b.add(.mul, [x, scalar("one", 1)], name: name) }
            let a = copy("a"), c = copy("c"), d = copy("d"), e = copy("e"), f = copy("f")
            var outs = [b.add(.unary(.hardSwish), [a]),
                        b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [c])]
            let added = b.add(.add, [d, scalar("three", 3)])
            outs.append(b.add(.binary(.div), [b.add(.mul, [d, b.add(.clip(min: 0, max: 6), [added])]), scalar("six", 6)]))
            outs.append(b.add(.mul, [e, b.add(.unary(.sigmoid), [e])]))             // SiLU: no floor
            outs.append(b.add(.add, [b.add(.unary(.hardSwish), [f]), f]))          // residual: no floor
            for o in outs { b.output(o, dims: [1, 1, 1, n]) }
            return (b.graph, LowerBounds.readerFloors(b.graph))
        }
        let (graph, floors) = model()
        var copies: [String: String] = [:]  // node name → its output
        for node in graph.nodes where node.name.count == 1 { copies[node.name] = node.outputs[0] }
        XCTAssertEqual(floors[copies["a"] ?? ""], -3)
        XCTAssertEqual(try XCTUnwrap(floors[copies["c"] ?? ""]), -2.5, accuracy: 1e-6)
        XCTAssertEqual(floors[copies["d"] ?? ""], -3)
        XCTAssertNil(floors[copies["e"] ?? ""])
        XCTAssertNil(floors[copies["f"] ?? ""])
        XCTAssertNil(floors["x"], "x is read by copies that use every value")
        let xs = (0..<n).map { Float($0 - n / 2) / 256 }
        let plan = try ExecutionPlan(graph: graph, options: PlanOptions(isa: .best, threads: 1, fuse: false))
        let plain = try plan.run(["x": try Tensor(shape: [1, 1, 1, n], floats: xs)])
        for copy in copies.values.sorted() {
            guard let floor = floors[copy] else { continue }
            // The same graph with that copy's values clamped to its floor.
            var clamped = graph
            let i = try XCTUnwrap(clamped.nodes.firstIndex { $0.outputs[0] == copy })
            clamped.nodes[i].op = .clip(min: Float(floor), max: .infinity)
            clamped.nodes[i].inputs = [clamped.nodes[i].inputs[0]]
            let got = try ExecutionPlan(graph: clamped, options: PlanOptions(isa: .best, threads: 1, fuse: false))
                .run(["x": try Tensor(shape: [1, 1, 1, n], floats: xs)])
            for o in graph.outputs.map(\.name) {
                // (Compared as a whole; printing 10k values on failure would bury the message.)
                XCTAssertTrue(got[o]?.floats == plain[o]?.floats, "\(copy) clamped at \(floor) changes \(o)")
            }
        }
    }

    /// Each ceiling `readerCeilings` gives leaves its readers' outputs unchanged when the input is
    /// capped at it (FP32, x over [−20, 20]); a value read by something that looks above any
    /// ceiling (HardSwish, Paddle's product) has none.
    func testReaderCeilingsLeaveEveryReaderUnchanged() throws {
        let n = 40 * 256 + 1
        var b = GraphBuilder(name: "ceilings")
        let x = b.input("x", dims: [1, 1, 1, n])
        func scalar(_ name: String, _ v: Float) -> String { b.constant(name, Tensor.filled([], v)) }
        func copy(_ name: String) -> String { b.add(.mul, [x, scalar("one", 1)], name: name) }
        let a = copy("a"), c = copy("c"), d = copy("d"), e = copy("e"), f = copy("f")
        var outs = [b.add(.unary(.hardSigmoid(alpha: 0.2, beta: 0.5)), [a]), b.add(.clip(min: 0, max: 6), [c])]
        let shifted = b.add(.add, [d, scalar("three", 3)])
        outs.append(b.add(.clip(min: 0, max: 6), [shifted]))
        outs.append(b.add(.unary(.hardSwish), [e]))
        outs.append(b.add(.binary(.div), [b.add(.mul, [f, b.add(.clip(min: 0, max: 6), [b.add(.add, [f, scalar("three", 3)])])]),
                                          scalar("six", 6)]))
        for o in outs { b.output(o, dims: [1, 1, 1, n]) }
        let graph = b.graph
        let ceilings = LowerBounds.readerCeilings(graph)
        XCTAssertEqual(try XCTUnwrap(ceilings[a]), 2.5, accuracy: 1e-6)
        XCTAssertEqual(ceilings[c], 6)
        XCTAssertEqual(ceilings[d], 3)
        XCTAssertEqual(ceilings[shifted], 6)
        XCTAssertNil(ceilings[e])
        XCTAssertNil(ceilings[f])
        let xs = try Tensor(shape: [1, 1, 1, n], floats: (0..<n).map { Float($0 - n / 2) / 256 })
        let options = PlanOptions(isa: .best, threads: 1, fuse: false)
        let plain = try ExecutionPlan(graph: graph, options: options).run(["x": xs])
        for copy in [a, c, d] {
            let ceiling = try XCTUnwrap(ceilings[copy])
            var capped = graph
            let i = try XCTUnwrap(capped.nodes.firstIndex { $0.outputs[0] == copy })
            capped.nodes[i].op = .clip(min: -.infinity, max: Float(ceiling))
            capped.nodes[i].inputs = [capped.nodes[i].inputs[0]]
            let got = try ExecutionPlan(graph: capped, options: options).run(["x": xs])
            for o in graph.outputs.map(\.name) {
                XCTAssertTrue(got[o]?.floats == plain[o]?.floats, "\(copy) capped at \(ceiling) changes \(o)")
            }
        }
    }
}
