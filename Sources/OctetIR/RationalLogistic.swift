/// The logistic function σ(x) = 1 / (1 + e^−x) as ONNX Runtime's x86 CPU kernels evaluate it:
/// Eigen's rational approximation on [−18, 18] (MLAS `MlasLogisticKernelFma3`, which every
/// machine with AVX2 runs: each polynomial step one fused multiply-add, then `p / q + 0.5`,
/// clamped to [0, 1]).
///
/// Octet evaluates a quantized Sigmoid (and SiLU's x·σ(x)) through this function, so its
/// 256-entry tables equal the codes ONNX Runtime writes for the same file. It is within 2e-7
/// of σ (three ulps of 0.5, which it adds last); where σ(x)/scale lands
/// that close to a half, it and the correctly rounded σ round to different codes (one entry of
/// the 65 Sigmoid tables of ONNX Runtime's EfficientNet-B0 file: 11 of 1,920 codes of one
/// squeeze-excitation gate). Plain Swift (`addingProduct` is IEEE fma), so every machine
/// computes the same bits.
public enum RationalLogistic {
    // Eigen's coefficients, as MLAS rounds them to Float.
    static let alpha: [Float] = [4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03,
                                 2.48287947061529e-01]
    static let beta: [Float] = [6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06, 1.70198817374094e-03,
                                1.16817656904453e-01, 9.93151921023180e-01]

    /// σ(x); NaN stays NaN.
    public static func evaluate(_ x: Float) -> Float {
        guard !x.isNaN else { return x }
        let v = Swift.min(Swift.max(x, -18), 18)
        let v2 = v * v
        var p = alpha[0]
        for a in alpha.dropFirst() { p = a.addingProduct(p, v2) }
        p = p * v
        var q = beta[0]
        for b in beta.dropFirst() { q = b.addingProduct(q, v2) }
        return Swift.min(Swift.max(p / q + 0.5, 0), 1)
    }
}
