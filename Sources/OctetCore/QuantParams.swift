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

    /// Whether `s` can be a quantization scale: positive and finite (QuantizeLinear divides by it;
    /// a zero, negative, NaN or infinite scale gives no codes).
    public static func isValidScale(_ s: Float) -> Bool { s.isFinite && s > 0 }

    /// The codes `dtype` holds, or nil for a type that holds none (float32, int64).
    public static func codes(_ dtype: DType) -> ClosedRange<Int32>? {
        switch dtype {
        case .uint8: 0...255
        case .int8: -128...127
        case .int32: Int32.min...Int32.max
        case .float32, .int64: nil
        }
    }

    /// Why these parameters quantize nothing, or nil: a scale that is not positive and finite, a
    /// type that holds no codes, or a zero point outside its type (what an edited table can hold).
    public var problem: String? {
        guard Self.isValidScale(scale) else { return "scale \(scale) (scales must be positive and finite)" }
        guard let range = Self.codes(dtype) else { return "\(dtype) codes" }
        guard range.contains(zeroPoint) else { return "zero point \(zeroPoint) outside \(dtype)'s \(range.lowerBound)...\(range.upperBound)" }
        return nil
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
