import OctetPipeline
import XCTest

/// The weight-sensitivity rule's budget (`sensitiveLayers`, `QuantConfig.sensitivityBudget`): the
/// layers it keeps in FP32 cost at most that share of the convolutions' multiply-adds, worst
/// first, a layer that does not fit left quantized and the next one tried; the user's own
/// exclusions spend nothing. (`SensitivityBudgetCLITests` drives it through `octet calibrate`.)
final class SensitivityBudgetTests: XCTestCase {
    /// Twenty layers at 40 dB (median 40) but two: `big` at 30 dB and `small` at 31 dB.
    let sensitivity: [String: Double] = {
        var s = Dictionary(uniqueKeysWithValues: (0..<18).map { ("layer\($0)", 40.0) })
        s["big"] = 30
        s["small"] = 31
        return s
    }()
    /// `big` is 20% of the multiply-adds, `small` 2%, the others 78% between them.
    var multiplyAdds: [String: Int] {
        var m = Dictionary(uniqueKeysWithValues: (0..<18).map { ("layer\($0)", $0 < 2 ? 3_000 : 4_500) })
        m["big"] = 20_000
        m["small"] = 2_000
        return m
    }

    func testWithoutABudgetEverySensitiveLayerStaysFP32() {
        XCTAssertEqual(sensitiveLayers(sensitivity, margin: 5), SensitivityExclusion(kept: ["big", "small"]))
    }

    func testALayerOverTheBudgetIsQuantizedAndTheNextOneStillFits() {
        XCTAssertEqual(multiplyAdds.values.reduce(0, +), 100_000)
        let rule = sensitiveLayers(sensitivity, margin: 5, multiplyAdds: multiplyAdds, budget: 0.05)
        XCTAssertEqual(rule, SensitivityExclusion(kept: ["small"], overBudget: ["big"]))
        // Both fit a budget of their sum; neither fits one below the smaller.
        XCTAssertEqual(sensitiveLayers(sensitivity, margin: 5, multiplyAdds: multiplyAdds, budget: 0.22).kept, ["big", "small"])
        XCTAssertEqual(sensitiveLayers(sensitivity, margin: 5, multiplyAdds: multiplyAdds, budget: 0.01),
                       SensitivityExclusion(kept: [], overBudget: ["big", "small"]))
    }

    func testTheUsersExclusionsAreNeitherChosenNorCharged() {
        // `big` excluded by the user: not in either list, and `small` fits as before.
        XCTAssertEqual(sensitiveLayers(sensitivity, margin: 5, multiplyAdds: multiplyAdds, budget: 0.05, excluded: ["big"]),
                       SensitivityExclusion(kept: ["small"]))
    }

    func testUnknownCostsKeepNothingUnderABudget() {
        // No multiply-adds measured (no convolution ran): nothing can be shown to fit.
        XCTAssertEqual(sensitiveLayers(sensitivity, margin: 5, multiplyAdds: [:], budget: 0.05).kept, [])
    }

    func testABudgetOutsideZeroToOneIsRefusedNamingTheFlag() {
        var config = QuantConfig()
        config.sensitivityBudget = 1.5
        XCTAssertEqual(config.problem, "--sensitivity-budget must be a percentage in [0, 100] or 'off'")
        config.sensitivityBudget = .nan
        XCTAssertNotNil(config.problem)
        config.sensitivityBudget = nil
        XCTAssertNil(config.problem)
    }
}
