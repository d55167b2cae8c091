import CZMQ
import Foundation

/// The coordinator's ROUTER socket. Every message is [routing id, payload]; anything else is
/// handed up as an empty payload (rejected as malformed). ZMQ_MAXMSGSIZE drops oversized
/// messages inside libzmq before they are buffered.
public final class ZMQServerTransport: ServerTransport {
    let socket: ZMQSocket
    let authenticator: ZAPAuthenticator?
    public let endpoint: String

    public init(bind endpoint: String, maxMessageBytes: Int, curve: CurveSecurity? = nil) throws(WireError) {
        if let curve {
            authenticator = try ZAPAuthenticator(authorized: curve.authorized)
        } else {
            authenticator = nil
        }
        socket = try ZMQSocket(type: ZMQ_ROUTER)
        try socket.set(ZMQ_ROUTER_MANDATORY, Int32(1))
        try socket.set(ZMQ_MAXMSGSIZE, Int64(maxMessageBytes))
        try socket.set(ZMQ_SNDHWM, Int32(10_000))
        try socket.set(ZMQ_RCVHWM, Int32(100_000))
        if let curve {
            try socket.set(ZMQ_CURVE_SERVER, Int32(1))
            try socket.set(ZMQ_CURVE_SECRETKEY, curve.keys.secretKey)
            try socket.set(ZMQ_ZAP_DOMAIN, "octet")
        }
        try socket.bind(endpoint)
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        zmq_getsockopt(socket.handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        self.endpoint = String(zeroTerminated: buffer)
    }

    /// Connections refused by CURVE authentication so far.
    public var refusedAuthentications: Int { authenticator?.refused ?? 0 }

    public func receive(timeoutMs: Int) throws(WireError) -> (peer: PeerID, bytes: [UInt8])? {
        if let frames = try socket.receiveMultipart() { return Self.split(frames) }
        guard socket.poll(timeoutMs: timeoutMs), let frames = try socket.receiveMultipart() else { return nil }
        return Self.split(frames)
    }

    static func split(_ frames: [[UInt8]]) -> (peer: PeerID, bytes: [UInt8]) {
        (PeerID(frames.first ?? []), frames.count == 2 ? frames[1] : [])
    }

    public func send(_ bytes: [UInt8], to peer: PeerID) throws(WireError) {
        try socket.sendMultipart([peer.bytes, bytes])
    }
}

/// A worker's or client's DEALER socket, reconnecting on its own after a network cut.
public final class ZMQClientTransport: ClientTransport {
    let socket: ZMQSocket

    public init(connect endpoint: String, maxMessageBytes: Int, curve: CurveSecurity? = nil) throws(WireError) {
        socket = try ZMQSocket(type: ZMQ_DEALER)
        try socket.set(ZMQ_MAXMSGSIZE, Int64(maxMessageBytes))
        try socket.set(ZMQ_RECONNECT_IVL, Int32(100))
        try socket.set(ZMQ_RECONNECT_IVL_MAX, Int32(2000))
        try socket.set(ZMQ_SNDHWM, Int32(10_000))
        if let curve {
            guard let server = curve.serverPublicKey else { throw .transport("CURVE needs the coordinator's public key") }
            try socket.set(ZMQ_CURVE_SERVERKEY, server)
            try socket.set(ZMQ_CURVE_PUBLICKEY, curve.keys.publicKey)
            try socket.set(ZMQ_CURVE_SECRETKEY, curve.keys.secretKey)
        }
        try socket.connect(endpoint)
    }

    public func receive(timeoutMs: Int) throws(WireError) -> [UInt8]? {
        if let frames = try socket.receiveMultipart() { return frames.count == 1 ? frames[0] : [] }
        guard socket.poll(timeoutMs: timeoutMs), let frames = try socket.receiveMultipart() else { return nil }
        return frames.count == 1 ? frames[0] : []
    }

    public func send(_ bytes: [UInt8]) throws(WireError) {
        // Blocking send: a DEALER queues while disconnected, up to its high-water mark.
        try socket.sendMultipart([bytes], dontWait: false)
    }
}

/// ZeroMQ's authentication protocol (ZAP, RFC 27) handler: admits a CURVE peer only if its
/// public key is listed. Runs on its own thread with its own socket, as libzmq requires.
final class ZAPAuthenticator: @unchecked Sendable {
    private let authorized: Set<String>
    private let lock = NSLock()
    private var refusedCount = 0
    private var thread: Thread?
    private let socket: ZMQSocket

    init(authorized: Set<String>) throws(WireError) {
        self.authorized = authorized
        socket = try ZMQSocket(type: ZMQ_REP)
        try socket.bind("inproc://zeromq.zap.01")
        let t = Thread { [self] in run() }
        t.name = "octet-zap"
        thread = t
        t.start()
    }

    var refused: Int { lock.lock(); defer { lock.unlock() }; return refusedCount }

    private func run() {
        while true {
            guard socket.poll(timeoutMs: 1000) else { continue }
            guard let frames = try? socket.receiveMultipart(), frames.count >= 6 else { continue }
            let requestID = frames[1]
            var ok = false
            if String(decoding: frames[5], as: UTF8.self) == "CURVE", frames.count >= 7, frames[6].count == 32 {
                var z85 = [CChar](repeating: 0, count: 41)
                if zmq_z85_encode(&z85, frames[6], 32) != nil { ok = authorized.contains(String(zeroTerminated: z85)) }
            }
            if !ok { lock.lock(); refusedCount += 1; lock.unlock() }
            let reply: [[UInt8]] = [Array("1.0".utf8), requestID, Array((ok ? "200" : "400").utf8),
                                    Array((ok ? "OK" : "public key not authorized").utf8), [], []]
            _ = try? socket.sendMultipart(reply, dontWait: false)
        }
    }
}
