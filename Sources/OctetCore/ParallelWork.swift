import Dispatch
import Foundation

/// Runs `body(i)` for every i in 0..<count on up to `threads` threads, which take the indices in
/// order, and returns the results by index: a deterministic parallel map for work items whose
/// results do not depend on each other (weights per tensor, thresholds per tensor, AdaRound per layer).
public func parallelMap<T>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T?) -> [T?] {
    let results = IndexedResults<T>(count)
    let next = WorkCounter()
    DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
        while let i = next.take(below: count) {
            if let value = body(i) { results.set(i, value) }
        }
    }
    return results.values
}

/// Each item's result, written by whichever thread computed it.
private final class IndexedResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [T?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); values[i] = value; lock.unlock() }
}

/// A shared index for a pool of threads taking work items in order.
private final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
