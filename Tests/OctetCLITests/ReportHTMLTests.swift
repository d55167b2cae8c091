import Foundation
import OctetTestSupport
import XCTest

/// `octet calibrate` writes `report.html`: one self-contained page (no external reference) with
/// the report's tables, its histogram plots inlined and the measured SQNR through the network;
/// headless Chromium renders it (its DOM has every tensor and the plots) and screenshots it into
/// the test's folder. Skipped with the reason where Chromium is not installed.
final class ReportHTMLTests: XCTestCase {
    func testTheHTMLReportIsSelfContainedAndRendersInChromium() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, npy) = try SmallModels.convPoolModel(in: dir, seed: 15)
        let out = dir.appendingPathComponent("cal").path
        let cal = try runProduct("octet", ["calibrate", model, "--data", npy, "--out", out, "--report-samples", "2", "--json"])
        XCTAssertEqual(cal.status, 0, cal.stderr)
        let paths = try XCTUnwrap(cal.json?["paths"] as? [String: String], cal.stdout)
        let page = try XCTUnwrap(paths["html"])
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let table = try JSONDecoder().decode(CalibrationTable.self, from: Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(paths["table"]))))
        for word in ["src=", "href=", "http:", "https:", "@import", "url("] {
            XCTAssertFalse(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains(word), "external reference '\(word)'")
        }
        XCTAssertTrue(html.contains("Measured SQNR through the network"))
        for e in table.entries { XCTAssertTrue(html.contains(e.tensor), e.tensor) }

        guard let chromium = Chromium.find() else {
            throw XCTSkip("headless Chromium is not installed (.ci/run installs Debian's chromium): the page was checked as text only")
        }
        // file:// only; every host name fails to resolve, so nothing leaves the machine.
        let flags = Chromium.flags(profile: dir.appendingPathComponent("chromium-profile"))
        let dom = try Chromium.run(chromium, flags + ["--dump-dom", "file://" + page])
        XCTAssertTrue(dom.contains("<table>"), String(dom.prefix(500)))
        for e in table.entries { XCTAssertTrue(dom.contains(e.tensor), "\(e.tensor) missing from the rendered page") }
        XCTAssertGreaterThanOrEqual(dom.components(separatedBy: "<svg").count - 1, 2, "the histogram plots and the SQNR plot")
        let png = dir.appendingPathComponent("report.png").path
        _ = try Chromium.run(chromium, flags + ["--window-size=1200,2400", "--screenshot=" + png, "file://" + page])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG screenshot")
        XCTAssertGreaterThan(bytes.count, 10_000)
    }
}
