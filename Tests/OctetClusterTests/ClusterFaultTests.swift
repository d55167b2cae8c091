import Foundation
import OctetCluster
import OctetJobs
import OctetPipeline
import OctetTestSupport
import XCTest

/// The cluster as real processes over ZeroMQ: a worker SIGKILLed mid-job, the coordinator killed
/// and restarted mid-job, a flood of bad messages, SIGTERM. Results stay byte-identical.
final class ClusterFaultTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try TestPaths.requireShared()
        dir = try TestPaths.temporaryDirectory(self)
    }

    func calibrationOptions() -> QuantConfig {
        var o = QuantConfig()
        o.samples = 36
        o.reportSamples = 2
        return o
    }

    /// The artifacts of the same calibration in one process.
    func reference() throws -> URL {
        let data = try openDataset(path: TestPaths.imageSample, labels: nil, recipe: .efficientNetLite, limit: nil)
        let config = try calibrationOptions().on(PlanOptions(isa: .best, threads: 2))
        let q = try quantizeModel(try ModelLoader.load(path: TestPaths.efficientNet), calibrationData: data, config: config)
        let out = dir.appendingPathComponent("reference")
        _ = try CalibrationArtifacts.writeAll(q, config: config, data: data, modelName: "effnet",
                                              modelSHA256: ContentHash.sha256(try Data(contentsOf: URL(fileURLWithPath: TestPaths.efficientNet))),
                                              recipe: .efficientNetLite, to: out.path)
        return out
    }

    func submit(_ client: ClusterClient) throws -> String {
        var options = CalibrationJobOptions(dataset: DatasetSpec(path: TestPaths.imageSample, labels: nil, manifest: nil, recipe: .efficientNetLite),
                                            calibration: calibrationOptions())
        options.shardSize = 3
        options.verifySamples = 4
        return try client.submit(options.spec(modelHash: try client.uploadFile(TestPaths.efficientNet), modelName: "effnet"))
    }

    func assertSameArtifacts(_ report: Octet_Wire_JobReport, _ client: ClusterClient, as reference: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(report.state, "done", report.error, file: file, line: line)
        let out = dir.appendingPathComponent("out-\(report.jobID)")
        _ = try client.fetchArtifacts(report, to: out.path)
        for name in ["calibration.json", "calibration.cache", "effnet.int8.onnx"] {
            XCTAssertEqual(try Data(contentsOf: reference.appendingPathComponent(name)), try Data(contentsOf: out.appendingPathComponent(name)),
                           "\(name) differs", file: file, line: line)
        }
    }

    func coordinator(_ endpoint: String, state: String = "state", extra: [String] = []) throws -> OctetProcess {
        try OctetProcess(["coordinator", "--bind", endpoint, "--state", dir.appendingPathComponent(state).path, "--threads", "2",
                          "--heartbeat-interval", "0.3", "--heartbeat-timeout", "2"] + extra,
                         log: dir.appendingPathComponent("coordinator-\(UUID().uuidString.prefix(4)).log"))
    }

    func worker(_ endpoint: String, id: String, extra: [String] = []) throws -> OctetProcess {
        try OctetProcess(["worker", "--connect", endpoint, "--id", id, "--threads", "1",
                          "--cache", dir.appendingPathComponent("cache-\(id)").path] + extra,
                         log: dir.appendingPathComponent("worker-\(id).log"))
    }

    /// How many tasks the output at `path` has committed (0 before its commit log exists).
    func committedTasks(_ path: String) -> Int {
        guard let data = FileManager.default.contents(atPath: CommittedOutput.logPath(path)),
              let log = try? JSONDecoder().decode(CommittedOutput.Log.self, from: data) else { return 0 }
        return log.tasks
    }

    /// Under load, a 5,000-image inference job (the 500 shared images, repeated) survives a
    /// worker SIGKILLed, the coordinator SIGKILLed and restarted, and its client SIGKILLed and
    /// continued with `--resume`: every image's line is written exactly once, in input order,
    /// byte-identical to a fault-free run's output.
    func testInferenceUnderWorkerCoordinatorAndClientKillsWritesEachImageOnce() throws {
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let originals = try FileManager.default.contentsOfDirectory(atPath: TestPaths.imageSample).filter { $0.hasSuffix(".JPEG") }.sorted()
        for i in 0..<5000 {
            try FileManager.default.createSymbolicLink(atPath: images.appendingPathComponent(String(format: "%05d.JPEG", i)).path,
                                                       withDestinationPath: TestPaths.imageSample + "/" + originals[i % originals.count])
        }
        let (model, _) = try TestModels.quickInt8Model(in: dir)
        let endpoint = loopbackEndpoint()
        var c = try coordinator(endpoint)
        var w1 = try worker(endpoint, id: "w1")
        let w2 = try worker(endpoint, id: "w2")
        _ = w2
        let arguments = ["submit", "infer", model, "--data", images.path, "--preprocess", "efficientnet-lite", "--batch", "25",
                         "--coordinator", endpoint]
        let reference = dir.appendingPathComponent("reference.jsonl").path
        let fine = try runProduct("octet", arguments + ["--out", reference])
        XCTAssertEqual(fine.status, 0, fine.stderr)

        let out = dir.appendingPathComponent("out.jsonl").path
        let client = try OctetProcess(arguments + ["--out", out], log: dir.appendingPathComponent("client.log"))
        try eventually("20 tasks written") { committedTasks(out) >= 20 }
        w1.signal(SIGKILL)
        _ = w1.wait()
        w1 = try worker(endpoint, id: "w1")
        try eventually("60 tasks written") { committedTasks(out) >= 60 }
        c.signal(SIGKILL)
        _ = c.wait()
        c = try coordinator(endpoint)
        try eventually("100 tasks written after the coordinator's restart") { committedTasks(out) >= 100 }
        client.signal(SIGKILL)
        _ = client.wait()
        let killedAt = committedTasks(out)
        XCTAssertLessThan(killedAt, 200, "the client was killed before the end")
        let resumed = try runProduct("octet", arguments + ["--out", out, "--resume", "--json"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr + c.output)
        XCTAssertEqual(resumed.json?["images"] as? Int, 5000)
        XCTAssertEqual(resumed.json?["written"] as? Int, 5000 - killedAt * 25)
        let got = try String(contentsOfFile: out, encoding: .utf8), expected = try String(contentsOfFile: reference, encoding: .utf8)
        XCTAssertEqual(got.split(separator: "\n").count, 5000)
        XCTAssertTrue(got == expected, "the output differs from the fault-free run's")
        print("inference under faults: worker, coordinator and client SIGKILLed; resumed at \(killedAt) of 200 tasks; 5000 lines identical to the fault-free run")
    }

    func testWorkerKilledMidShardJobCompletesIdentically() throws {
        let reference = try reference()
        let endpoint = loopbackEndpoint()
        let c = try coordinator(endpoint)
        let w1 = try worker(endpoint, id: "w1"), w2 = try worker(endpoint, id: "w2")
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20), timeoutSeconds: 30)
        let id = try submit(client)
        // Kill w1 while it holds a shard, after some shards are done.
        try eventually("w1 busy mid-job") {
            let s = try client.status()
            return (s.jobs.first?.tasksDone ?? 0) >= 2 && s.workers.contains { $0.id == "w1" && $0.state == "busy" }
        }
        w1.signal(SIGKILL)
        let report = try client.wait(id)
        try assertSameArtifacts(report, client, as: reference)
        let status = try client.status()
        XCTAssertEqual(status.workers.first { $0.id == "w1" }?.state, "lost")
        XCTAssertTrue(c.output.contains("worker lost"), c.output)
        XCTAssertTrue(c.output.contains("task requeued"), c.output)
        // SIGTERM: the worker says goodbye and exits cleanly.
        w2.signal(SIGTERM)
        XCTAssertEqual(w2.wait(), 0, w2.output)
        c.signal(SIGTERM)
        XCTAssertEqual(c.wait(), 0, c.output)
    }

    func testCoordinatorRestartedMidJobResumesWithoutRedoingShards() throws {
        let reference = try reference()
        let endpoint = loopbackEndpoint()
        var c = try coordinator(endpoint)
        let workers = [try worker(endpoint, id: "w1"), try worker(endpoint, id: "w2")]
        var client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20), timeoutSeconds: 30)
        let id = try submit(client)
        try eventually("a few shards done") { (try client.job(id).tasksDone) >= 3 }
        c.signal(SIGKILL)
        c.wait()
        let store = try JobStore(path: dir.appendingPathComponent("state/jobs.sqlite").path)
        let before = try store.tasks(of: id).filter { $0.state == .done }
        XCTAssertGreaterThanOrEqual(before.count, 3)

        c = try coordinator(endpoint)
        client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20), timeoutSeconds: 30)
        let report = try client.wait(id)
        try assertSameArtifacts(report, client, as: reference)
        let after = try JobStore(path: dir.appendingPathComponent("state/jobs.sqlite").path).tasks(of: id)
        for t in before {
            XCTAssertEqual(after[t.index].attempts, t.attempts, "shard \(t.index) finished before the restart was assigned again")
            XCTAssertEqual(after[t.index].worker, t.worker)
        }
        XCTAssertTrue(c.output.contains("resuming job"), c.output)
        for w in workers { w.signal(SIGTERM) }
        for w in workers { XCTAssertEqual(w.wait(), 0, w.output) }
        c.signal(SIGTERM)
        c.wait()
    }

    func testTenThousandBadMessagesAreRejectedCountedAndServiceContinues() throws {
        let endpoint = "ipc://" + dir.appendingPathComponent("flood.ipc").path
        let c = try coordinator(endpoint, extra: ["--max-message-bytes", "65536"])
        let flood = try ZMQClientTransport(connect: endpoint, maxMessageBytes: 1 << 20)
        var valid = Octet_Wire_SubmitJob()
        valid.spec.kind = "calibrate"
        valid.spec.options = Data(String(repeating: "{", count: 200).utf8)
        let envelope = WireProtocol.encode(.submit(valid), requestID: 1)
        var wrongVersion = Octet_Wire_Envelope()
        wrongVersion.version = 7
        wrongVersion.body = .statusQuery(Octet_Wire_StatusQuery())
        let wrong = try wrongVersion.serializedBytes() as [UInt8]
        var rng = TestSeed.generator()
        let count = 10_000
        for i in 0..<count {
            let bytes: [UInt8]
            switch i % 4 {
            case 0: bytes = (0..<Int.random(in: 1..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: bytes = Array(envelope.prefix(Int.random(in: 1..<envelope.count, using: &rng)))
            case 2: bytes = wrong
            default: bytes = WireProtocol.encode(.submit(valid), requestID: UInt64(i))  // well-formed envelope, invalid job
            }
            try flood.send(bytes)
            if i % 500 == 0 { while try flood.receive(timeoutMs: 0) != nil {} }
        }
        // Oversized messages: libzmq drops them (ZMQ_MAXMSGSIZE) and the peer's connection.
        let big = try ZMQClientTransport(connect: endpoint, maxMessageBytes: 1 << 20)
        for _ in 0..<5 { try big.send([UInt8](repeating: 1, count: 100_000)) }

        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20), timeoutSeconds: 30)
        var status = try client.status()
        try eventually("every bad message counted") {
            status = try client.status()
            return status.rejectedMessages.values.reduce(0, +) >= count
        }
        XCTAssertEqual(status.rejectedMessages.values.reduce(0, +), count, "\(status.rejectedMessages)")
        XCTAssertGreaterThanOrEqual(status.rejectedMessages["wrong_version"] ?? 0, count / 4)
        XCTAssertGreaterThanOrEqual(status.rejectedMessages["malformed"] ?? 0, count / 4)
        // Still serving: a well-formed request gets its answer, and the process is alive.
        XCTAssertTrue(c.process.isRunning)
        XCTAssertEqual(try client.status().protocolVersion, WireProtocol.version)
        XCTAssertTrue(c.output.contains("rejected message"))
        c.signal(SIGTERM)
        XCTAssertEqual(c.wait(), 0)
    }
}
