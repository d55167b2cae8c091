import Metrics

/// The coordinator's metrics through swift-metrics: Prometheus when the process bootstrapped
/// `PrometheusMetricsFactory` (the `octet coordinator` command does), no-ops otherwise.
final class CoordinatorMetrics {
    private var rejectedCounters: [String: Counter] = [:]
    private var workerGauges: [String: Gauge] = [:]
    private var taskCounters: [String: Counter] = [:]
    private var imageCounters: [String: Counter] = [:]
    private var timers: [String: Timer] = [:]
    private var workerRates: [String: Gauge] = [:]
    private var gauges: [String: Gauge] = [:]

    /// Every rejection reason starts at zero, so a dashboard has its series before the first.
    init() {
        for reason in ["malformed", "wrong_version", "too_large", "unknownworker", "notfound", "invalidrequest", "other"] {
            rejectedCounters[reason] = Counter(label: "octet_rejected_messages_total", dimensions: [("reason", reason)])
        }
    }

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

    /// A finished task's times: from assignment to result on the coordinator's clock, and the
    /// worker's own decoding and compute; the rest of the latency (fetching blobs, sending the
    /// result, waiting in a queue) is the transfer time.
    func taskTimes(_ kind: String, latency: Double?, workerSeconds: Double, decode: Double, compute: Double) {
        func record(_ name: String, _ seconds: Double) {
            guard seconds.isFinite, seconds >= 0 else { return }
            let key = name + "#" + kind
            if timers[key] == nil { timers[key] = Timer(label: name, dimensions: [("kind", kind)]) }
            timers[key]?.recordSeconds(seconds)
        }
        if let latency {
            record("octet_task_latency_seconds", latency)
            record("octet_task_transfer_seconds", max(0, latency - workerSeconds))
        }
        record("octet_task_decode_seconds", decode)
        record("octet_task_compute_seconds", compute)
    }

    /// A worker's images per second over its last task (0 once it is lost).
    func workerRate(_ worker: String, _ imagesPerSecond: Double) {
        if workerRates[worker] == nil { workerRates[worker] = Gauge(label: "octet_worker_images_per_second", dimensions: [("worker", worker)]) }
        workerRates[worker]?.record(imagesPerSecond)
    }

    /// Tasks waiting for a worker, tasks on workers, and finished inference tasks their client
    /// has not written yet.
    func queue(pending: Int, assigned: Int, unread: Int) {
        for (name, state, value) in [("octet_tasks", "pending", pending), ("octet_tasks", "assigned", assigned), ("octet_inference_unread_tasks", "", unread)] {
            let key = name + state
            if gauges[key] == nil { gauges[key] = Gauge(label: name, dimensions: state.isEmpty ? [] : [("state", state)]) }
            gauges[key]?.record(value)
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
