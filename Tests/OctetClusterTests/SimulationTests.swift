import Foundation
import OctetCluster
import OctetTestSupport
import XCTest

/// The cluster under the deterministic simulator (`ClusterSimulator`): the real coordinator and
/// worker cores, a simulated clock and network, faults drawn from a seed.
final class SimulationTests: XCTestCase {
    func simulate(seed: UInt64, faults: ClusterSimulator.Faults, bug: SimulatedBug? = nil, in dir: URL) throws -> ClusterSimulator.Outcome {
        let runDir = dir.appendingPathComponent("seed-\(seed)")
        defer { try? FileManager.default.removeItem(at: runDir) }
        // The shape of the job varies with the seed too.
        // Every third seed an inference job, streamed by a client through a small output window.
        let workers = 1 + Int(seed % 4), samples = 20 + Int(seed % 37), shard = 2 + Int(seed % 7)
        let sim = try ClusterSimulator(seed: seed, workers: workers, samples: samples, shardSize: shard, faults: faults, directory: runDir, bug: bug,
                                       kind: seed % 3 == 2 ? .infer : .calibrate, outputWindow: 1 + Int(seed % 5))
        return try sim.run()
    }

    func testAFaultFreeRunEndsWithTheMergeOfEverySample() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        for seed: UInt64 in [1, 2, 3] {
            let o = try simulate(seed: seed, faults: .none, in: dir)
            XCTAssertEqual(o.state, "done")
            XCTAssertEqual(o.violations, [])
            XCTAssertNotNil(o.artifact)
        }
    }

    /// 2,000 seeds, every fault (messages lost, duplicated, delayed, reordered) on even seeds (a failing disk too on one in five of them) and only
    /// a lossy network on odd ones (where no restart hides a lost message): each run ends done,
    /// with the fault-free artifact, and no invariant broken, or, only where a disk write failed,
    /// failed with the store named as the cause; the faults really happened.
    func testTwoThousandSeedsUnderFaultsHoldEveryInvariant() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var failures: [String] = []
        var kills = 0, restarts = 0, clientKills = 0, dropped = 0, duplicated = 0, reordered = 0, clockJumps = 0, diskFailures = 0, failedByDisk = 0
        for seed in UInt64(0)..<2000 {
            let faults: ClusterSimulator.Faults = seed % 2 == 1 ? .network : (seed % 10 == 4 ? .allWithDisk : .all)
            let o = try simulate(seed: seed, faults: faults, in: dir)
            if !o.violations.isEmpty { failures.append("seed \(seed): \(o.violations.joined(separator: "; "))") }
            kills += o.workerKills
            restarts += o.coordinatorKills
            clientKills += o.clientKills
            dropped += o.dropped
            duplicated += o.duplicated
            reordered += o.reordered
            clockJumps += o.clockJumps
            diskFailures += o.diskFailures
            if o.state == "failed" { failedByDisk += 1 }
        }
        XCTAssertGreaterThan(clockJumps, 25, "clock steps")
        XCTAssertGreaterThan(diskFailures, 10, "failed disk writes")
        XCTAssertGreaterThan(failedByDisk, 0, "no job was failed by its store: the disk faults were not exercised")
        XCTAssertLessThan(failedByDisk, 200, "a failed write fails its job, not every job of the disk seeds")
        XCTAssertEqual(failures.count, 0, "\(failures.count) seeds broke an invariant; first: \(failures.prefix(5).joined(separator: "\n"))")
        XCTAssertGreaterThan(kills, 50, "worker kills")
        XCTAssertGreaterThan(restarts, 25, "coordinator restarts")
        XCTAssertGreaterThan(clientKills, 25, "inference clients killed")
        XCTAssertGreaterThan(dropped, 100, "dropped messages")
        XCTAssertGreaterThan(duplicated, 100, "duplicated messages")
        XCTAssertGreaterThan(reordered, 200, "messages that overtook others on their link")
        print("simulation: 2000 seeds, \(kills) worker kills, \(restarts) coordinator restarts, \(clientKills) inference clients killed, " +
              "\(dropped) messages dropped, \(duplicated) duplicated, \(reordered) reordered, \(clockJumps) clock steps, \(diskFailures) failed disk writes " +
              "(\(failedByDisk) jobs failed by their store)")
    }

    func testOneSeedReproducesItsRun() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let a = try simulate(seed: 77, faults: .all, in: dir), b = try simulate(seed: 77, faults: .all, in: dir)
        XCTAssertEqual(a.seconds, b.seconds)
        XCTAssertEqual([a.workerKills, a.coordinatorKills, a.dropped, a.duplicated], [b.workerKills, b.coordinatorKills, b.dropped, b.duplicated])
        XCTAssertEqual(a.artifact, b.artifact)
    }

    /// A coordinator that accepts a late duplicate result again (`SimulatedBug`) is caught: by the
    /// count of accepted results, or by the artifact (the job finishes before every task is done).
    func testAnInjectedBugIsCaught() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var caught: [UInt64] = []
        for seed in UInt64(0)..<200 {
            let o = try simulate(seed: seed, faults: .all, bug: .acceptDuplicateResults, in: dir)
            if !o.violations.isEmpty { caught.append(seed) }
        }
        XCTAssertFalse(caught.isEmpty, "the simulator missed a coordinator that accepts duplicate results")
        print("the injected bug was caught by \(caught.count) of 200 seeds, first \(caught.first.map(String.init) ?? "-")")
    }

    /// Scale: 256 workers and a 1,000,000-image inference job in shards of 32 (31,250 tasks),
    /// no faults: every prediction once and in order. Prints the coordinator's own time per task
    /// (its `handle` calls, dispatch and acceptance included) and the process's resident memory.
    func testCoordinatorAt256WorkersAndAMillionImages() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let before = Self.residentMiB()
        let sim = try ClusterSimulator(seed: 1, workers: 256, samples: 1_000_000, shardSize: 32, faults: .none,
                                       directory: dir.appendingPathComponent("scale"), kind: .infer)
        let o = try sim.run(until: 100_000)
        XCTAssertEqual(o.state, "done")
        XCTAssertEqual(o.violations, [])
        let tasks = 31_250
        print(String(format: "scale: 256 workers, 1,000,000 images, %d tasks in %.0f simulated s; coordinator loop %.2f s in %d calls (heartbeats and ticks included): %.0f tasks/s; results and their dispatch alone %.2f s: %.0f tasks/s; its I/O (%d store transactions of %.1f writes on average, and the result reads, on the I/O thread) %.2f s (the reads %.2f s): %.0f tasks/s; resident memory %.0f → %.0f MiB",
                     tasks, o.seconds, sim.coordinatorSeconds, sim.coordinatorCalls, Double(tasks) / sim.coordinatorSeconds,
                     sim.resultSeconds, Double(tasks) / sim.resultSeconds, sim.transactions, Double(sim.writes) / Double(max(sim.transactions, 1)), sim.ioSeconds, sim.replySeconds, Double(tasks) / sim.ioSeconds, before, Self.residentMiB()))
    }

    /// A 100,000-task inference job whose client reads slowly (8 tasks per question, then a
    /// 20 ms pause: below the workers' pace): the coordinator holds at most its output
    /// window of results at any time (checked on every batch the client reads), the job runs at
    /// the client's pace, and the process's resident memory stays flat from a tenth of the job to
    /// its end (printed at every tenth).
    func testMemoryStaysFlatForAHundredThousandTasksWithASlowClient() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let sim = try ClusterSimulator(seed: 5, workers: 32, samples: 100_000, shardSize: 1, faults: .none,
                                       directory: dir.appendingPathComponent("memory"), kind: .infer, outputWindow: 256)
        sim.taskSeconds = 0.02...0.08
        sim.clientBatch = 8
        sim.clientDelay = 0.02
        var resident: [(tasks: Int, mib: Double)] = []
        sim.onClientProgress = { resident.append(($0, Self.residentMiB())) }
        let o = try sim.run(until: 100_000)
        XCTAssertEqual(o.state, "done")
        XCTAssertEqual(o.violations, [])
        XCTAssertGreaterThanOrEqual(resident.count, 9)
        XCTAssertGreaterThan(sim.maxStoredResults, 200, "the client never fell behind: nothing held the job back")
        let first = resident.first?.mib ?? 0, peak = resident.map(\.mib).max() ?? 0
        XCTAssertLessThan(peak - first, 48, "resident memory grew from \(first) to \(peak) MiB after the first tenth")
        print(String(format: "memory: 100,000 tasks, slow client, window 256 (up to %d results held): %.0f simulated s (%.0f tasks/s, the client's pace); resident MiB at each tenth: %@",
                     sim.maxStoredResults, o.seconds, 100_000 / o.seconds, resident.map { String(format: "%.0f", $0.mib) }.joined(separator: " ")))
    }

    static func residentMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
