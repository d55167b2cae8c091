import Foundation
import OctetCore
import OctetIR

/// Plans of one graph compiled per concrete input shape, for models whose height, width or
/// other dimensions are symbolic. The most recently used `capacity` plans are kept; each is
/// compiled on first use of its shape. Safe to use from several threads.
public final class ShapeSpecializedPlans: @unchecked Sendable {
    /// Compiles a plan of `graph` for per-image input shapes.
    public typealias Compile = @Sendable (_ graph: Graph, _ options: PlanOptions, _ shapes: [String: Shape]) throws(RuntimeError) -> ExecutionPlan

    public let graph: Graph
    public let options: PlanOptions
    public let capacity: Int
    private let compile: Compile
    private let lock = NSLock()
    private var plans: [(key: [String: Shape], plan: ExecutionPlan)] = []

    /// Plans of an FP32 graph (`ExecutionPlan`).
    public convenience init(graph: Graph, options: PlanOptions, capacity: Int = 8) {
        self.init(graph: graph, options: options, capacity: capacity) { (g, o, s) throws(RuntimeError) in
            try ExecutionPlan(graph: g, options: o, inputShapes: s)
        }
    }

    /// Plans made by `compile` (e.g. `Int8Plan`'s, for a QDQ graph).
    public init(graph: Graph, options: PlanOptions, capacity: Int = 8, compile: @escaping Compile) {
        self.graph = graph
        self.options = options
        self.capacity = max(1, capacity)
        self.compile = compile
    }

    /// Plans of a QDQ graph on the INT8 executor (`Int8Plan`, on the `options.isa` kernel path).
    public static func int8(graph: Graph, options: PlanOptions, capacity: Int = 8) -> ShapeSpecializedPlans {
        ShapeSpecializedPlans(graph: graph, options: options, capacity: capacity) { (g, o, s) throws(RuntimeError) in
            try Int8Plan(graph: g, threads: o.threads, isa: o.isa, inputShapes: s).executor
        }
    }

    /// The plan for per-image input shapes `shapes` (the batch dimension is ignored).
    public func plan(for shapes: [String: Shape]) throws(RuntimeError) -> ExecutionPlan {
        var key = shapes
        for (k, v) in key where v.rank > 0 { var s = v; s[0] = 1; key[k] = s }
        lock.lock()
        if let i = plans.firstIndex(where: { $0.key == key }) {
            let hit = plans.remove(at: i)
            plans.append(hit)
            lock.unlock()
            return hit.plan
        }
        lock.unlock()
        let plan = try compile(graph, options, key)
        lock.lock()
        defer { lock.unlock() }
        plans.append((key, plan))
        if plans.count > capacity { plans.removeFirst() }
        return plan
    }

    /// Shapes compiled so far, least recently used first.
    public var cachedShapes: [[String: Shape]] {
        lock.lock()
        defer { lock.unlock() }
        return plans.map(\.key)
    }
}
