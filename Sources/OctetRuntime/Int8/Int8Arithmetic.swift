import OctetCore

/// The integer arithmetic of Octet's INT8 inference, written once as the specification every
/// fast kernel must match bit for bit.
///
/// - Convolution / Gemm accumulate `acc = bias_q + Σ (x_q − z_x) · w_q` in Int32 (padded taps
///   contribute 0, i.e. they hold the real value 0).
/// - Requantization to a u8 output: `q = clamp(rne(Float(acc) · M) + z_y, lo, hi)` with the Float
///   multiplier `M = (s_x · s_w) / s_y` computed in Float in that order (as ONNX Runtime's
///   QLinearConv does, so both engines requantize with the same M); `rne` rounds half to even
///   (what `vcvtps2dq` does). A fused Relu is `lo = z_y`; a fused Clip(a, b) is
///   `lo = Q(a), hi = Q(b)` (Q is monotonic, so this equals quantizing the clipped value).
/// - Add, in ONNX Runtime's form (MLAS QLinearAdd, its AVX2 kernel, which x86 machines with AVX2
///   run): `M_a = s_a / s_y`, `M_b = s_b / s_y` in Float, `c = Float(z_y) − fma(M_a, z_a, M_b · z_b)`,
///   `q = clamp(rne(fma(a_q, M_a, fma(b_q, M_b, c))))`.
/// - Average pooling: `q = clamp(rne(Float(Σ (x_q − z_x)) · M) + z_y)`, `M = s_x / (s_y · Float(n))`
///   in Float in that order (`averageMultiplier`, ONNX Runtime's QLinearGlobalAveragePool).
/// - Max pooling: the max of the u8 codes, then requantized if the output parameters differ.
public enum Int8Arithmetic {
    /// Float multiplier `(a·b)/c`, each operation rounded to Float (ONNX Runtime's order).
    public static func multiplier(_ a: Float, _ b: Float, over c: Float) -> Float {
        (a * b) / c
    }

    /// The multiplier of an average over `taps` codes: `s_x / (s_y · Float(taps))`, each operation
    /// rounded to Float, as ONNX Runtime's QLinearGlobalAveragePool computes it (MLAS
    /// `CheckQLinearGlobalAveragePoolScaleAndSize`). The correctly rounded `s_x / (s_y · taps)`
    /// can be an ulp away, enough to move a mean that lands within an ulp of a half (1 of 12,288
    /// squeeze codes of ONNX Runtime's MobileNetV3-Small file over 128 images).
    public static func averageMultiplier(inputScale: Float, outputScale: Float, taps: Int) -> Float {
        inputScale / (outputScale * Float(max(taps, 1)))
    }

    /// The constant of an Add: `Float(z_y) − fma(M_a, z_a, M_b·z_b)`. ONNX Runtime's source writes
    /// `z_y − (M_a·z_a + M_b·z_b)`, and its x86 build contracts the first product and the sum into
    /// one fused multiply-add; rounding `M_a·z_a` separately instead moves the constant by an ulp,
    /// enough to flip outputs whose sum lands within an ulp of a half (8 of 301,056 codes of a
    /// residual Add of ONNX Runtime's EfficientNet-B0 file).
    public static func addConstant(ma: Float, za: Int32, mb: Float, zb: Int32, zy: Int32) -> Float {
        let pb = mb * Float(zb)
        return Float(zy) - pb.addingProduct(ma, Float(za))
    }

    /// One Add output code before clamping: `rne(fma(a, M_a, fma(b, M_b, c)))`.
    @inline(__always)
    public static func add(_ a: UInt8, _ ma: Float, _ b: UInt8, _ mb: Float, constant c: Float) -> Int32 {
        toInt32(c.addingProduct(Float(b), mb).addingProduct(Float(a), ma))
    }

    /// One Mul output code: `clamp(rne(float(p) · m + float(z_y)) + offset, lo, hi)`, the zero
    /// point added in float before rounding, as ONNX Runtime's QLinearMul does (its SSE2 kernel:
    /// `mulps`, then `addps`, then `cvtps2dq`; no fused multiply-add). Where `p · m` lands within
    /// an ulp of a half this differs from `requantize` (which rounds first): with z_y = 128,
    /// 15.4999946 + 128 is 143.5 in float and rounds to 144. `z_y` is the zero point as the file
    /// writes it, so for int8 codes (which run shifted by 128) it is the signed one and `offset`
    /// is 128: the float sum then rounds as ONNX Runtime's int8 QLinearMul rounds it.
    @inline(__always)
    public static func product(_ p: Int32, _ m: Float, zeroPoint: Int32, offset: Int32 = 0, lo: Int32, hi: Int32) -> UInt8 {
        let scaled = Float(p) * m
        let v = toInt32(scaled + Float(zeroPoint)) &+ offset
        return UInt8(truncatingIfNeeded: min(max(v, lo), hi))
    }

    @inline(__always)
    public static func requantize(_ acc: Int32, _ m: Float, zeroPoint: Int32, lo: Int32, hi: Int32) -> UInt8 {
        let v = toInt32(Float(acc) * m) &+ zeroPoint
        return UInt8(truncatingIfNeeded: min(max(v, lo), hi))
    }

    /// rne(x) as Int32; NaN and values outside Int32 give Int32.min, as `vcvtps2dq` does.
    @inline(__always)
    public static func toInt32(_ x: Float) -> Int32 {
        let r = x.rounded(.toNearestOrEven)
        return r >= -2_147_483_648 && r < 2_147_483_648 ? Int32(r) : Int32.min
    }

    /// Q31 fixed-point form of a positive multiplier < 2^31: `m ≈ q31 · 2^(−31 − shift)`, the form
    /// integer-only requantization (gemmlowp, TFLite) uses. Octet's kernels use the Float form.
    public static func fixedPoint(_ m: Double) -> (q31: Int32, shift: Int) {
        guard m > 0, m.isFinite else { return (0, 0) }
        var shift = 0
        var f = m
        while f < 0.5 { f *= 2; shift += 1 }
        while f >= 1 { f /= 2; shift -= 1 }
        var q = (f * Double(1 << 31)).rounded()
        if q == Double(1 << 31) { q /= 2; shift -= 1 }
        return (Int32(q), shift)
    }
}
