import ArgumentParser
import Foundation
import OctetCluster

/// How a worker or client reaches the coordinator.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Coordinator address (default: $OCTET_COORDINATOR, else tcp://127.0.0.1:5555).")
    var coordinator: String = System.environment["OCTET_COORDINATOR"] ?? "tcp://127.0.0.1:5555"

    @Option(name: .customLong("keys"), help: "This peer's CURVE secret key file (NAME.key), from `octet keys generate` (default: $OCTET_KEYS).")
    var keysFlag: String?

    @Option(name: .customLong("server-key"), help: "The coordinator's CURVE public key file (NAME.pub). Required with --keys (default: $OCTET_SERVER_KEY).")
    var serverKeyFlag: String?

    var keys: String? { keysFlag ?? System.environment["OCTET_KEYS"] }
    var serverKey: String? { serverKeyFlag ?? System.environment["OCTET_SERVER_KEY"] }

    @Option(help: "Seconds to wait for each reply.")
    var timeout: Double = 60

    func validate() throws {
        if (keys == nil) != (serverKey == nil) { throw ValidationError("--keys and --server-key go together") }
    }

    func curve() throws -> CurveSecurity? {
        guard let keys, let serverKey else { return nil }
        return CurveSecurity(keys: try CurveKeyPair.load(path: keys), serverPublicKey: try CurveKeyPair.readKey(serverKey))
    }

    func transport() throws -> ZMQClientTransport {
        try ZMQClientTransport(connect: coordinator, maxMessageBytes: WireProtocol.defaultMaxMessageBytes * 2, curve: try curve())
    }

    func client() throws -> ClusterClient {
        ClusterClient(transport: try transport(), timeoutSeconds: timeout)
    }
}

/// Runs `body` when the process receives SIGINT or SIGTERM (instead of dying).
final class SignalTrap: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []

    init(_ body: @escaping @Sendable () -> Void) {
        for s in [SIGINT, SIGTERM] {
            signal(s, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: s, queue: .global())
            src.setEventHandler(handler: body)
            src.resume()
            sources.append(src)
        }
    }
}

/// Whether a ZeroMQ endpoint is reachable only from this machine.
func isLoopbackEndpoint(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://") else { return false }
    let hostPort = endpoint.dropFirst(6)
    let host: Substring
    if hostPort.hasPrefix("[") { host = hostPort.dropFirst().prefix { $0 != "]" } }
    else { host = hostPort.prefix { $0 != ":" } }
    return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.hasPrefix("127.")
}
