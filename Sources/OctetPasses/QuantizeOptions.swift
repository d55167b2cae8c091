/// How the quantize pass turns an FP32 graph into a QDQ graph.
public struct QuantizeOptions: Hashable, Sendable, Codable {
    /// One weight scale per output channel (else one per tensor).
    public var perChannelWeights: Bool
    /// 8, or 7 for CPUs without VNNI: `vpmaddubsw` adds two u8×s8 products into a saturating
    /// int16, and 255·127·2 = 64770 overflows it while 255·63·2 = 32130 does not. Octet keeps
    /// activations at 8 bits (their calibrated range is the scarce resource) and drops one bit of
    /// weights, whose per-channel scales already fit each channel's range (oneDNN does the same).
    public var weightBits: Int
    /// Choose each weight slice's clipping range by minimum squared error instead of max|w|.
    public var weightClipping: Bool = true
    /// Node names kept in FP32.
    public var excludedNodes: Set<String>
    /// ONNX op types kept in FP32 (e.g. "Gemm").
    public var excludedOpTypes: Set<String>

    public init(perChannelWeights: Bool = true, weightBits: Int = 8, excludedNodes: Set<String> = [],
                excludedOpTypes: Set<String> = []) {
        self.perChannelWeights = perChannelWeights
        self.weightBits = weightBits
        self.excludedNodes = excludedNodes
        self.excludedOpTypes = excludedOpTypes
    }

    /// Largest weight magnitude: 127, or 63 for 7-bit weights.
    public var weightMax: Int { (1 << (weightBits - 1)) - 1 }
}
