import CSodium
import Foundation

/// SHA-256 content hashes (lower-case hex): they name the cluster's blobs (the same bytes always
/// have the same name, so a worker caches a model once whatever job sends it) and tie a
/// calibration table to its model and preprocessing (`CalibrationProvenance`).
public enum ContentHash {
    public static func sha256(_ bytes: some Collection<UInt8>) -> String {
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        let input = Array(bytes)
        _ = input.withUnsafeBufferPointer { crypto_hash_sha256(&digest, $0.baseAddress, UInt64($0.count)) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `s` looks like a hash this module produced (and is safe as a file name).
    public static func isValid(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
