import Foundation
import OctetCluster
import OctetJobs
import OctetTestSupport
import XCTest

/// The coordinator's driver (`Coordinator`): its message loop never waits on the disk, and a
/// store that cannot write fails the job with the store's error while the loop serves on.
final class CoordinatorDriverTests: XCTestCase {
    /// Another process holds the job store's database locked (as a backup tool or a second
    /// coordinator on the same `--state` would): the submit is answered, its job fails with the
    /// store's error as the cause, the coordinator keeps answering status queries meanwhile, and
    /// once the lock is gone the next job is stored and runs.
    func testALockedStoreFailsTheJobWithItsCauseAndTheLoopServesOn() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let cluster = try InProcessCluster(directory: dir, workers: 0)
        defer { cluster.stop() }
        let client = cluster.client()
        let model = try client.upload(Array("not a model".utf8))
        let spec = InferenceJobOptions(dataset: DatasetSpec(path: "/nonexistent", labels: nil, manifest: nil, recipe: .imagenet))
            .spec(modelHash: model, modelName: "m")

        // Hold the database's write lock from another process for a few seconds.
        let lock = Process()
        lock.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let ready = dir.appendingPathComponent("locked").path
        lock.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN EXCLUSIVE')
            open(sys.argv[2], 'w').close()
            time.sleep(3)
            c.execute('COMMIT')
            """, dir.appendingPathComponent("jobs.sqlite").path, ready]
        do { try lock.run() } catch { throw XCTSkip("python3 is needed to lock the store from another process: \(error)") }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready), lock.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard FileManager.default.fileExists(atPath: ready) else { throw XCTSkip("python3's sqlite3 module is needed to lock the store") }

        let id = try client.submit(spec)
        let report = try client.job(id)
        XCTAssertEqual(report.state, "failed")
        XCTAssertTrue(report.error.hasPrefix("cannot store the job's state: ") && report.error.contains("locked"), report.error)
        XCTAssertNoThrow(try client.status(), "the loop answers while the store is locked")
        lock.waitUntilExit()

        let next = try client.submit(spec)
        let finished = try client.wait(next)
        XCTAssertFalse(finished.error.contains("cannot store"), finished.error)
        XCTAssertTrue(finished.error.contains("/nonexistent"), "the job ran to its own error: \(finished.error)")
    }
}
