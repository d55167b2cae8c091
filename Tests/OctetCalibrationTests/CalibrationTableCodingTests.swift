import Foundation
import OctetTestSupport
import XCTest

/// The calibration table's JSON: canonical, and a dead (all-zero) tensor's infinite SQNR is
/// written as null instead of failing the whole calibration.
final class CalibrationTableCodingTests: XCTestCase {
    func testInfiniteSQNRRoundTripsAsNull() throws {
        let dead = CalibrationTable.Entry(tensor: "dead", method: "kl", threshold: 0, params: .activation(threshold: 0, lowerBound: 0),
                                          observedMax: 0, nonNegative: true, binned: 0, zeros: 100, nonFinite: 0, estimatedSQNR: .infinity)
        let live = CalibrationTable.Entry(tensor: "live", method: "kl", threshold: 2, params: .activation(threshold: 2, lowerBound: nil),
                                          observedMax: 3, nonNegative: false, binned: 10, zeros: 0, nonFinite: 1, estimatedSQNR: 31.5)
        let table = CalibrationTable(entries: [live, dead])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(table)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains("\"estimatedSQNR\":null"))
        XCTAssertEqual(try JSONDecoder().decode(CalibrationTable.self, from: json), table)
    }
}
