import Foundation

/// An in-process network for tests: one server end and any number of client ends, with the same
/// semantics as ROUTER/DEALER (messages to a closed client are dropped).
public final class InMemoryNetwork: @unchecked Sendable {
    private let condition = NSCondition()
    private var serverQueue: [(PeerID, [UInt8])] = []
    private var clientQueues: [PeerID: [[UInt8]]] = [:]
    private var nextID: UInt32 = 1

    public init() {}

    public func server() -> ServerTransport { Server(network: self) }

    public func connect() -> ClientTransport {
        condition.lock(); defer { condition.unlock() }
        let id = PeerID(withUnsafeBytes(of: nextID.bigEndian, Array.init))
        nextID += 1
        clientQueues[id] = []
        return Client(network: self, id: id)
    }

    /// Disconnects a client: its queued and future messages are dropped (a killed process).
    func close(_ id: PeerID) {
        condition.lock(); clientQueues[id] = nil; condition.unlock()
    }

    private func pop<T>(timeoutMs: Int, _ take: () -> T?) -> T? {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        condition.lock(); defer { condition.unlock() }
        while true {
            if let v = take() { return v }
            if !condition.wait(until: deadline) { return take() }
        }
    }

    final class Server: ServerTransport {
        let network: InMemoryNetwork
        init(network: InMemoryNetwork) { self.network = network }

        func receive(timeoutMs: Int) throws(WireError) -> (peer: PeerID, bytes: [UInt8])? {
            network.pop(timeoutMs: timeoutMs) { network.serverQueue.isEmpty ? nil : network.serverQueue.removeFirst() }
        }

        func send(_ bytes: [UInt8], to peer: PeerID) throws(WireError) {
            network.condition.lock(); defer { network.condition.unlock() }
            guard network.clientQueues[peer] != nil else { return }
            network.clientQueues[peer]!.append(bytes)
            network.condition.broadcast()
        }
    }

    final class Client: ClientTransport {
        let network: InMemoryNetwork
        let id: PeerID
        init(network: InMemoryNetwork, id: PeerID) { self.network = network; self.id = id }
        deinit { network.close(id) }

        func receive(timeoutMs: Int) throws(WireError) -> [UInt8]? {
            network.pop(timeoutMs: timeoutMs) {
                guard let q = network.clientQueues[id], !q.isEmpty else { return nil }
                return network.clientQueues[id]!.removeFirst()
            }
        }

        func send(_ bytes: [UInt8]) throws(WireError) {
            network.condition.lock(); defer { network.condition.unlock() }
            guard network.clientQueues[id] != nil else { return }
            network.serverQueue.append((id, bytes))
            network.condition.broadcast()
        }
    }
}
