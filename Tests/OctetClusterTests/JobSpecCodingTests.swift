import Foundation
import OctetCluster
import OctetJobs
import OctetPipeline
import OctetTestSupport
import XCTest

/// A job's options survive the encoding the coordinator stores and sends with every task (the
/// protobuf messages of octet_jobs.proto inside the spec): the cluster's spec round-trips
/// through the wire, each calibration option round-trips (an option turned off stays off), and
/// a job stored before a field existed gets its default.
final class JobSpecCodingTests: XCTestCase {
    func options(_ o: QuantConfig) -> CalibrationJobOptions {
        CalibrationJobOptions(dataset: DatasetSpec(path: "/data", labels: nil, manifest: nil, recipe: .efficientNetLite), calibration: o)
    }

    /// `o` as a coordinator receives it: built into a spec, sent, decoded.
    func received(_ o: CalibrationJobOptions) throws -> CalibrationJobOptions {
        let spec = o.spec(modelHash: String(repeating: "a", count: 64), modelName: "m")
        let wire = try Octet_Wire_JobSpec(serializedBytes: try spec.wire.serializedBytes() as [UInt8])
        XCTAssertEqual(JobSpec(wire: wire), spec)
        return try CalibrationJobOptions(JobSpec(wire: wire))
    }

    func testTheQuantConfigRoundTripsAndOlderJobsGetDefaults() throws {
        var off = QuantConfig()
        off.sensitivityMarginDB = nil
        off.overClipMarginDB = .infinity
        off.biasCorrection = false
        off.symmetricActivations = true
        off.sensitivitySamples = 32
        off.crossLayerEqualization = true
        off.highBiasAbsorption = true
        off.biasCorrectionCap = 2
        off.sensitivityBudget = nil
        var other = QuantConfig()
        other.method = .percentile(99.9)
        other.samples = 64
        other.quantize = QuantizeOptions(perChannelWeights: false, weightBits: 7, excludedNodes: ["conv_3", "head"], excludedOpTypes: ["Gemm"])
        other.reportSamples = 0
        other.weightRanges = .outputs
        other.weightRounding = .adaround
        other.adaRound.iterations = 50
        other.sensitivityBudget = 0.2
        other.accuracy = AccuracyBound(maxDrop: 0.5, metric: .top1, validationSamples: 20, confidence: 0.95)
        var sqnr = QuantConfig()
        sqnr.accuracy = AccuracyBound(maxDrop: 0)
        for o in [QuantConfig(), off, other, sqnr] {
            XCTAssertEqual(try received(options(o)).calibration, o)
        }
        var job = options(other)
        job.shardSize = 7
        job.verifySamples = 0
        job.isa = "avx2"
        XCTAssertEqual(try received(job), job)
        // The same options give the same bytes (the spec is compared and hashed as bytes).
        XCTAssertEqual(job.spec(modelHash: String(repeating: "a", count: 64), modelName: "m"),
                       job.spec(modelHash: String(repeating: "a", count: 64), modelName: "m"))

        // The options of a job written before the fields with non-zero defaults existed: today's
        // message without them reads as the defaults.
        var message = options(QuantConfig()).wire
        message.clearShardSize()
        message.clearVerifySamples()
        message.calibration.clearMethod()
        message.calibration.clearWeightBits()
        message.calibration.clearSensitivityMarginDb()
        message.calibration.clearOverClipMarginDb()
        message.calibration.clearBiasCorrection()
        message.calibration.clearAdaroundIterations()
        message.calibration.clearStatisticsSamples()
        message.calibration.clearReportSamples()
        XCTAssertEqual(try CalibrationJobOptions(wire: message), options(QuantConfig()))
        // Except the sensitivity budget: a job from before it existed had no limit, and keeps none.
        message.calibration.clearSensitivityBudget()
        var unlimited = QuantConfig()
        unlimited.sensitivityBudget = nil
        XCTAssertEqual(try CalibrationJobOptions(wire: message), options(unlimited))
    }

    /// A spec's options are read only as their own kind, and unreadable options say why.
    func testOptionsAreReadAsTheirOwnKindOnly() throws {
        let calibration = options(QuantConfig()).spec(modelHash: String(repeating: "a", count: 64), modelName: "m")
        XCTAssertThrowsError(try InferenceJobOptions(calibration)) { XCTAssertTrue("\($0)".contains("a 'calibrate' job is not a 'infer' job"), "\($0)") }
        var broken = calibration
        broken.options = Data("{".utf8)
        XCTAssertThrowsError(try CalibrationJobOptions(broken)) { XCTAssertTrue("\($0)".contains("cannot be read"), "\($0)") }
        // Options as an earlier Octet stored them (JSON) are named as such.
        broken.options = Data(#"{"calibration":{"method":"kl"},"shardSize":32}"#.utf8)
        XCTAssertThrowsError(try CalibrationJobOptions(broken)) {
            XCTAssertTrue("\($0)".contains("they are JSON, as an Octet before protocol version 5 wrote them"), "\($0)")
        }
        broken.options = calibration.options.prefix(calibration.options.count - 3)
        XCTAssertThrowsError(try CalibrationJobOptions(broken)) { XCTAssertTrue("\($0)".contains("cannot be read"), "\($0)") }
        // What no flag could build is refused when read, naming the field.
        func refused(_ change: (inout Octet_Jobs_CalibrationOptions) -> Void, _ cause: String) throws {
            var message = options(QuantConfig()).wire
            change(&message)
            var spec = calibration
            spec.options = try message.serializedData()
            XCTAssertThrowsError(try CalibrationJobOptions(spec)) { XCTAssertTrue("\($0)".contains(cause), "\($0)") }
        }
        try refused({ $0.calibration.method = "median" }, "not 'median'")
        try refused({ $0.calibration.weightRounding = .UNRECOGNIZED(7) }, "weight rounding 7")
        try refused({ $0.calibration.accuracy.metric = .UNRECOGNIZED(9) }, "accuracy metric 9")
        try refused({ $0.calibration.samples = UInt64.max }, "samples 18446744073709551615 exceeds")
        try refused({ $0.dataset.clearRecipe() }, "no preprocessing recipe")
        try refused({ $0.dataset.recipe.letterbox.padValue = 300 }, "pad value 300")
        try refused({ $0.dataset.recipe.mean = [0.5, 0.5] }, "needs 3 means, 3 non-zero finite stds")
        try refused({ $0.dataset.recipe.pixelDivisor = 0 }, "a positive finite pixelDivisor")
        try refused({ $0.dataset.recipe.crop = 0 }, "crop must be in 1...16384")
        try refused({ $0.dataset.recipe.resizeShorter = 1_000_000 }, "resizeShorter must be in 1...16384")
    }

    /// The recipe travels whole in a job spec, its decoding options included; shipped files
    /// travel as one manifest blob, the job's blob (the coordinator checks it on submit), so the
    /// options sent with every task stay the same small size for 10 files or 100,000.
    func testTheRecipeTravelsWithItsDecodingOptionsAndShippedFilesAsAManifest() throws {
        var recipe = PreprocessRecipe.efficientNetLite
        recipe.dctScaling = true
        let files = (0..<100_000).map { DatasetSpec.ShippedFile(name: "img\($0).jpg", hash: ContentHash.sha256(Array("\($0)".utf8)), label: $0 % 1000) }
        let manifest = ShippedManifest.encode(files)
        XCTAssertEqual(try ShippedManifest.decode(manifest), files)
        let options = InferenceJobOptions(dataset: DatasetSpec(path: nil, labels: nil, manifest: ContentHash.sha256(manifest), recipe: recipe))
        let spec = options.spec(modelHash: String(repeating: "a", count: 64), modelName: "m")
        XCTAssertEqual(try InferenceJobOptions(spec).dataset.recipe, recipe)
        XCTAssertTrue(try Octet_Jobs_InferenceOptions(serializedBytes: spec.options).dataset.recipe.dctScaling)
        XCTAssertEqual(spec.blobs, [ContentHash.sha256(manifest)])
        XCTAssertLessThan(spec.options.count, 1000)
        XCTAssertNil(spec.problem)
        // A task reads the manifest and its own files only.
        XCTAssertEqual(options.dataset.blobs(for: 5..<7, of: files), [ContentHash.sha256(manifest), files[5].hash, files[6].hash])
        // A manifest that is not one is refused with the cause.
        XCTAssertThrowsError(try ShippedManifest.decode(Array("[]".utf8))) { XCTAssertTrue("\($0)".contains("lists no file"), "\($0)") }
        XCTAssertThrowsError(try ShippedManifest.decode(Array(#"[{"name":"a.jpg","hash":"zz"}]"#.utf8))) {
            XCTAssertTrue("\($0)".contains("a.jpg has no valid hash"), "\($0)")
        }
    }

    /// A `weights` result is checked against its layers' shapes before anything is expanded: a
    /// layer outside the group, scales of the wrong count or not positive, a flag count that is
    /// not the weight count are refused; the right one round-trips.
    func testChosenWeightsAreCheckedAgainstTheirLayers() throws {
        let shapes = ["conv": ChosenWeightsPayload.Shape(weights: 20, channels: 4)]
        let up = (0..<20).map { $0 % 3 == 0 }
        let good = ChosenWeightsPayload.encode(scales: ["conv": [0.5, 0.25, 1, 2]], rounding: ["conv": up])
        let decoded = try ChosenWeightsPayload.decode(good, shapes: shapes)
        XCTAssertEqual(decoded.scales["conv"], [0.5, 0.25, 1, 2])
        XCTAssertEqual(decoded.rounding["conv"], up)
        let bad: [([UInt8], String)] = [
            (ChosenWeightsPayload.encode(scales: ["other": [1]], rounding: nil), "not in the task's group"),
            (ChosenWeightsPayload.encode(scales: ["conv": [1, 2]], rounding: nil), "not 4 positive finite"),
            (ChosenWeightsPayload.encode(scales: ["conv": [1, .nan, 1, 1]], rounding: nil), "not 4 positive finite"),
            (ChosenWeightsPayload.encode(scales: nil, rounding: ["conv": Array(repeating: true, count: 1 << 20)]), "its 20 flags"),
            (Array(#"{"conv":{"count":20,"up":"AAAAAAAAAAAAAAAAAAAA"}}"#.utf8), "its 20 flags"),
        ]
        for (bytes, cause) in bad {
            XCTAssertThrowsError(try ChosenWeightsPayload.decode(bytes, shapes: shapes)) { XCTAssertTrue("\($0)".contains(cause), "\($0)") }
        }
    }

    /// The default task size follows the model's input: 32 images of 224×224, fewer for larger
    /// inputs, at most 64, 4 when the size varies.
    func testTheDefaultBatchFollowsTheInputSize() {
        XCTAssertEqual(InferenceJobOptions.defaultBatch(inputCHW: [3, 224, 224]), 32)
        XCTAssertEqual(InferenceJobOptions.defaultBatch(inputCHW: [3, 640, 640]), 3)
        XCTAssertEqual(InferenceJobOptions.defaultBatch(inputCHW: [3, 48, 48]), 64)
        XCTAssertEqual(InferenceJobOptions.defaultBatch(inputCHW: [3, 4000, 4000]), 1)
        XCTAssertEqual(InferenceJobOptions.defaultBatch(inputCHW: nil), 4)
    }
}
