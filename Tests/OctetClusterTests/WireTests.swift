import Foundation
import OctetCalibration
import OctetCluster
import OctetTestSupport
import SwiftProtobuf
import XCTest

/// The wire format's guards: versions, sizes, malformed bytes, compression bounds, histogram payloads.
final class WireTests: XCTestCase {
    func testEnvelopeRoundTripAndVersionCheck() throws {
        var h = Octet_Wire_Heartbeat()
        h.workerID = "w1"
        let bytes = WireProtocol.encode(.heartbeat(h), requestID: 7)
        let e = try WireProtocol.decode(bytes)
        XCTAssertEqual(e.requestID, 7)
        XCTAssertEqual(e.heartbeat.workerID, "w1")

        var other = e
        other.version = WireProtocol.version + 1
        XCTAssertThrowsError(try WireProtocol.decode(try other.serializedBytes())) { error in
            XCTAssertEqual(error as? WireError, .wrongVersion(WireProtocol.version + 1))
            XCTAssertTrue("\(error)".contains("version \(WireProtocol.version + 1) is not supported"))
        }
        XCTAssertThrowsError(try WireProtocol.decode(bytes, maxBytes: bytes.count - 1)) { error in
            guard case .tooLarge = error as? WireError else { return XCTFail("\(error)") }
        }
        var empty = Octet_Wire_Envelope()
        empty.version = WireProtocol.version
        XCTAssertThrowsError(try WireProtocol.decode(try empty.serializedBytes())) { error in
            guard case .malformed = error as? WireError else { return XCTFail("\(error)") }
        }
    }

    func testRandomAndTruncatedBytesNeverCrashTheDecoder() throws {
        var rng = TestSeed.generator()
        var spec = Octet_Wire_SubmitJob()
        spec.spec.kind = "calibrate"
        spec.spec.options = Data(String(repeating: "x", count: 300).utf8)
        let valid = WireProtocol.encode(.submit(spec), requestID: 3)
        var accepted = 0
        for i in 0..<5000 {
            let bytes: [UInt8] = i % 2 == 0
                ? (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                : Array(valid.prefix(Int.random(in: 0..<valid.count, using: &rng)))
            if (try? WireProtocol.decode(bytes)) != nil { accepted += 1 }
        }
        // Only prefixes that happen to end on a field boundary with a body can decode.
        XCTAssertLessThan(accepted, 100)
    }

    func testCompressionRoundTripAndBounds() throws {
        var raw = [UInt8](repeating: 0, count: 100_003)
        for i in stride(from: 0, to: raw.count, by: 8) { raw[i] = UInt8(i % 251) }
        let c = Compression.pack(raw)
        XCTAssertLessThan(c.lz4.count, raw.count / 10)
        XCTAssertEqual(try Compression.unpack(c), raw)

        var bomb = c
        bomb.rawSize = UInt64(WireProtocol.maxDecompressedBytes) + 1
        XCTAssertThrowsError(try Compression.unpack(bomb)) { XCTAssertTrue("\($0)".contains("over the")) }
        var lying = c
        lying.rawSize = c.rawSize - 1
        XCTAssertThrowsError(try Compression.unpack(lying))
        var corrupt = c
        corrupt.lz4 = Data(c.lz4.prefix(c.lz4.count / 2))
        XCTAssertThrowsError(try Compression.unpack(corrupt))
        var badElement = c
        badElement.elementSize = 0
        XCTAssertThrowsError(try Compression.unpack(badElement))
    }

    func testHistogramSetRoundTripIsExact() throws {
        var a = AbsHistogram(), b = AbsHistogram()
        a.add([0, 1.5, -3, .nan, 1e-3, 7], isa: .scalar)
        b.add([0.25, 0.5], isa: .scalar)
        let set = ["conv1": a, "relu/out": b, "never": AbsHistogram()]
        let bytes = HistogramSet.encode(set)
        XCTAssertEqual(try HistogramSet.decode(bytes), set)
        XCTAssertEqual(try HistogramSet.decode(try Compression.unpack(Compression.pack(bytes))), set)
        XCTAssertThrowsError(try HistogramSet.decode(Array(bytes.dropLast(8))))
        var negative = bytes
        negative[negative.count - 1] = 0xFF  // last bin's count becomes negative
        XCTAssertThrowsError(try HistogramSet.decode(negative))
        XCTAssertThrowsError(try HistogramSet.decode(Array("nope".utf8)))
    }
}
