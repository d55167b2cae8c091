import Foundation
import XCTest

/// Where tests find the repository, its fixtures, `../shared` and the built executables.
public enum TestPaths {
    public static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()
    public static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")
    public static let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")
    public static let efficientNet = shared.appendingPathComponent("models/efficientnet_lite0_fp32.onnx").path
    public static let imageSample = shared.appendingPathComponent("data/imagenet-sample").path
    public static let imageLabels = shared.appendingPathComponent("data/imagenet-sample/labels.csv").path

    /// Skips the test when `../shared` (real model and images) is absent.
    public static func requireShared() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: efficientNet),
                          "../shared with the real model and images is not present beside the repository")
    }

    /// The directory holding the built products (`octet`, `octet-bench`) of this build.
    public static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// Where a test keeps what a person may want to look at after the run (screenshots):
    /// `.build/test-artifacts/NAME`, kept across runs, ignored by git.
    public static func artifact(_ name: String) throws -> URL {
        let dir = repoRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name)
    }

    /// A fresh temporary directory removed at the end of the test.
    public static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("octet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Loads a JSON fixture.
    public static func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// The logits ONNX Runtime computed for a few sample images (scripts/make_reference_outputs.py).
public struct ReferenceLogits: Decodable {
    public var onnxruntime: String
    public var images: [String]
    public var logits: [[Float]]
}

/// FNV-1a, 64-bit: a fingerprint of bytes computed the same way in Python and Swift.
public func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
