import Foundation
import OctetKernels
import OctetRuntime

/// A `TensorObserver` that bins every observed tensor into one `AbsHistogram` per tensor and
/// per worker thread (no locks on the hot path); `histograms()` merges the workers' exactly.
public final class HistogramCollector: TensorObserver, @unchecked Sendable {
    private var perWorker: [[String: AbsHistogram]]
    private let watched: Set<String>?
    private let isa: ISA

    /// - Parameters:
    ///   - workers: the plan's thread count.
    ///   - watched: tensors to collect, or nil for all.
    public init(workers: Int, watched: Set<String>? = nil, isa: ISA = .best) {
        perWorker = Array(repeating: [:], count: max(workers, 1))
        self.watched = watched
        self.isa = isa
    }

    public func observe(_ tensor: ObservedTensor, worker: Int) {
        if let watched, !watched.contains(tensor.name) { return }
        perWorker[worker][tensor.name, default: AbsHistogram()].add(tensor.values, isa: isa)
    }

    /// Every tensor's histogram over all workers.
    public func histograms() -> [String: AbsHistogram] {
        var merged: [String: AbsHistogram] = [:]
        for w in perWorker { for (k, h) in w { merged[k, default: AbsHistogram()].merge(h) } }
        return merged
    }
}
