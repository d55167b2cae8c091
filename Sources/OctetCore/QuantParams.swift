/// Affine quantization of a tensor: real = scale · (q − zeroPoint), q in the type's range.
public struct QuantParams: Hashable, Sendable, Codable {
    public var scale: Float
    public var zeroPoint: Int32
    /// Element type of q: `.uint8` for activations, `.int8` for weights, `.int32` for biases.
    public var dtype: DType

    public init(scale: Float, zeroPoint: Int32, dtype: DType) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.dtype = dtype
    }

    /// Activation parameters for clipping threshold `t` and the tensor's proven lower bound
    /// (`LowerBounds`; nil: none). Bound ≥ 0: u8 [0, 255] with zero point 0 (scale t/255).
    /// Bound −B < 0 (HardSwish, SiLU): u8 over [−min(B, t), t], 255 steps with the zero point
    /// where 0 falls (as ONNX Runtime's asymmetric activations). No bound: u8 with zero point 128
    /// and scale t/127 (symmetric, 128 levels per side). With `symmetric`, every tensor is s8
    /// with zero point 0 and scale t/127 (TensorRT's convention: it refuses non-zero zero
    /// points), which gives up one bit on non-negative tensors.
    public static func activation(threshold t: Double, lowerBound: Double?, symmetric: Bool = false) -> QuantParams {
        let safe = t > 0 && t.isFinite ? t : 1
        if symmetric { return QuantParams(scale: Float(safe / 127), zeroPoint: 0, dtype: .int8) }
        guard let bound = lowerBound, bound.isFinite else { return QuantParams(scale: Float(safe / 127), zeroPoint: 128, dtype: .uint8) }
        if bound >= 0 { return QuantParams(scale: Float(safe / 255), zeroPoint: 0, dtype: .uint8) }
        let low = max(bound, -safe)
        let scale = (safe - low) / 255
        let zeroPoint = min(max((-low / scale).rounded(.toNearestOrEven), 0), 255)
        return QuantParams(scale: Float(scale), zeroPoint: Int32(zeroPoint), dtype: .uint8)
    }

    /// q = clamp(round_half_even(x / scale) + zeroPoint) in u8: the ONNX QuantizeLinear definition.
    public func quantize(_ x: Float) -> UInt8 {
        let v = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        return UInt8(min(max(v.isNaN ? Float(zeroPoint) : v, 0), 255))
    }
}
