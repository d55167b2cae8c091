import OctetRuntime

/// Copies the FP32 tensors a one-sample run produces, by name: every tensor, or only the
/// `watched` ones. The observer of the calibration's per-sample measurements (weight effects,
/// the report, output-chosen weight ranges); runs are single-threaded, so it takes no lock.
final class TensorCapture: TensorObserver, @unchecked Sendable {
    let watched: Set<String>?
    private(set) var values: [String: [Float]] = [:]

    init(watching watched: Set<String>? = nil) { self.watched = watched }

    func observe(_ t: ObservedTensor, worker: Int) {
        guard watched?.contains(t.name) ?? true else { return }
        values[t.name] = Array(t.values)
    }
}
