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
        /// Histogram-estimated SQNR (dB) at the chosen threshold.
        public var estimatedSQNR: Double

        public init(tensor: String, method: String, threshold: Double, params: QuantParams, observedMax: Float,
                    nonNegative: Bool, binned: Int64, zeros: Int64, nonFinite: Int64, estimatedSQNR: Double) {
            self.tensor = tensor; self.method = method; self.threshold = threshold; self.params = params
            self.observedMax = observedMax; self.nonNegative = nonNegative; self.binned = binned
            self.zeros = zeros; self.nonFinite = nonFinite; self.estimatedSQNR = estimatedSQNR
        }
    }

    /// Entries sorted by tensor name (so the table's encoding is canonical).
    public private(set) var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries.sorted { $0.tensor < $1.tensor } }

    public subscript(_ tensor: String) -> Entry? { entries.first { $0.tensor == tensor } }
}
