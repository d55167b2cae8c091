import OctetIR
import OctetPasses

/// What a calibration changes in the optimized FP32 graph before observing it, measured on its
/// statistics samples: cross-layer equalization (through the ReLU6 nodes that never clip) and
/// high-bias absorption (by each channel's mean − 3σ). The table's provenance records them,
/// so `quantize(_:table:)` rebuilds the same graph without any image: one rule for both.
public struct GraphAdjustments: Sendable, Equatable {
    /// nil: no equalization; else the ReLU6 nodes equalized through (turned into Relu).
    public var equalizedClips: [String]?
    /// nil: no absorption; else per convolution the amount moved out of its bias.
    public var absorbedBiases: [String: [Float]]?

    public init(equalizedClips: [String]? = nil, absorbedBiases: [String: [Float]]? = nil) {
        self.equalizedClips = equalizedClips
        self.absorbedBiases = absorbedBiases
    }

    /// `optimized` equalized, then with the biases absorbed.
    public func applied(to optimized: Graph) -> Graph {
        var g = optimized
        if let equalizedClips { g = CrossLayerEqualization.apply(g, unclipped: Set(equalizedClips)) }
        if let absorbedBiases { g = HighBiasAbsorption.apply(g, amounts: absorbedBiases) }
        return g
    }
}
