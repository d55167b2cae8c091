import Foundation
import SwiftProtobuf

/// The wire protocol's version and limits. Every `Envelope` carries `version`; a peer speaking
/// another version is refused with a `Refusal` naming both versions.
public enum WireProtocol {
    public static let version: UInt32 = 5
    /// Default largest message accepted (also ZMQ_MAXMSGSIZE): a model travels in chunks below it.
    public static let defaultMaxMessageBytes = 16 << 20
    /// Chunk size for blobs (models, images, artifacts).
    public static let blobChunkBytes = 4 << 20
    /// Largest decompressed payload (LZ4 bomb guard): 256 histograms of 4096 Int64 bins is 8 MiB.
    public static let maxDecompressedBytes = 256 << 20

    /// Encodes `body` into an envelope of this version.
    public static func encode(_ body: Octet_Wire_Envelope.OneOf_Body, requestID: UInt64 = 0) -> [UInt8] {
        var e = Octet_Wire_Envelope()
        e.version = version
        e.requestID = requestID
        e.body = body
        // Serializing a message built in memory cannot fail (no required fields, no Any).
        return (try? e.serializedBytes()) ?? []
    }

    /// Decodes one message, refusing oversized, malformed, body-less and other-version input.
    public static func decode(_ bytes: [UInt8], maxBytes: Int = defaultMaxMessageBytes) throws(WireError) -> Octet_Wire_Envelope {
        guard bytes.count <= maxBytes else { throw .tooLarge(bytes.count, limit: maxBytes) }
        let e: Octet_Wire_Envelope
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 16
            options.discardUnknownFields = true
            e = try Octet_Wire_Envelope(serializedBytes: bytes, options: options)
        } catch {
            throw .malformed("\(error)")
        }
        guard e.version == version else { throw .wrongVersion(e.version) }
        guard e.body != nil else { throw .malformed("envelope without a body") }
        return e
    }

    /// A refusal reply for a decoding error.
    public static func refusal(_ error: WireError) -> Octet_Wire_Envelope.OneOf_Body {
        var r = Octet_Wire_Refusal()
        r.message = error.description
        r.expectedVersion = version
        switch error {
        case .malformed: r.reason = .malformed
        case .wrongVersion: r.reason = .wrongVersion
        case .tooLarge: r.reason = .tooLarge
        case .refused(let reason, _): r.reason = reason
        case .compression: r.reason = .malformed
        case .timeout, .transport: r.reason = .unspecified
        }
        return .refusal(r)
    }
}

/// Why a message or a peer was refused.
public enum WireError: Error, Equatable, CustomStringConvertible, Sendable {
    case malformed(String)
    case wrongVersion(UInt32)
    case tooLarge(Int, limit: Int)
    case compression(String)
    case refused(Octet_Wire_Refusal.Reason, String)
    case timeout(String)
    case transport(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed message: \(why)"
        case .wrongVersion(let v): "protocol version \(v) is not supported (this peer speaks version \(WireProtocol.version))"
        case .tooLarge(let n, let limit): "message of \(n) bytes exceeds the \(limit)-byte limit"
        case .compression(let why): "bad compressed payload: \(why)"
        case .refused(_, let message): "refused by the coordinator: \(message)"
        case .timeout(let what): "timed out: \(what)"
        case .transport(let why): "transport error: \(why)"
        }
    }
}
