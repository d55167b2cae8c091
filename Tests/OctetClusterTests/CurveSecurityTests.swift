import Foundation
import OctetCluster
import OctetTestSupport
import XCTest

/// CURVE: only listed public keys join; binding beyond loopback needs keys or --insecure.
final class CurveSecurityTests: XCTestCase {
    func testOnlyListedWorkerKeysJoin() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let keys = dir.appendingPathComponent("keys").path, authorized = dir.appendingPathComponent("authorized").path
        for name in ["coordinator", "good", "bad", "client"] {
            let r = try runProduct("octet", ["keys", "generate", "--out", keys, "--name", name])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
        for name in ["good", "client"] {
            try FileManager.default.copyItem(atPath: "\(keys)/\(name).pub", toPath: "\(authorized)/\(name).pub")
        }
        let endpoint = loopbackEndpoint()
        let c = try OctetProcess(["coordinator", "--bind", endpoint, "--state", dir.appendingPathComponent("state").path,
                                  "--keys", "\(keys)/coordinator.key", "--authorized", authorized],
                                 log: dir.appendingPathComponent("coordinator.log"))
        let workers = try ["good", "bad"].map { name in
            try OctetProcess(["worker", "--connect", endpoint, "--id", name, "--keys", "\(keys)/\(name).key",
                              "--server-key", "\(keys)/coordinator.pub"], log: dir.appendingPathComponent("\(name).log"))
        }
        let curve = CurveSecurity(keys: try CurveKeyPair.load(path: "\(keys)/client.key"), serverPublicKey: try CurveKeyPair.readKey("\(keys)/coordinator.pub"))
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 1 << 20, curve: curve), timeoutSeconds: 20)
        try eventually("the listed worker joined") { try client.status().workers.contains { $0.id == "good" } }
        Thread.sleep(forTimeInterval: 1.5)  // the unlisted one has had time to retry
        XCTAssertEqual(try client.status().workers.map(\.id), ["good"])

        // A client with an unlisted key gets no answer at all.
        let intruder = CurveSecurity(keys: try CurveKeyPair.load(path: "\(keys)/bad.key"), serverPublicKey: curve.serverPublicKey)
        let rejected = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 1 << 20, curve: intruder), timeoutSeconds: 1.5)
        XCTAssertThrowsError(try rejected.status()) { guard case .timeout = $0 as? WireError else { return XCTFail("\($0)") } }
        // And a plain-text client cannot talk to a CURVE coordinator either.
        let plain = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 1 << 20), timeoutSeconds: 1.5)
        XCTAssertThrowsError(try plain.status())
        for w in workers { w.signal(SIGTERM) }
        for w in workers { w.wait(timeout: 5) }
        c.signal(SIGTERM)
        XCTAssertEqual(c.wait(), 0, c.output)
    }

    func testBindingBeyondLoopbackNeedsKeysOrInsecure() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let r = try runProduct("octet", ["coordinator", "--bind", "tcp://*:5999", "--state", dir.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("beyond loopback without CURVE keys"), r.stderr)
        let half = try runProduct("octet", ["worker", "--keys", "x.key"])
        XCTAssertNotEqual(half.status, 0)
        XCTAssertTrue(half.stderr.contains("--keys and --server-key go together"), half.stderr)
    }

    func testKeyFilesAreCheckedAndSecretIsPrivate() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let pair = try CurveKeyPair.generate()
        try pair.write(to: dir.path, name: "k")
        XCTAssertEqual(try CurveKeyPair.load(path: dir.appendingPathComponent("k.key").path), pair)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("k.key").path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        try "not a key\n".write(to: dir.appendingPathComponent("bad.pub"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CurveKeyPair.readKey(dir.appendingPathComponent("bad.pub").path)) {
            XCTAssertTrue("\($0)".contains("40-character Z85"))
        }
    }
}
