import OctetCore
import Foundation

/// Content-addressed files (models, shipped images, artifacts) in one folder, named by their
/// SHA-256. Uploads arrive in chunks into a `.partial` file and become visible only when the
/// whole content matches its hash, so a crash never leaves a wrong blob behind.
///
/// It knows the blobs it holds (listed once when opened, then every blob it publishes), so
/// `contains`, which the coordinator's and workers' message loops ask, touches no disk. A blob
/// another process puts in the same folder meanwhile is not known until it is stored through
/// this store too (a worker then fetches it again, and `receive` finds it at once).
public final class BlobStore: @unchecked Sendable {
    public let directory: String
    /// Serializes the writes (an upload's chunks, a publication).
    private let writeLock = NSLock()
    /// Guards `held` only, so `contains` never waits for a write.
    private let heldLock = NSLock()
    /// The blobs published in `directory`.
    private var held: Set<String>

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        held = Set(try FileManager.default.contentsOfDirectory(atPath: directory).filter(ContentHash.isValid))
    }

    public func path(_ hash: String) -> String { (directory as NSString).appendingPathComponent(hash) }

    /// Whether the blob is held: a lookup in memory, no file-system call.
    public func contains(_ hash: String) -> Bool {
        heldLock.lock(); defer { heldLock.unlock() }
        return held.contains(hash)
    }

    private func published(_ hash: String) {
        heldLock.lock(); defer { heldLock.unlock() }
        held.insert(hash)
    }

    private func writing<T>(_ body: () throws -> T) rethrows -> T {
        writeLock.lock(); defer { writeLock.unlock() }
        return try body()
    }

    public func size(_ hash: String) -> UInt64? {
        guard contains(hash), let attrs = try? FileManager.default.attributesOfItem(atPath: path(hash)) else { return nil }
        return (attrs[.size] as? NSNumber)?.uint64Value
    }

    /// Stores `bytes` and returns their hash.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> String {
        let hash = ContentHash.sha256(bytes)
        if contains(hash) { return hash }
        let tmp = path(hash) + ".tmp-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: tmp))
        try writing {
            if FileManager.default.fileExists(atPath: path(hash)) { try? FileManager.default.removeItem(atPath: tmp) }
            else { try FileManager.default.moveItem(atPath: tmp, toPath: path(hash)) }
        }
        published(hash)
        return hash
    }

    /// Stores the file at `source`.
    @discardableResult
    public func putFile(_ source: String) throws -> String {
        try put([UInt8](try Data(contentsOf: URL(fileURLWithPath: source))))
    }

    public func read(_ hash: String) throws(WireError) -> [UInt8] {
        guard contains(hash), let d = FileManager.default.contents(atPath: path(hash)) else { throw .refused(.notFound, "no blob \(hash)") }
        return [UInt8](d)
    }

    /// Bytes [offset, offset + length) of a blob, and its total size.
    public func read(_ hash: String, offset: UInt64, length: Int) throws(WireError) -> (data: [UInt8], total: UInt64) {
        guard let total = size(hash), let handle = FileHandle(forReadingAtPath: path(hash)) else { throw .refused(.notFound, "no blob \(hash)") }
        defer { try? handle.close() }
        guard offset <= total else { throw .refused(.invalidRequest, "offset \(offset) beyond the \(total)-byte blob") }
        do {
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: max(0, min(length, Int(total - offset)))) ?? Data()
            return ([UInt8](data), total)
        } catch {
            throw .transport("reading blob \(hash): \(error)")
        }
    }

    /// Why a chunk's blob cannot be stored whatever the store holds (its name, its size), or nil:
    /// checked before the chunk is handed to the I/O that writes it, and again by `receive`.
    public static func problem(_ chunk: Octet_Wire_BlobPut, maxSize: UInt64) -> WireError? {
        guard ContentHash.isValid(chunk.hash) else { return .refused(.invalidRequest, "blob name is not a SHA-256 hex digest") }
        guard chunk.totalSize <= maxSize else { return .refused(.tooLarge, "blob of \(chunk.totalSize) bytes exceeds the \(maxSize)-byte limit") }
        return nil
    }

    /// Appends one uploaded chunk; chunks must arrive in order. On the last chunk the content is
    /// hashed and the blob published, or the upload discarded if the hash does not match.
    public func receive(_ chunk: Octet_Wire_BlobPut, maxSize: UInt64) throws(WireError) -> Octet_Wire_BlobAck {
        if let problem = Self.problem(chunk, maxSize: maxSize) { throw problem }
        var ack = Octet_Wire_BlobAck()
        ack.hash = chunk.hash
        writeLock.lock(); defer { writeLock.unlock() }
        if FileManager.default.fileExists(atPath: path(chunk.hash)) {
            published(chunk.hash)
            ack.received = chunk.totalSize
            ack.complete = true
            return ack
        }
        let partial = path(chunk.hash) + ".partial"
        let have = ((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? NSNumber)?.uint64Value ?? 0
        if chunk.offset == 0 && have > 0 { try? FileManager.default.removeItem(atPath: partial) }
        let current = chunk.offset == 0 ? 0 : have
        guard chunk.offset == current else { throw .refused(.invalidRequest, "chunk at offset \(chunk.offset), expected \(current)") }
        guard current + UInt64(chunk.data.count) <= chunk.totalSize else { throw .refused(.invalidRequest, "chunk runs past the declared size") }
        do {
            if current == 0 && !FileManager.default.createFile(atPath: partial, contents: nil) { throw WireError.transport("cannot create \(partial)") }
            guard let handle = FileHandle(forWritingAtPath: partial) else { throw WireError.transport("cannot write \(partial)") }
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: chunk.data)
        } catch {
            throw .transport("storing blob chunk: \(error)")
        }
        let received = current + UInt64(chunk.data.count)
        ack.received = received
        if received == chunk.totalSize {
            let bytes = [UInt8](FileManager.default.contents(atPath: partial) ?? Data())
            guard ContentHash.sha256(bytes) == chunk.hash else {
                try? FileManager.default.removeItem(atPath: partial)
                throw .refused(.invalidRequest, "uploaded content does not match its hash \(chunk.hash)")
            }
            do { try FileManager.default.moveItem(atPath: partial, toPath: path(chunk.hash)) } catch {
                throw .transport("publishing blob: \(error)")
            }
            published(chunk.hash)
            ack.complete = true
        }
        return ack
    }
}
