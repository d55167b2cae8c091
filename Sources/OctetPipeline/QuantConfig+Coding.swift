import OctetCalibration
import OctetIR
import OctetPasses

/// A calibration's configuration as a job carries it: flat JSON keys named after the
/// `octet calibrate` flags' meaning. A key an earlier version did not write takes its default,
/// so stored jobs read back; `plan` and `batch` are the running machine's and not encoded.
extension QuantConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case method, samples, exclude, perTensor, weightBits, sensitivityMarginDB, reportSamples, symmetricActivations
        case biasCorrection, statisticsSamples, overClipMarginDB, maxDrop, metric, validationSamples, equalize, biasCorrectionCap, absorbHighBias
        case weightRanges, weightRounding, adaRoundIterations
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .method) {
            guard let m = CalibrationMethod.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: .method, in: c, debugDescription: "method must be kl, max, mse, percentile or percentile:P, not '\(text)'")
            }
            method = m
        }
        samples = try c.decodeIfPresent(Int.self, forKey: .samples)
        let exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
        let opTypes = Set(Op.supportedONNXTypes)
        quantize = QuantizeOptions(perChannelWeights: !(try c.decodeIfPresent(Bool.self, forKey: .perTensor) ?? false),
                                   weightBits: try c.decodeIfPresent(Int.self, forKey: .weightBits) ?? QuantConfig.defaultWeightBits,
                                   excludedNodes: Set(exclude.filter { !opTypes.contains($0) }),
                                   excludedOpTypes: Set(exclude.filter { opTypes.contains($0) }))
        // Written only when set: absent means off.
        sensitivityMarginDB = try c.decodeIfPresent(Double.self, forKey: .sensitivityMarginDB)
        reportSamples = try c.decodeIfPresent(Int.self, forKey: .reportSamples) ?? reportSamples
        symmetricActivations = try c.decodeIfPresent(Bool.self, forKey: .symmetricActivations) ?? symmetricActivations
        biasCorrection = try c.decodeIfPresent(Bool.self, forKey: .biasCorrection) ?? biasCorrection
        // Written as null when off; absent (a job of an earlier version) is the default.
        if c.contains(.biasCorrectionCap) { biasCorrectionCap = try c.decodeIfPresent(Double.self, forKey: .biasCorrectionCap) }
        sensitivitySamples = try c.decodeIfPresent(Int.self, forKey: .statisticsSamples) ?? sensitivitySamples
        if c.contains(.overClipMarginDB) { overClipMarginDB = try c.decodeIfPresent(Double.self, forKey: .overClipMarginDB) ?? .infinity }
        crossLayerEqualization = try c.decodeIfPresent(Bool.self, forKey: .equalize) ?? crossLayerEqualization
        highBiasAbsorption = try c.decodeIfPresent(Bool.self, forKey: .absorbHighBias) ?? highBiasAbsorption
        weightRanges = try c.decodeIfPresent(WeightRangeSearch.self, forKey: .weightRanges) ?? weightRanges
        weightRounding = try c.decodeIfPresent(WeightRounding.self, forKey: .weightRounding) ?? weightRounding
        adaRound.iterations = try c.decodeIfPresent(Int.self, forKey: .adaRoundIterations) ?? adaRound.iterations
        if let maxDrop = try c.decodeIfPresent(Double.self, forKey: .maxDrop) {
            accuracy = AccuracyBound(maxDrop: maxDrop, metric: try c.decodeIfPresent(AccuracyMetric.self, forKey: .metric),
                                     validationSamples: try c.decodeIfPresent(Int.self, forKey: .validationSamples))
        } else if c.contains(.metric) || c.contains(.validationSamples) {
            throw DecodingError.dataCorruptedError(forKey: .maxDrop, in: c, debugDescription: "metric and validation samples go with max drop")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch method {
        case .percentile(let p): try c.encode("percentile:\(p)", forKey: .method)
        default: try c.encode(method.description, forKey: .method)
        }
        try c.encodeIfPresent(samples, forKey: .samples)
        try c.encode((quantize.excludedNodes.sorted() + quantize.excludedOpTypes.sorted()), forKey: .exclude)
        try c.encode(!quantize.perChannelWeights, forKey: .perTensor)
        try c.encode(quantize.weightBits, forKey: .weightBits)
        try c.encodeIfPresent(sensitivityMarginDB, forKey: .sensitivityMarginDB)
        try c.encode(reportSamples, forKey: .reportSamples)
        try c.encode(symmetricActivations, forKey: .symmetricActivations)
        try c.encode(biasCorrection, forKey: .biasCorrection)
        if let biasCorrectionCap { try c.encode(biasCorrectionCap, forKey: .biasCorrectionCap) } else { try c.encodeNil(forKey: .biasCorrectionCap) }
        try c.encode(sensitivitySamples, forKey: .statisticsSamples)
        if overClipMarginDB.isFinite { try c.encode(overClipMarginDB, forKey: .overClipMarginDB) } else { try c.encodeNil(forKey: .overClipMarginDB) }
        try c.encode(crossLayerEqualization, forKey: .equalize)
        try c.encode(highBiasAbsorption, forKey: .absorbHighBias)
        try c.encode(weightRanges, forKey: .weightRanges)
        try c.encode(weightRounding, forKey: .weightRounding)
        try c.encode(adaRound.iterations, forKey: .adaRoundIterations)
        if let accuracy {
            try c.encode(accuracy.maxDrop, forKey: .maxDrop)
            try c.encodeIfPresent(accuracy.metric, forKey: .metric)
            try c.encodeIfPresent(accuracy.validationSamples, forKey: .validationSamples)
        }
    }
}
