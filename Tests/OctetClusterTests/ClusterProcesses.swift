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

/// One HTTP/1.1 GET on loopback, returning the raw response.
func httpGet(port: Int, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw WireError.transport("socket") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { throw WireError.transport("connect to port \(port)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    return String(decoding: response, as: UTF8.self)
}
