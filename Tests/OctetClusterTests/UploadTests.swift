import Foundation
import OctetCluster
import OctetJobs
import OctetTestSupport
import XCTest

/// `ClusterClient.uploadMany` (`--ship-data`): many uploads in flight at once, each blob stored
/// whole and named on a refusal.
final class UploadTests: XCTestCase {
    func testManyUploadsInFlightStoreEveryBlobAndARefusalNamesItsFile() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var settings = CoordinatorSettings()
        settings.maxBlobBytes = UInt64(WireProtocol.blobChunkBytes) * 2
        let cluster = try InProcessCluster(directory: dir, workers: 0, settings: settings)
        defer { cluster.stop() }
        let client = cluster.client()
        // 300 small blobs (50 of them repeated) around one of more than a chunk.
        var blobs = (0..<300).map { (name: "img\($0).jpg", bytes: Array("image \($0 % 250) ".utf8) + [UInt8](repeating: UInt8($0 % 7), count: $0)) }
        blobs.insert((name: "large.png", bytes: (0..<(WireProtocol.blobChunkBytes + 1000)).map { UInt8($0 % 251) }), at: 120)
        let hashes = try client.uploadMany(blobs, window: 16)
        XCTAssertEqual(hashes, blobs.map { ContentHash.sha256($0.bytes) })
        for (blob, hash) in zip(blobs, hashes) { XCTAssertEqual(try client.download(hash), blob.bytes, blob.name) }

        let tooLarge = [(name: "ok.jpg", bytes: [UInt8](repeating: 1, count: 10)),
                        (name: "huge.jpg", bytes: [UInt8](repeating: 2, count: WireProtocol.blobChunkBytes * 2 + 1))]
        XCTAssertThrowsError(try client.uploadMany(tooLarge)) { error in
            XCTAssertTrue("\(error)".contains("huge.jpg") && "\(error)".contains("exceeds"), "\(error)")
        }
    }

    /// A blob store knows what it holds without asking the disk (the message loops ask it): what
    /// it found when opened and what it published since, never a partial upload; a blob removed
    /// behind its back is a named refusal when read, not a crash.
    func testABlobStoreKnowsItsBlobsWithoutAskingTheDisk() throws {
        let dir = try TestPaths.temporaryDirectory(self).appendingPathComponent("blobs").path
        let store = try BlobStore(directory: dir)
        let put = try store.put(Array("put".utf8))
        let bytes = [UInt8](repeating: 9, count: 100)
        var chunk = Octet_Wire_BlobPut()
        chunk.hash = ContentHash.sha256(bytes)
        chunk.totalSize = 100
        chunk.data = Data(bytes[0..<60])
        XCTAssertFalse(try store.receive(chunk, maxSize: 1000).complete)
        XCTAssertFalse(store.contains(chunk.hash), "a partial upload is not a blob")
        chunk.offset = 60
        chunk.data = Data(bytes[60...])
        XCTAssertTrue(try store.receive(chunk, maxSize: 1000).complete)
        XCTAssertTrue(store.contains(put) && store.contains(chunk.hash))
        try Data("not a blob".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        let reopened = try BlobStore(directory: dir)
        XCTAssertTrue(reopened.contains(put) && reopened.contains(chunk.hash))
        XCTAssertFalse(reopened.contains("notes.txt"))
        try FileManager.default.removeItem(atPath: reopened.path(put))
        XCTAssertThrowsError(try reopened.read(put, offset: 0, length: 10)) { XCTAssertTrue("\($0)".contains("no blob \(put)"), "\($0)") }
    }

    /// A manifest listing a file that was never uploaded fails its job before any task, naming
    /// the file (the coordinator checks the manifest on submit, the handler every file in it).
    func testAShippedFileThatWasNeverUploadedFailsTheJobByName() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let cluster = try InProcessCluster(directory: dir, workers: 0)
        defer { cluster.stop() }
        let client = cluster.client()
        let present = try client.upload(Array("an image".utf8))
        let absent = ContentHash.sha256(Array("never uploaded".utf8))
        let files = [DatasetSpec.ShippedFile(name: "a.jpg", hash: present, label: nil), DatasetSpec.ShippedFile(name: "b.jpg", hash: absent, label: nil)]
        let options = InferenceJobOptions(dataset: DatasetSpec(path: nil, labels: nil, manifest: try client.upload(ShippedManifest.encode(files)),
                                                               recipe: .efficientNetLite))
        let report = try client.wait(try client.submit(options.spec(modelHash: try client.upload(Array("a model".utf8)), modelName: "m")))
        XCTAssertEqual(report.state, "failed")
        XCTAssertTrue(report.error.contains("shipped file b.jpg (\(absent)) was not uploaded"), report.error)
        // A manifest that was not uploaded is refused on submit.
        var missing = options
        missing.dataset.manifest = absent
        XCTAssertThrowsError(try client.submit(missing.spec(modelHash: present, modelName: "m"))) {
            XCTAssertTrue("\($0)".contains("was not uploaded"), "\($0)")
        }
    }

    /// The shared images uploaded one round trip at a time (window 1) and 64 in flight: the
    /// same hashes; prints both times (docs/protocol.md).
    func testTheSharedImagesUploadWithAndWithoutPipelining() throws {
        try TestPaths.requireShared()
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.imageSample)
            .filter { [".jpeg", ".jpg", ".png"].contains(where: $0.lowercased().hasSuffix) }.sorted()
        let blobs = try names.map { name -> (name: String, bytes: [UInt8]) in
            guard let d = FileManager.default.contents(atPath: TestPaths.imageSample + "/" + name) else { throw WireError.transport("cannot read \(name)") }
            return (name, [UInt8](d))
        }
        var hashes: [[String]] = []
        for window in [1, 64] {
            let cluster = try InProcessCluster(directory: try TestPaths.temporaryDirectory(self).appendingPathComponent("w\(window)"), workers: 0)
            defer { cluster.stop() }
            let t0 = Date()
            hashes.append(try cluster.client().uploadMany(blobs, window: window))
            print(String(format: "upload of %d images, window %d: %.2f s", blobs.count, window, Date().timeIntervalSince(t0)))
        }
        XCTAssertEqual(hashes[0], hashes[1])
        XCTAssertEqual(hashes[0], blobs.map { ContentHash.sha256($0.bytes) })
    }
}
