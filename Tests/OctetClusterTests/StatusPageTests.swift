import Foundation
import OctetCluster
import OctetJobs
import OctetTestSupport
import XCTest

/// The coordinator's live page and metrics: an inference job held at its output window (its
/// client reads nothing) shows on `/ui`, rendered by headless Chromium from `/status`, with the
/// workers and the job's progress; `/metrics` has the task timings, queue depth and per-worker
/// rates; and every metric the Grafana dashboard in `cluster/` queries is one the coordinator serves.
final class StatusPageTests: XCTestCase {
    func testLivePageMetricsAndDashboard() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, _) = try TestModels.quickInt8Model(in: dir)
        let endpoint = "ipc://" + dir.appendingPathComponent("c.ipc").path
        let port = Int.random(in: 20_000..<60_000)
        let coordinator = try OctetProcess(["coordinator", "--bind", endpoint, "--state", dir.appendingPathComponent("state").path,
                                            "--threads", "1", "--http", "127.0.0.1:\(port)", "--output-window", "8"],
                                           log: dir.appendingPathComponent("coordinator.log"))
        let workers = try ["ui-1", "ui-2"].map { id in
            try OctetProcess(["worker", "--connect", endpoint, "--id", id, "--threads", "1", "--cache", dir.appendingPathComponent(id).path],
                             log: dir.appendingPathComponent("\(id).log"))
        }
        defer { for w in workers { w.signal(SIGTERM); w.wait() }; coordinator.signal(SIGTERM); coordinator.wait() }
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20), timeoutSeconds: 30)
        var options = InferenceJobOptions(dataset: DatasetSpec(path: TestPaths.imageSample, labels: nil, manifest: nil, recipe: .efficientNetLite, limit: 100))
        options.batch = 2
        let id = try client.submit(options.spec(modelHash: try client.uploadFile(model), modelName: "quick-int8"))
        // 50 tasks; nobody writes the output, so the job stops at the window: 8 done.
        try eventually("the job held at its output window") {
            let s = try client.status()
            return s.jobs.first?.tasksDone == 8 && s.workers.count == 2 && s.workers.allSatisfy { $0.state == "idle" && $0.imagesPerSecond > 0 }
        }
        let metrics = try httpGet(port: port, path: "/metrics")
        for name in ["octet_task_latency_seconds_bucket", "octet_task_decode_seconds_sum", "octet_task_compute_seconds_count",
                     "octet_task_transfer_seconds_bucket", "octet_worker_images_per_second{worker=\"ui-1\"}", "octet_tasks{state=\"pending\"} 42",
                     "octet_inference_unread_tasks 8", "octet_images_processed_total{kind=\"inference\"} 16"] {
            XCTAssertTrue(metrics.contains(name), "\(name) is not in /metrics:\n\(metrics)")
        }
        // The dashboard queries only metrics the coordinator serves.
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.repoRoot.appendingPathComponent("cluster/grafana-dashboard.json"))) as? [String: Any]
        let panels = try XCTUnwrap(dashboard?["panels"] as? [[String: Any]])
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        XCTAssertGreaterThanOrEqual(exprs.count, 8)
        let served = Set(metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init) })
        for expr in exprs {
            let names = expr.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init).filter { $0.hasPrefix("octet_") }
            XCTAssertFalse(names.isEmpty, expr)
            for n in names { XCTAssertTrue(served.contains(n), "the dashboard queries \(n), which /metrics does not serve") }
        }

        let page = try httpGet(port: port, path: "/ui")
        XCTAssertTrue(page.hasPrefix("HTTP/1.1 200") && page.contains("<title>Octet cluster</title>"), String(page.prefix(300)))
        for word in ["src=", "href=", "http:", "https:", "@import", "url("] {
            XCTAssertFalse(page.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains(word), "external reference '\(word)'")
        }
        XCTAssertTrue(try httpGet(port: port, path: "/").contains("Location: /ui"))
        guard let chromium = Chromium.find() else {
            throw XCTSkip("headless Chromium is not installed (.ci/run installs Debian's chromium): /ui was checked as text only")
        }
        let url = "http://127.0.0.1:\(port)/ui"
        let flags = Chromium.flags(profile: dir.appendingPathComponent("chromium-profile")) + ["--virtual-time-budget=4000"]
        let dom = try Chromium.run(chromium, flags + ["--dump-dom", url])
        XCTAssertEqual(try client.status().jobs.first?.waitingForClient, true)
        for text in ["ui-1", "ui-2", id, "quick-int8", "8 / 50", "16.0%", "avx", "images/s", "waiting for its client"] {
            XCTAssertTrue(dom.contains(text), "'\(text)' is not on the rendered page:\n\(dom)")
        }
        XCTAssertTrue(dom.contains("<div id=\"error\"></div>"), "the page could not read /status:\n\(dom)")
        let png = try TestPaths.artifact("coordinator-ui.png").path
        try? FileManager.default.removeItem(atPath: png)
        _ = try Chromium.run(chromium, flags + ["--window-size=1100,900", "--screenshot=" + png, url])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG screenshot")
        print("/ui rendered by headless Chromium; screenshot: \(png)")
    }
}
