/// A peer of the coordinator's socket: the routing identity ZeroMQ (or the in-memory hub) gives it.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// The coordinator's end: messages from many peers, replies routed back by peer.
public protocol ServerTransport: AnyObject {
    /// The next message, or nil after `timeoutMs` without one.
    func receive(timeoutMs: Int) throws(WireError) -> (peer: PeerID, bytes: [UInt8])?
    /// Sends to `peer`; a peer that has gone away is not an error (the message is dropped).
    func send(_ bytes: [UInt8], to peer: PeerID) throws(WireError)
}

/// A worker's or client's end: one connection to the coordinator.
public protocol ClientTransport: AnyObject {
    func receive(timeoutMs: Int) throws(WireError) -> [UInt8]?
    func send(_ bytes: [UInt8]) throws(WireError)
}
