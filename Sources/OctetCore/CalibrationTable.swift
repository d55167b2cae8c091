/// The outcome of calibration: for each quantized tensor, how its threshold was chosen and the
/// resulting quantization parameters. Produced by calibration, consumed by the quantize pass.
public struct CalibrationTable: Hashable, Sendable, Codable {
    public struct Entry: Hashable, Sendable, Codable {
        public var tensor: String
        /// The method that chose the threshold (e.g. "kl", or "mse (kl over-clipped)").
        public var method: String
        public var threshold: Double
        public var params: QuantParams
        public var observedMax: Float
        public var nonNegative: Bool
        /// Values seen: binned, zeros, and NaN/Inf (which are counted, never binned).
        public var binned: Int64
        public var zeros: Int64
        public var nonFinite: Int64
        /// Histogram-estimated SQNR (dB) at the chosen threshold; +∞ when there is no error at all
        /// (an all-zero tensor), written as JSON null.
        public var estimatedSQNR: Double
        /// The negative low end of the tensor's grid: the least value the graph proves it takes
        /// (`LowerBounds.analyze`: a HardSwish's output, −0.375) or the floor below which its
        /// readers do not look (`LowerBounds.readerFloors`: a HardSwish's input, −3), the higher
        /// of the two; nil for non-negative (or 0-floored) and unbounded tensors.
        public var lowerBound: Double?

        public init(tensor: String, method: String, threshold: Double, params: QuantParams, observedMax: Float,
                    nonNegative: Bool, binned: Int64, zeros: Int64, nonFinite: Int64, estimatedSQNR: Double, lowerBound: Double? = nil) {
            self.tensor = tensor; self.method = method; self.threshold = threshold; self.params = params
            self.observedMax = observedMax; self.nonNegative = nonNegative; self.binned = binned
            self.zeros = zeros; self.nonFinite = nonFinite; self.estimatedSQNR = estimatedSQNR; self.lowerBound = lowerBound
        }

        enum CodingKeys: String, CodingKey {
            case tensor, method, threshold, params, observedMax, nonNegative, binned, zeros, nonFinite, estimatedSQNR, lowerBound
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(tensor: try c.decode(String.self, forKey: .tensor), method: try c.decode(String.self, forKey: .method),
                      threshold: try c.decode(Double.self, forKey: .threshold), params: try c.decode(QuantParams.self, forKey: .params),
                      observedMax: try c.decode(Float.self, forKey: .observedMax), nonNegative: try c.decode(Bool.self, forKey: .nonNegative),
                      binned: try c.decode(Int64.self, forKey: .binned), zeros: try c.decode(Int64.self, forKey: .zeros),
                      nonFinite: try c.decode(Int64.self, forKey: .nonFinite),
                      estimatedSQNR: try c.decodeIfPresent(Double.self, forKey: .estimatedSQNR) ?? .infinity,
                      lowerBound: try c.decodeIfPresent(Double.self, forKey: .lowerBound))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tensor, forKey: .tensor)
            try c.encode(method, forKey: .method)
            try c.encode(threshold, forKey: .threshold)
            try c.encode(params, forKey: .params)
            try c.encode(observedMax, forKey: .observedMax)
            try c.encode(nonNegative, forKey: .nonNegative)
            try c.encode(binned, forKey: .binned)
            try c.encode(zeros, forKey: .zeros)
            try c.encode(nonFinite, forKey: .nonFinite)
            if estimatedSQNR.isFinite { try c.encode(estimatedSQNR, forKey: .estimatedSQNR) } else { try c.encodeNil(forKey: .estimatedSQNR) }
            try c.encodeIfPresent(lowerBound, forKey: .lowerBound)
        }
    }

    /// Entries sorted by tensor name (so the table's encoding is canonical).
    public private(set) var entries: [Entry]
    /// What the table was made for and with; nil in a table written before Octet recorded it.
    public var provenance: CalibrationProvenance?

    public init(entries: [Entry], provenance: CalibrationProvenance? = nil) {
        self.entries = entries.sorted { $0.tensor < $1.tensor }
        self.provenance = provenance
    }

    public subscript(_ tensor: String) -> Entry? { entries.first { $0.tensor == tensor } }
}

/// Where a calibration table came from and everything besides the thresholds that made its INT8
/// model, so that `octet quantize` rebuilds that model from the table alone, byte for byte, and
/// refuses a table made for another model, another preprocessing or another table format.
public struct CalibrationProvenance: Hashable, Sendable, Codable {
    /// The writer and table format; a table of another format is refused.
    public var producer: String
    /// SHA-256 (hex) of the FP32 model file calibrated.
    public var modelSHA256: String
    /// SHA-256 of the preprocessing recipe's canonical JSON; nil for preprocessed tensors (.npy/.npz).
    public var preprocessingSHA256: String?
    /// Nodes and op types kept in FP32: the user's, the weight-sensitive layers and those the
    /// accuracy-driven search returned.
    public var excludedNodes: [String]
    public var excludedOpTypes: [String]
    public var perChannelWeights: Bool
    public var weightBits: Int
    /// Per convolution, the bias correction added to its bias (one value per output channel).
    public var biasCorrections: [String: [Float]]
    /// Cross-layer equalization before calibration: nil when off, else the ReLU6 nodes it turned
    /// into Relu (those whose input never reached the bound on the calibration samples).
    public var equalizedClips: [String]?
    /// High-bias absorption before calibration: nil when off, else per convolution the amount
    /// moved out of its bias into the next layer's (one value per output channel).
    public var absorbedBiases: [String: [Float]]?
    /// Weight ranges chosen on the layers' outputs: nil with the default ranges, else per
    /// convolution its weight scales (one per output channel, or one per tensor).
    public var weightScales: [String: [Float]]?
    /// AdaRound: nil with nearest rounding, else per convolution its weights' rounding directions
    /// (`RoundingFlags`: one bit per weight in OIHW order, 1 where the code is floor(w/scale) + 1).
    public var roundedUp: [String: String]?

    /// The `producer` this version writes and accepts.
    public static let currentProducer = "octet calibration table 1"

    public init(modelSHA256: String, preprocessingSHA256: String?, excludedNodes: [String], excludedOpTypes: [String],
                perChannelWeights: Bool, weightBits: Int, biasCorrections: [String: [Float]], equalizedClips: [String]?,
                absorbedBiases: [String: [Float]]? = nil, weightScales: [String: [Float]]? = nil, roundedUp: [String: String]? = nil) {
        producer = Self.currentProducer
        self.modelSHA256 = modelSHA256
        self.preprocessingSHA256 = preprocessingSHA256
        self.excludedNodes = excludedNodes.sorted()
        self.excludedOpTypes = excludedOpTypes.sorted()
        self.perChannelWeights = perChannelWeights
        self.weightBits = weightBits
        self.biasCorrections = biasCorrections
        self.equalizedClips = equalizedClips
        self.absorbedBiases = absorbedBiases
        self.weightScales = weightScales
        self.roundedUp = roundedUp
    }
}
