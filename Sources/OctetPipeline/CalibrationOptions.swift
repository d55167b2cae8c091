import OctetCalibration
import OctetIR
import OctetPasses
import OctetRuntime

/// The user-facing calibration settings (the flags of `octet calibrate`), as one Codable value
/// so that a distributed calibration job carries exactly what a local run uses.
public struct CalibrationOptions: Codable, Hashable, Sendable {
    /// kl, max, mse, percentile or percentile:P.
    public var method: String = "kl"
    public var samples: Int?
    /// Node names or op types kept in FP32.
    public var exclude: [String] = []
    public var perTensor = false
    /// 7 or 8; nil chooses from the kernel path.
    public var weightBits: Int?
    /// dB, or nil to disable the weight-sensitivity exclusion.
    public var sensitivityMarginDB: Double? = 5
    public var reportSamples = 8
    /// s8 activations with zero point 0 (`QuantConfig.symmetricActivations`).
    public var symmetricActivations = false
    /// Bias correction on or off (`QuantConfig.biasCorrection`).
    public var biasCorrection = true
    /// `QuantConfig.biasCorrectionCap`: nil applies every correction.
    public var biasCorrectionCap: Double? = QuantConfig().biasCorrectionCap
    /// Samples the weight-sensitivity analysis and bias correction measure on.
    public var statisticsSamples = QuantConfig().sensitivitySamples
    /// The over-clipping guard's margin in dB (`QuantConfig.overClipMarginDB`), nil for off.
    public var overClipMarginDB: Double? = QuantConfig().overClipMarginDB
    /// Cross-layer equalization before calibration (`QuantConfig.crossLayerEqualization`).
    public var equalize = false
    /// High-bias absorption before calibration (`QuantConfig.highBiasAbsorption`).
    public var absorbHighBias = false
    /// `QuantConfig.weightRanges`: "weights" or "outputs".
    public var weightRanges = QuantConfig().weightRanges.rawValue
    /// `QuantConfig.weightRounding`: "nearest" or "adaround".
    public var weightRounding = QuantConfig().weightRounding.rawValue
    /// `AdaRoundSettings.iterations`, with AdaRound.
    public var adaRoundIterations = QuantConfig().adaRound.iterations
    /// `--max-drop` points (`AccuracyBound`), nil for no accuracy-driven search.
    public var maxDrop: Double?
    /// top1, agreement or sqnr; nil chooses from the model.
    public var metric: String?
    /// Held-out calibration rows for the search; nil for a quarter.
    public var validationSamples: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case method, samples, exclude, perTensor, weightBits, sensitivityMarginDB, reportSamples, symmetricActivations
        case biasCorrection, statisticsSamples, overClipMarginDB, maxDrop, metric, validationSamples, equalize, biasCorrectionCap, absorbHighBias, weightRanges
        case weightRounding, adaRoundIterations
    }

    /// Fields a job stored by an earlier version lacks take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? method
        samples = try c.decodeIfPresent(Int.self, forKey: .samples)
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? exclude
        perTensor = try c.decodeIfPresent(Bool.self, forKey: .perTensor) ?? perTensor
        weightBits = try c.decodeIfPresent(Int.self, forKey: .weightBits)
        // Encoded only when set: absent means disabled ('off'), as the synthesized coding had it.
        sensitivityMarginDB = try c.decodeIfPresent(Double.self, forKey: .sensitivityMarginDB)
        reportSamples = try c.decodeIfPresent(Int.self, forKey: .reportSamples) ?? reportSamples
        symmetricActivations = try c.decodeIfPresent(Bool.self, forKey: .symmetricActivations) ?? symmetricActivations
        biasCorrection = try c.decodeIfPresent(Bool.self, forKey: .biasCorrection) ?? biasCorrection
        // Written as null when off; absent (a job of an earlier version) is the default.
        if c.contains(.biasCorrectionCap) { biasCorrectionCap = try c.decodeIfPresent(Double.self, forKey: .biasCorrectionCap) }
        statisticsSamples = try c.decodeIfPresent(Int.self, forKey: .statisticsSamples) ?? statisticsSamples
        // Written as null when off (`encode`); absent (a job of an earlier version) is the default.
        if c.contains(.overClipMarginDB) { overClipMarginDB = try c.decodeIfPresent(Double.self, forKey: .overClipMarginDB) }
        equalize = try c.decodeIfPresent(Bool.self, forKey: .equalize) ?? equalize
        absorbHighBias = try c.decodeIfPresent(Bool.self, forKey: .absorbHighBias) ?? absorbHighBias
        weightRanges = try c.decodeIfPresent(String.self, forKey: .weightRanges) ?? weightRanges
        weightRounding = try c.decodeIfPresent(String.self, forKey: .weightRounding) ?? weightRounding
        adaRoundIterations = try c.decodeIfPresent(Int.self, forKey: .adaRoundIterations) ?? adaRoundIterations
        maxDrop = try c.decodeIfPresent(Double.self, forKey: .maxDrop)
        metric = try c.decodeIfPresent(String.self, forKey: .metric)
        validationSamples = try c.decodeIfPresent(Int.self, forKey: .validationSamples)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encodeIfPresent(samples, forKey: .samples)
        try c.encode(exclude, forKey: .exclude)
        try c.encode(perTensor, forKey: .perTensor)
        try c.encodeIfPresent(weightBits, forKey: .weightBits)
        try c.encodeIfPresent(sensitivityMarginDB, forKey: .sensitivityMarginDB)
        try c.encode(reportSamples, forKey: .reportSamples)
        try c.encode(symmetricActivations, forKey: .symmetricActivations)
        try c.encode(biasCorrection, forKey: .biasCorrection)
        if let biasCorrectionCap { try c.encode(biasCorrectionCap, forKey: .biasCorrectionCap) } else { try c.encodeNil(forKey: .biasCorrectionCap) }
        try c.encode(statisticsSamples, forKey: .statisticsSamples)
        if let overClipMarginDB { try c.encode(overClipMarginDB, forKey: .overClipMarginDB) } else { try c.encodeNil(forKey: .overClipMarginDB) }
        try c.encode(equalize, forKey: .equalize)
        try c.encode(absorbHighBias, forKey: .absorbHighBias)
        try c.encode(weightRanges, forKey: .weightRanges)
        try c.encode(weightRounding, forKey: .weightRounding)
        try c.encode(adaRoundIterations, forKey: .adaRoundIterations)
        try c.encodeIfPresent(maxDrop, forKey: .maxDrop)
        try c.encodeIfPresent(metric, forKey: .metric)
        try c.encodeIfPresent(validationSamples, forKey: .validationSamples)
    }

    /// Why these options cannot be used, or nil (named by the `octet calibrate` flag).
    public var problem: String? {
        if CalibrationMethod.parse(method) == nil { return "--method must be kl, max, mse, percentile or percentile:P, not '\(method)'" }
        if let weightBits, weightBits != 7 && weightBits != 8 { return "--weight-bits must be 7 or 8" }
        if let samples, samples < 1 { return "--samples must be at least 1" }
        if reportSamples < 0 { return "--report-samples must not be negative" }
        if statisticsSamples < 1 { return "--statistics-samples must be at least 1" }
        if WeightRangeSearch(rawValue: weightRanges) == nil { return "--weight-ranges must be weights or outputs, not '\(weightRanges)'" }
        if WeightRounding(rawValue: weightRounding) == nil { return "--weight-rounding must be nearest or adaround, not '\(weightRounding)'" }
        if adaRoundIterations < 1 { return "--adaround-iterations must be at least 1" }
        if let cap = biasCorrectionCap, !(cap > 0 && cap.isFinite) { return "--bias-correction-cap must be a positive number or 'off'" }
        if let m = overClipMarginDB, !(m >= 0 && m.isFinite) { return "--over-clip-margin must be a non-negative number of dB or 'off'" }
        if let d = maxDrop, !(d >= 0 && d <= 100) { return "--max-drop must be a number of points in [0, 100]" }
        if let metric, AccuracyMetric(rawValue: metric) == nil { return "--metric must be top1, agreement or sqnr, not '\(metric)'" }
        if let v = validationSamples, v < 1 { return "--validation-samples must be at least 1" }
        if maxDrop == nil, metric != nil || validationSamples != nil { return "--metric and --validation-samples go with --max-drop" }
        return nil
    }

    /// The full configuration for FP32 passes on `plan`'s kernel path and threads.
    public func quantConfig(plan: PlanOptions) throws -> QuantConfig {
        if let problem { throw PipelineError.badOption(problem) }
        var c = QuantConfig()
        c.method = CalibrationMethod.parse(method) ?? .kl
        c.samples = samples
        c.sensitivityMarginDB = sensitivityMarginDB
        c.symmetricActivations = symmetricActivations
        c.biasCorrection = biasCorrection
        c.biasCorrectionCap = biasCorrectionCap
        c.crossLayerEqualization = equalize
        c.highBiasAbsorption = absorbHighBias
        c.weightRanges = WeightRangeSearch(rawValue: weightRanges) ?? .weights
        c.weightRounding = WeightRounding(rawValue: weightRounding) ?? .nearest
        c.adaRound.iterations = adaRoundIterations
        c.sensitivitySamples = statisticsSamples
        c.overClipMarginDB = overClipMarginDB ?? .infinity
        c.accuracy = maxDrop.map { AccuracyBound(maxDrop: $0, metric: metric.flatMap(AccuracyMetric.init), validationSamples: validationSamples) }
        c.plan = plan
        let opTypes = Set(Op.supportedONNXTypes)
        c.quantize = QuantizeOptions(perChannelWeights: !perTensor, weightBits: weightBits ?? QuantConfig.defaultWeightBits,
                                     excludedNodes: Set(exclude.filter { !opTypes.contains($0) }),
                                     excludedOpTypes: Set(exclude.filter { opTypes.contains($0) }))
        return c
    }
}
