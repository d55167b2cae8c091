import Foundation

/// Time spent in each step of a plan, summed over workers and runs (`octet bench --profile`).
public final class StepProfile: @unchecked Sendable {
    /// The node each step came from, with "+Add"/"+Act" when a residual Add or activation was fused.
    public let labels: [String]
    /// Multiply-accumulates of each step for one image.
    public let macs: [Int]
    public private(set) var nanoseconds: [UInt64]
    private let lock = NSLock()

    init(labels: [String], macs: [Int]) {
        self.labels = labels
        self.macs = macs
        nanoseconds = Array(repeating: 0, count: labels.count)
    }

    func add(_ times: [UInt64]) {
        lock.lock(); defer { lock.unlock() }
        for (i, t) in times.enumerated() where i < nanoseconds.count { nanoseconds[i] += t }
    }

    /// Clears the accumulated times (e.g. after a warm-up run).
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        nanoseconds = Array(repeating: 0, count: labels.count)
    }
}
