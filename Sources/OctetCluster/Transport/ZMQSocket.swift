import CZMQ
import Foundation

/// The process's ZeroMQ context (one per process, as libzmq recommends).
enum ZMQContext {
    nonisolated(unsafe) static let shared: UnsafeMutableRawPointer = zmq_ctx_new()
}

/// A thin owner of one libzmq socket: options, bind/connect, multipart send and receive.
/// Not thread-safe (libzmq sockets are not): one thread uses it.
final class ZMQSocket {
    let handle: UnsafeMutableRawPointer

    init(type: Int32) throws(WireError) {
        guard let h = zmq_socket(ZMQContext.shared, type) else { throw .transport(Self.lastError("zmq_socket")) }
        handle = h
        try set(ZMQ_LINGER, Int32(0))
    }

    deinit { zmq_close(handle) }

    static func lastError(_ what: String) -> String {
        "\(what): \(String(cString: zmq_strerror(zmq_errno())))"
    }

    func set(_ option: Int32, _ value: Int32) throws(WireError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw .transport(Self.lastError("zmq_setsockopt(\(option))")) }
    }

    func set(_ option: Int32, _ value: Int64) throws(WireError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else { throw .transport(Self.lastError("zmq_setsockopt(\(option))")) }
    }

    func set(_ option: Int32, _ value: String) throws(WireError) {
        let bytes = Array(value.utf8)
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw .transport(Self.lastError("zmq_setsockopt(\(option))")) }
    }

    func bind(_ endpoint: String) throws(WireError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw .transport(Self.lastError("bind \(endpoint)")) }
    }

    func connect(_ endpoint: String) throws(WireError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw .transport(Self.lastError("connect \(endpoint)")) }
    }

    /// Waits up to `timeoutMs` for a message to be readable.
    func poll(timeoutMs: Int) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, timeoutMs)
        return rc > 0 && (item.revents & Int16(ZMQ_POLLIN)) != 0
    }

    /// Receives every frame of one message (non-blocking; nil when none is waiting).
    func receiveMultipart() throws(WireError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let n = zmq_msg_recv(&msg, handle, frames.isEmpty ? ZMQ_DONTWAIT : 0)
            if n < 0 {
                if zmq_errno() == EAGAIN && frames.isEmpty { return nil }
                if zmq_errno() == EINTR && frames.isEmpty { return nil }
                throw .transport(Self.lastError("zmq_msg_recv"))
            }
            let size = zmq_msg_size(&msg)
            let data = zmq_msg_data(&msg)
            frames.append(size == 0 || data == nil ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }

    /// Sends `frames` as one message. Returns false when the peer is unknown or gone
    /// (ZMQ_ROUTER_MANDATORY) or the send would block.
    @discardableResult
    func sendMultipart(_ frames: [[UInt8]], dontWait: Bool = true) throws(WireError) -> Bool {
        for (i, f) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            let rc = f.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                let e = zmq_errno()
                if e == EHOSTUNREACH || e == EAGAIN { return false }
                throw .transport(Self.lastError("zmq_send"))
            }
        }
        return true
    }
}
