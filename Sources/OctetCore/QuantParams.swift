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

    /// Activation parameters for clipping threshold `t`: a tensor proven non-negative uses
    /// u8 [0, 255] with zero point 0 (scale t/255); a signed one u8 with zero point 128 and
    /// scale t/127 (symmetric 128 levels per side). With `symmetric`, every tensor is s8 with zero
    /// point 0 and scale t/127 (TensorRT's convention: it refuses non-zero zero points), which
    /// gives up one bit on non-negative tensors.
    public static func activation(threshold t: Double, nonNegative: Bool, symmetric: Bool = false) -> QuantParams {
        let safe = t > 0 && t.isFinite ? t : 1
        if symmetric { return QuantParams(scale: Float(safe / 127), zeroPoint: 0, dtype: .int8) }
        return nonNegative
            ? QuantParams(scale: Float(safe / 255), zeroPoint: 0, dtype: .uint8)
            : QuantParams(scale: Float(safe / 127), zeroPoint: 128, dtype: .uint8)
    }

    /// q = clamp(round_half_even(x / scale) + zeroPoint) in u8: the ONNX QuantizeLinear definition.
    public func quantize(_ x: Float) -> UInt8 {
        let v = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        return UInt8(min(max(v.isNaN ? Float(zeroPoint) : v, 0), 255))
    }
}
