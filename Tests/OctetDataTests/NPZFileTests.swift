import Foundation
import OctetTestSupport
import XCTest

/// `.npz` archives: what `NPZWriter` (and `numpy.savez`) writes reads back exactly; a corrupt,
/// truncated or compressed archive is a clear error, never a trap.
final class NPZFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try TestPaths.temporaryDirectory(self) }

    func write(_ arrays: [(String, [Int], Int, [Float])]) throws -> String {
        let path = dir.appendingPathComponent("a.npz").path
        let w = try NPZWriter(path: path)
        for (name, rowDims, rows, values) in arrays { try w.append(name, rowDims: rowDims, rows: rows, values: values) }
        try w.finish()
        return path
    }

    func testRoundTripAndDataset() throws {
        var r = TestRandom(seed: 1)
        let x = r.floats(5 * 6), y = r.floats(5 * 2 * 3 * 4)
        let path = try write([("x", [6], 5, x), ("image", [2, 3, 4], 5, y)])
        let arrays = try NPZFile.read(path: path)
        XCTAssertEqual(arrays.map(\.name), ["x", "image"])
        XCTAssertEqual(arrays.map(\.shape), [[5, 6], [5, 2, 3, 4]])
        XCTAssertEqual(arrays[0].values, x)
        XCTAssertEqual(arrays[1].values, y)
        let data = try NPZDataset(path: path, limit: 4)
        XCTAssertEqual(data.count, 4)
        let s = try data.loadInputs(3)
        XCTAssertEqual(s["x"]?.dims, [6])
        XCTAssertEqual(s["x"]?.values, Array(x[18..<24]))
        XCTAssertEqual(s["image"]?.dims, [2, 3, 4])
        XCTAssertEqual(s["image"]?.values, Array(y[72..<96]))
        XCTAssertThrowsError(try data.load(0)) { XCTAssertTrue("\($0)".contains("2 arrays"), "\($0)") }
    }

    func testBadArchivesAreClearErrors() throws {
        let path = try write([("x", [3], 2, [1, 2, 3, 4, 5, 6]), ("y", [1], 3, [1, 2, 3])])
        XCTAssertThrowsError(try NPZDataset(path: path)) { XCTAssertTrue("\($0)".contains("samples"), "\($0)") }
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        // Every truncation: an error, never a crash.
        for n in stride(from: 0, to: good.count, by: 7) {
            XCTAssertThrowsError(try NPZFile.parse(good.prefix(n), path: "t.npz"), "\(n) bytes")
        }
        // A deflated entry (numpy.savez_compressed): named, with the way out.
        var bytes = [UInt8](good)
        let end = bytes.count - 22   // no archive comment: the end record is the last 22 bytes
        let directory = (16..<20).reduce(0) { $0 | Int(bytes[end + $1]) << (8 * ($1 - 16)) }
        bytes[directory + 10] = 8   // the first entry's compression method
        XCTAssertThrowsError(try NPZFile.parse(Data(bytes), path: "c.npz")) { XCTAssertTrue("\($0)".contains("savez_compressed"), "\($0)") }
        XCTAssertThrowsError(try NPZFile.parse(Data("not a zip at all, just text".utf8), path: "t.npz")) {
            XCTAssertTrue("\($0)".contains("not a ZIP"), "\($0)")
        }
    }
}
