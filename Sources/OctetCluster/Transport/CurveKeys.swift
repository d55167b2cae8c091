import CZMQ
import Foundation

/// A CURVE key pair in Z85 text (40 characters each), as `octet keys generate` writes them:
/// `NAME.key` holds the secret key, `NAME.pub` the public one.
public struct CurveKeyPair: Sendable, Hashable {
    public var publicKey: String
    public var secretKey: String

    public static func generate() throws(WireError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw .transport("CURVE is not available in this libzmq (built without libsodium?)") }
        return CurveKeyPair(publicKey: String(zeroTerminated: pub), secretKey: String(zeroTerminated: sec))
    }

    /// Writes NAME.pub and NAME.key (mode 0600) into `directory`.
    public func write(to directory: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = (directory as NSString).appendingPathComponent(name)
        try (publicKey + "\n").write(toFile: base + ".pub", atomically: true, encoding: .utf8)
        guard FileManager.default.createFile(atPath: base + ".key", contents: Data((secretKey + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw WireError.transport("cannot write \(base).key")
        }
    }

    /// Reads NAME.key given its path (or NAME's); the public key is derived from the secret one,
    /// so NAME.pub need not be beside it.
    public static func load(path: String) throws(WireError) -> CurveKeyPair {
        let base = path.hasSuffix(".key") || path.hasSuffix(".pub") ? String(path.dropLast(4)) : path
        let sec = try readKey(base + ".key")
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, sec) == 0 else { throw .transport("\(base).key: cannot derive the public key (not a CURVE secret key?)") }
        return CurveKeyPair(publicKey: String(zeroTerminated: pub), secretKey: sec)
    }

    /// Reads one Z85 key from a file (its first line), checking its form.
    public static func readKey(_ path: String) throws(WireError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .transport("cannot read key file \(path)") }
        let key = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard isZ85Key(key) else { throw .transport("\(path) does not hold a 40-character Z85 CURVE key") }
        return key
    }

    /// Public keys of a folder of `*.pub` files, or of one such file: the peers a coordinator admits.
    public static func readAuthorized(_ path: String) throws(WireError) -> Set<String> {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .transport("no such key file or folder: \(path)") }
        guard isDir.boolValue else { return [try readKey(path)] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var keys = Set<String>()
        for n in names where n.hasSuffix(".pub") { keys.insert(try readKey((path as NSString).appendingPathComponent(n))) }
        return keys
    }

    static func isZ85Key(_ s: String) -> Bool {
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        return s.count == 40 && s.allSatisfy { alphabet.contains($0) }
    }
}

/// CURVE settings of one endpoint. A server (the coordinator) has its key pair and the public keys it
/// admits; a client (worker, CLI) has its key pair and the server's public key.
public struct CurveSecurity: Sendable {
    public var keys: CurveKeyPair
    public var serverPublicKey: String?
    public var authorized: Set<String>

    public init(keys: CurveKeyPair, serverPublicKey: String? = nil, authorized: Set<String> = []) {
        self.keys = keys
        self.serverPublicKey = serverPublicKey
        self.authorized = authorized
    }
}

extension String {
    /// The text of a zero-terminated C character buffer (as libzmq fills them).
    init(zeroTerminated chars: [CChar]) {
        self.init(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
