import Foundation
import OctetCluster
import OctetTestSupport
import XCTest

/// Several hosts on one machine: the coordinator and two workers each in their own Linux network
/// namespace, joined by veth links. One worker's link is cut mid-job and restored; the job
/// completes with the same bytes as a single-process calibration, and the worker rejoins.
/// Needs root and iproute2 (CI runs as root); skipped with the reason otherwise.
final class MultiHostTests: XCTestCase {
    var namespaces: [String] = []
    var processes: [OctetProcess] = []

    override func tearDown() {
        for p in processes { p.signal(SIGKILL); p.wait(timeout: 5) }
        for ns in namespaces { _ = try? Self.shell(["ip", "netns", "del", ns]) }
    }

    @discardableResult
    static func shell(_ args: [String]) throws -> (status: Int32, output: String) {
        try runCommand(args)
    }

    func run(_ args: [String]) throws {
        let r = try Self.shell(args)
        guard r.status == 0 else { throw WireError.transport("\(args.joined(separator: " ")): \(r.output)") }
    }

    /// `octet` inside namespace `ns`, in the background.
    func octet(in ns: String, _ args: [String], log: URL) throws -> OctetProcess {
        let exe = TestPaths.productsDirectory.appendingPathComponent("octet").path
        let p = try OctetProcess(["netns", "exec", ns, exe] + args, log: log, executable: "/usr/sbin/ip")
        processes.append(p)
        return p
    }

    func testWorkerLinkCutMidJobAndRestored() throws {
        try TestPaths.requireShared()
        try XCTSkipUnless(geteuid() == 0, "network namespaces need root (CI runs as root)")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/usr/sbin/ip"), "iproute2 (ip) is not installed")
        let tag = String(UUID().uuidString.prefix(4)).lowercased()
        let c = "octet-c-\(tag)", w1 = "octet-w1-\(tag)", w2 = "octet-w2-\(tag)"
        do {
            for ns in [c, w1, w2] {
                try run(["ip", "netns", "add", ns])
                namespaces.append(ns)
                try run(["ip", "-n", ns, "link", "set", "lo", "up"])
            }
        } catch {
            throw XCTSkip("cannot create network namespaces here: \(error)")
        }
        // One veth link per worker host: 10.88.k.1 (coordinator side) — 10.88.k.2 (worker side).
        for (k, ns) in [(1, w1), (2, w2)] {
            let a = "oc\(k)\(tag)", b = "ow\(k)\(tag)"
            try run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
            try run(["ip", "link", "set", a, "netns", c])
            try run(["ip", "link", "set", b, "netns", ns])
            try run(["ip", "-n", c, "addr", "add", "10.88.\(k).1/24", "dev", a])
            try run(["ip", "-n", ns, "addr", "add", "10.88.\(k).2/24", "dev", b])
            try run(["ip", "-n", c, "link", "set", a, "up"])
            try run(["ip", "-n", ns, "link", "set", b, "up"])
        }
        let dir = try TestPaths.temporaryDirectory(self)
        let options = ["--preprocess", "efficientnet-lite", "--samples", "36", "--report-samples", "2"]
        let reference = dir.appendingPathComponent("reference").path
        let single = try runProduct("octet", ["calibrate", TestPaths.efficientNet, "--data", TestPaths.imageSample, "--out", reference] + options)
        XCTAssertEqual(single.status, 0, single.stderr)

        let coordinator = try octet(in: c, ["coordinator", "--bind", "tcp://*:5555", "--insecure", "--state", dir.appendingPathComponent("state").path,
                                           "--heartbeat-interval", "0.3", "--heartbeat-timeout", "2"], log: dir.appendingPathComponent("c.log"))
        for (k, ns) in [(1, w1), (2, w2)] {
            _ = try octet(in: ns, ["worker", "--connect", "tcp://10.88.\(k).1:5555", "--id", "w\(k)", "--threads", "1",
                                   "--cache", dir.appendingPathComponent("cache-\(k)").path], log: dir.appendingPathComponent("w\(k).log"))
        }
        let out = dir.appendingPathComponent("out").path
        let submit = try octet(in: c, ["submit", "calibrate", TestPaths.efficientNet, "--data", TestPaths.imageSample, "--shard-size", "3",
                                       "--verify-samples", "4", "--coordinator", "tcp://127.0.0.1:5555", "--wait", "--out", out] + options,
                               log: dir.appendingPathComponent("submit.log"))

        func status() throws -> ClusterStatus? {
            let exe = TestPaths.productsDirectory.appendingPathComponent("octet").path
            let r = try Self.shell(["ip", "netns", "exec", c, exe, "status", "--json", "--coordinator", "tcp://127.0.0.1:5555", "--timeout", "5"])
            return r.status == 0 ? try? JSONDecoder().decode(ClusterStatus.self, from: Data(r.output.utf8)) : nil
        }
        try eventually("w1 busy with shards done") {
            guard let s = try status() else { return false }
            return (s.jobs.first?.tasksDone ?? 0) >= 2 && s.workers.contains { $0.id == "w1" && $0.state == "busy" }
        }
        try run(["ip", "-n", w1, "link", "set", "ow1\(tag)", "down"])
        try eventually("w1 lost after the cut") { try status()?.workers.contains { $0.id == "w1" && $0.state == "lost" } ?? false }
        try run(["ip", "-n", w1, "link", "set", "ow1\(tag)", "up"])

        XCTAssertEqual(submit.wait(timeout: 180), 0, submit.output + coordinator.output)
        for file in ["calibration.json", "calibration.cache", "efficientnet_lite0_fp32.int8.onnx"] {
            XCTAssertEqual(FileManager.default.contents(atPath: "\(reference)/\(file)"), FileManager.default.contents(atPath: "\(out)/\(file)"),
                           "\(file) differs after the link cut")
        }
        try eventually("w1 rejoined after the link came back") { try status()?.workers.contains { $0.id == "w1" && $0.state != "lost" } ?? false }
        XCTAssertTrue(coordinator.output.contains("task requeued"), coordinator.output)
    }
}
