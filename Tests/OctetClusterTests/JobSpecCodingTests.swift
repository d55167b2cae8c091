import Foundation
import OctetCluster
import OctetPipeline
import OctetTestSupport
import XCTest

/// A job's calibration options survive the JSON the coordinator stores and sends with every task:
/// each option round-trips (an option turned off stays off), and a job stored by an earlier
/// version, without the newer keys, gets their defaults.
final class JobSpecCodingTests: XCTestCase {
    func spec(_ o: CalibrationOptions) -> JobSpec {
        var s = JobSpec(kind: .calibrate, modelHash: String(repeating: "a", count: 64), modelName: "m",
                        dataset: DatasetSpec(path: "/data", labels: nil, files: nil, recipe: .efficientNetLite))
        s.calibration = o
        return s
    }

    func testCalibrationOptionsRoundTripAndOlderJobsGetDefaults() throws {
        var off = CalibrationOptions()
        off.sensitivityMarginDB = nil
        off.overClipMarginDB = nil
        off.biasCorrection = false
        off.symmetricActivations = true
        off.statisticsSamples = 32
        off.equalize = true
        off.absorbHighBias = true
        off.biasCorrectionCap = 2
        for o in [CalibrationOptions(), off] {
            XCTAssertEqual(try JobSpec.parse(spec(o).json()).calibration, o)
        }
        // The options of a job written before these keys existed: today's JSON without them.
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(spec(CalibrationOptions()).json().utf8)) as? [String: Any])
        var calibration = try XCTUnwrap(json["calibration"] as? [String: Any])
        for key in ["symmetricActivations", "biasCorrection", "statisticsSamples", "overClipMarginDB", "equalize", "absorbHighBias", "biasCorrectionCap"] {
            XCTAssertNotNil(calibration.removeValue(forKey: key), key)
        }
        json["calibration"] = calibration
        let older = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        let parsed = try XCTUnwrap(try JobSpec.parse(older).calibration)
        XCTAssertEqual(parsed, CalibrationOptions())
    }

    /// The recipe travels whole in a job spec, its decoding options included.
    func testTheRecipeTravelsWithItsDecodingOptions() throws {
        var recipe = PreprocessRecipe.efficientNetLite
        recipe.dctScaling = true
        let spec = JobSpec(kind: .infer, modelHash: String(repeating: "a", count: 64), modelName: "m",
                           dataset: DatasetSpec(path: "/data", labels: nil, files: nil, recipe: recipe))
        XCTAssertEqual(try JobSpec.parse(spec.json()).dataset.recipe, recipe)
        XCTAssertTrue(spec.json().contains("\"dctScaling\":true"))
    }

    /// The default task size follows the model's input: 32 images of 224×224, fewer for larger
    /// inputs, at most 64, 4 when the size varies.
    func testTheDefaultBatchFollowsTheInputSize() {
        XCTAssertEqual(JobSpec.defaultBatch(inputCHW: [3, 224, 224]), 32)
        XCTAssertEqual(JobSpec.defaultBatch(inputCHW: [3, 640, 640]), 3)
        XCTAssertEqual(JobSpec.defaultBatch(inputCHW: [3, 48, 48]), 64)
        XCTAssertEqual(JobSpec.defaultBatch(inputCHW: [3, 4000, 4000]), 1)
        XCTAssertEqual(JobSpec.defaultBatch(inputCHW: nil), 4)
    }
}
