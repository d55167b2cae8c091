import Metrics

/// The coordinator's metrics through swift-metrics: Prometheus when the process bootstrapped
/// `PrometheusMetricsFactory` (the `octet coordinator` command does), no-ops otherwise.
final class CoordinatorMetrics {
    private var rejectedCounters: [String: Counter] = [:]
    private var workerGauges: [String: Gauge] = [:]
    private var taskCounters: [String: Counter] = [:]
    private var imageCounters: [String: Counter] = [:]

    func rejected(_ reason: String) {
        if rejectedCounters[reason] == nil {
            rejectedCounters[reason] = Counter(label: "octet_rejected_messages_total", dimensions: [("reason", reason)])
        }
        rejectedCounters[reason]?.increment()
    }

    func workers(_ states: [WorkerRecord.State]) {
        for s in [WorkerRecord.State.idle, .busy, .lost] {
            if workerGauges[s.rawValue] == nil { workerGauges[s.rawValue] = Gauge(label: "octet_workers", dimensions: [("state", s.rawValue)]) }
            workerGauges[s.rawValue]?.record(states.filter { $0 == s }.count)
        }
    }

    func taskDone(_ kind: String, images: Int) {
        if taskCounters[kind] == nil {
            taskCounters[kind] = Counter(label: "octet_tasks_completed_total", dimensions: [("kind", kind)])
            imageCounters[kind] = Counter(label: "octet_images_processed_total", dimensions: [("kind", kind)])
        }
        taskCounters[kind]?.increment()
        imageCounters[kind]?.increment(by: images)
    }
}
