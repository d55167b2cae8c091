import Foundation
import OctetCore
import OctetIR

/// Plans of one graph compiled per concrete input shape, for models whose height, width or
/// other dimensions are symbolic. The most recently used `capacity` plans are kept; each is
/// compiled on first use of its shape. Safe to use from several threads.
public final class ShapeSpecializedPlans: @unchecked Sendable {
    public let graph: Graph
    public let options: PlanOptions
    public let capacity: Int
    private let lock = NSLock()
    private var plans: [(key: [String: Shape], plan: ExecutionPlan)] = []

    public init(graph: Graph, options: PlanOptions, capacity: Int = 8) {
        self.graph = graph
        self.options = options
        self.capacity = max(1, capacity)
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
        let plan = try ExecutionPlan(graph: graph, options: options, inputShapes: key)
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
