import Foundation
import OctetCluster
import OctetTestSupport
import XCTest

/// A background `octet` process of a test (coordinator or worker), its output in a log file.
final class OctetProcess {
    let process = Process()
    let log: URL

    /// Runs `octet` (or `executable`) with `arguments`.
    init(_ arguments: [String], log: URL, executable: String? = nil) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? TestPaths.productsDirectory.appendingPathComponent("octet")
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func signal(_ s: Int32) { if process.isRunning { kill(process.processIdentifier, s) } }

    /// Waits for exit (SIGKILL after `timeout`) and returns the status.
    @discardableResult
    func wait(timeout: Double = 30) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { signal(SIGKILL); process.waitUntilExit() }
        return process.terminationStatus
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    deinit { signal(SIGKILL) }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(timeout: Double = 60, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    XCTFail("timed out waiting for \(what)")
    throw WireError.timeout(what)
}

/// A free-enough TCP port on loopback for one test.
func loopbackEndpoint() -> String { "tcp://127.0.0.1:\(Int.random(in: 20_000..<60_000))" }
