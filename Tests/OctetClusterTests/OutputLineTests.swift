import Foundation
import OctetJobs
import OctetTestSupport
import XCTest

/// `UnreadableLine.count(inFile:)` counts exactly the lines that begin with `{"error":`, in a
/// file larger than its 1 MB read chunk, with one such line straddling the chunk boundary.
final class OutputLineTests: XCTestCase {
    func testUnreadableLinesAreCountedAcrossReadChunks() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let prediction = #"{"classes":[1,2,3,4,5],"file":"{\"error\":x.jpg","index":0,"scores":[0.5,0.2,0.1,0.1,0.1],"top1":1}"#
        let unreadable = #"{"error":"cannot decode image x.jpg: Premature end of JPEG file","file":"x.jpg","index":1}"#
        var text = "", expected = 0
        func line(_ i: Int) {
            if i % 7 == 3 { text += unreadable + "\n"; expected += 1 } else { text += prediction + "\n" }
        }
        var i = 0
        while text.utf8.count < (1 << 20) - 400 { line(i); i += 1 }
        // A filler line so that the next line begins 4 bytes before the first 1 MB chunk ends: its
        // `{"error":` straddles the chunks.
        text += String(repeating: "x", count: (1 << 20) - 4 - text.utf8.count - 1) + "\n"
        text += unreadable + "\n"
        expected += 1
        text += "{\"err\n"  // a line that begins like one and is not
        while text.utf8.count < 2 << 20 { line(i); i += 1 }
        text += unreadable  // the last line without a newline
        expected += 1
        let path = dir.appendingPathComponent("out.jsonl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try UnreadableLine.count(inFile: path), expected)
    }
}
